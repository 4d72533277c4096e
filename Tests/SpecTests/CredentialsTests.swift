import Foundation
import SeedgenSpec
import SeedgenTestSupport
import Testing

@Suite struct CredentialsTests {
    @Test func passwordFileIsHashedWithSHA512CryptThatOpenSSLAgreesWith() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              users:
                - { name: ops, password_file: secrets/pass }
            """, extraFiles: ["secrets/pass": "s3cret pa$$ word\n"])
        let spec = try #require(try fixture.load().get().first)
        let hash = try #require(spec.cloudInit.users.first?.passwordHash)
        #expect(hash.hasPrefix("$6$"))
        #expect(PasswordHash.scheme(of: hash) == .sha512)
        #expect(!hash.contains("s3cret"))
        // A real consumer recomputes it: openssl with the same salt must produce the same hash.
        #expect(ProcessRunner.isInstalled("openssl"), "openssl is needed (scripts/install-deps.sh)")
        let salt = hash.split(separator: "$")[1]
        let openssl = try ProcessRunner.run(
            "openssl", ["passwd", "-6", "-salt", String(salt), "-stdin"], stdin: Data("s3cret pa$$ word".utf8))
        #expect(openssl.exitCode == 0)
        #expect(openssl.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hash)
        // Reproducible: the same input gives the same hash.
        #expect(try fixture.load().get().first?.cloudInit.users.first?.passwordHash == hash)
    }

    @Test func passwordEnvIsHashedAndAMissingVariableIsAnError() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              users:
                - { name: ops, password_env: ⟨env⟩OPS_PASSWORD }
            """)
        let ok = try fixture.load(environment: ["OPS_PASSWORD": "from-env"]).get()
        #expect(ok.first?.cloudInit.users.first?.passwordHash?.hasPrefix("$6$") == true)
        fixture.expectError(
            "env", keyPath: "cloud_init.users[0].password_env", contains: "OPS_PASSWORD is not set", in: fixture.load())
    }

    @Test func inlinePlaintextIsRefused() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              users:
                - name: ops
                  ⟨pw⟩password: hunter2
            """)
        let result = fixture.load()
        fixture.expectError(
            "pw", keyPath: "cloud_init.users[0].password", contains: "plaintext password inline", in: result)
        #expect(
            !result.diagnostics.map(\.description).joined().contains("hunter2"), "the plaintext must not be echoed back"
        )
    }

    @Test func badHashAndBadKeysAreReported() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              users:
                - name: ops
                  password_hash: ⟨hash⟩"$6$short"
                  ssh_authorized_keys:
                    - ⟨notakey⟩"hello world"
                    - ⟨mismatch⟩"ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x"
                    - ⟨b64⟩"ssh-rsa !!!notbase64"
                  ssh_authorized_keys_file: ⟨file⟩missing.pub
            """)
        let result = fixture.load()
        fixture.expectError(
            "hash", keyPath: "cloud_init.users[0].password_hash", contains: "not a crypt password hash", in: result)
        fixture.expectError(
            "notakey", keyPath: "cloud_init.users[0].ssh_authorized_keys[0]", contains: "no known key type", in: result)
        fixture.expectError(
            "mismatch", keyPath: "cloud_init.users[0].ssh_authorized_keys[1]",
            contains: "ssh-rsa key but the line says ssh-ed25519", in: result)
        fixture.expectError(
            "b64", keyPath: "cloud_init.users[0].ssh_authorized_keys[2]", contains: "not valid base64", in: result)
        fixture.expectError(
            "file", keyPath: "cloud_init.users[0].ssh_authorized_keys_file", contains: "file not found", in: result)
    }

    @Test func keysFromAFileAreValidatedLineByLine() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              users:
                - { name: ops, ssh_authorized_keys_file: ⟨file⟩keys.pub }
            """, extraFiles: ["keys.pub": "# team keys\n\(validKey)\n\nssh-ed25519 AAAA broken\n"])
        let result = fixture.load()
        fixture.expectError(
            "file", keyPath: "cloud_init.users[0].ssh_authorized_keys_file", contains: "line 4", in: result)
    }

    @Test func realPublicKeysPassThePublicKeyCheck() throws {
        #expect(ProcessRunner.isInstalled("ssh-keygen"), "ssh-keygen (openssh-client) is needed")
        let directory = try TemporaryDirectory()
        for type in ["ed25519", "rsa", "ecdsa"] {
            let key = directory.path("id_\(type)")
            let made = try ProcessRunner.run(
                "ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "test key", "-f", key.path])
            #expect(made.exitCode == 0)
            let line = try String(contentsOf: key.appendingPathExtension("pub"), encoding: .utf8).trimmingCharacters(
                in: .newlines)
            #expect(SSHPublicKey.problem(with: line) == nil, "\(type): \(line)")
        }
    }
}
