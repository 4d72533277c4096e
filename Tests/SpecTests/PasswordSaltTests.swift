import Foundation
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// The `$6$` salt carries nothing about the password: it comes from the VM, the user and an
/// optional site key, so a seed ISO gives no fast way to test password guesses.
@Suite struct PasswordSaltTests {
    /// The hash seedgen makes for `password` of user `user` on VM `vmid`, via a vm.yaml like a user's.
    func hash(password: String, vmid: Int = 100, user: String = "ops", environment: [String: String] = [:]) throws
        -> String
    {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: \(vmid)
            cloud_init:
              users:
                - { name: \(user), password_file: secrets/pass }
            """, extraFiles: ["secrets/pass": password + "\n"])
        let spec = try #require(try fixture.load(environment: environment).get().first)
        return try #require(spec.cloudInit.users.first?.passwordHash)
    }

    func salt(of hash: String) -> String { String(hash.split(separator: "$")[1]) }

    @Test func twoBuildsThatDifferOnlyInThePasswordHaveTheSameSalt() throws {
        let first = try hash(password: "correct horse")
        let second = try hash(password: "battery staple")
        #expect(first != second)
        #expect(salt(of: first) == salt(of: second))
        #expect(salt(of: first).count == 16, "16 salt characters, the most $6$ uses")
    }

    @Test func theSaltIsNotAFunctionOfThePassword() throws {
        let passwords = ["a", "hunter2", "pässwörd", String(repeating: "x", count: 200), "s3cret pa$$ word"]
        let salts = Set(try passwords.map { salt(of: try hash(password: $0)) })
        #expect(salts.count == 1, "one salt for every password: \(salts)")
        // …and the same salt libcrypt gets from the non-secret inputs alone.
        let fromPublicInputs = PasswordHash.saltBytes(vmid: 100, user: "ops", siteKey: nil)
        #expect(fromPublicInputs == PasswordHash.saltBytes(vmid: 100, user: "ops", siteKey: nil))
        let direct = try PasswordHash.sha512Crypt("anything", vmid: 100, user: "ops")
        #expect(salts.first == salt(of: direct))
    }

    @Test func differentVMsAndUsersGetDifferentSaltsForOnePassword() throws {
        let base = try hash(password: "shared")
        let otherVM = try hash(password: "shared", vmid: 101)
        let otherUser = try hash(password: "shared", user: "admin")
        #expect(Set([salt(of: base), salt(of: otherVM), salt(of: otherUser)]).count == 3)
        #expect(Set([base, otherVM, otherUser]).count == 3)
        // Reproducible: the same inputs give the same bytes.
        #expect(try hash(password: "shared") == base)
    }

    @Test func aSiteKeyChangesEverySaltReproducibly() throws {
        let directory = try TemporaryDirectory()
        let keyA = try directory.write("a.key", "0123456789abcdef-site-a")
        let keyB = try directory.write("b.key", "0123456789abcdef-site-b")
        let plain = try hash(password: "shared")
        let siteA = try hash(password: "shared", environment: ["SEEDGEN_SALT_KEY_FILE": keyA.path])
        let siteB = try hash(password: "shared", environment: ["SEEDGEN_SALT_KEY_FILE": keyB.path])
        #expect(Set([salt(of: plain), salt(of: siteA), salt(of: siteB)]).count == 3)
        #expect(try hash(password: "shared", environment: ["SEEDGEN_SALT_KEY_FILE": keyA.path]) == siteA)
        #expect(
            salt(of: try hash(password: "other", environment: ["SEEDGEN_SALT_KEY_FILE": keyA.path])) == salt(of: siteA))
    }

    @Test func aMissingOrShortSiteKeyIsAnError() throws {
        let directory = try TemporaryDirectory()
        let short = try directory.write("short.key", "tooshort")
        let fixture = try SpecFixture("name: a\nvmid: 100\n")
        for (path, message) in [(short.path, "only 8 bytes"), (directory.path("none.key").path, "file not found")] {
            let result = fixture.load(environment: ["SEEDGEN_SALT_KEY_FILE": path])
            #expect(result.hasErrors)
            #expect(result.diagnostics.count == 1)
            #expect(result.diagnostics.first?.message.contains(message) == true, "\(result.diagnostics)")
            #expect(result.diagnostics.first?.message.contains(path) == true)
        }
    }

    @Test func opensslAndPythonCryptAcceptTheHashes() throws {
        #expect(ProcessRunner.isInstalled("openssl"), "openssl is needed (scripts/install-deps.sh)")
        let directory = try TemporaryDirectory()
        let key = try directory.write("site.key", "a site key of more than sixteen bytes")
        for (password, environment) in [
            ("s3cret pa$$ word", [String: String]()), ("ünïcode", ["SEEDGEN_SALT_KEY_FILE": key.path]),
        ] {
            let made = try hash(password: password, environment: environment)
            let openssl = try ProcessRunner.run(
                "openssl", ["passwd", "-6", "-salt", salt(of: made), "-stdin"], stdin: Data(password.utf8))
            #expect(openssl.exitCode == 0)
            #expect(openssl.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == made)
            // Python's crypt calls the system's crypt(3), as a login does: hashing the password with
            // the stored hash as setting must give the stored hash back.
            let script = "import crypt, sys; h = sys.argv[1]; print(crypt.crypt(sys.stdin.read(), h) == h)"
            let python = try ProcessRunner.run(
                "/usr/bin/python3", ["-W", "ignore", "-c", script, made], stdin: Data(password.utf8))
            #expect(
                python.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "True",
                "\(python.stdout)\(python.stderr)")
            let wrong = try ProcessRunner.run(
                "/usr/bin/python3", ["-W", "ignore", "-c", script, made], stdin: Data("wrong".utf8))
            #expect(wrong.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "False")
        }
    }
}
