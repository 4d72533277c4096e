import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenTestSupport
import Testing

/// The binary on the old role's own examples: a playbook in the shape its docs give, built with
/// the Debian publisher's root moved to a loopback server (the production mapping, another root),
/// and a URL nothing verifies, refused and then pinned on first use.
final class AnsibleLoopback: @unchecked Sendable {
    static let debianPath = "debian/bookworm/latest/debian-12-generic-amd64.qcow2"
    static let adminKey =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@example.com"
    static let homeKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPF9XZLDWUasQx7m+swcssVUf/eUt5HNgr1qtNzkMBo ops@laptop"

    let directory: TemporaryDirectory
    let server: FaultServer
    let catalog: URL
    let home: URL
    let www: URL

    init() throws {
        try requireTool("qemu-img")
        directory = try TemporaryDirectory(prefix: "seedgen-e2e-ansible")
        www = directory.path("www")
        let debian = www.appendingPathComponent(Self.debianPath)
        try FileManager.default.createDirectory(
            at: debian.deletingLastPathComponent(), withIntermediateDirectories: true)
        try runChecked("qemu-img", ["create", "-q", "-f", "qcow2", debian.path, "1G"])
        let sha512 = Digest.sha512Hex(try Data(contentsOf: debian))
        // The publisher's list names both of its files; only the role's `generic` one is served here.
        let listed =
            "\(String(repeating: "0", count: 128))  debian-12-genericcloud-amd64.qcow2\n\(sha512)  "
            + "debian-12-generic-amd64.qcow2\n"
        try Data(listed.utf8).write(to: debian.deletingLastPathComponent().appendingPathComponent("SHA512SUMS"))
        let other = www.appendingPathComponent("other/disk.qcow2")
        try FileManager.default.createDirectory(
            at: other.deletingLastPathComponent(), withIntermediateDirectories: true)
        try runChecked("qemu-img", ["create", "-q", "-f", "qcow2", other.path, "1G"])
        server = try FaultServer(root: www)
        catalog = try directory.write(
            "catalog.yaml",
            """
            publishers:
              debian:
                root: \(server.url("debian/").absoluteString)
                checksums: SHA512SUMS
                digest: sha512
            """)
        home = directory.path("home")
        _ = try directory.write("home/.ssh/id_rsa.pub", Self.homeKey + "\n")
    }

    func environment() -> [String: String] { buildEnvironment(["HOME": home.path]) }

    /// The role's documented task, a task of another role, and the play's shared variables.
    func writePlaybook(in folder: String) throws -> URL {
        try directory.write(
            "\(folder)/site.yml",
            """
            - name: Provision VMs on the lab node
              hosts: pve01
              gather_facts: false
              vars:
                proxmox_vm_node: pve01
                proxmox_disk_storage: local-lvm
              tasks:
                - name: Create VM with SSH access
                  include_role:
                    name: proxmox
                  vars:
                    proxmox_operation: create_vm
                    proxmox_vm_name: secure-vm
                    proxmox_vm_vmid: 202
                    proxmox_vm_node: pve01
                    proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['debian-12'] }}"
                    proxmox_vm_cloud_init_ssh_keys:
                      - "{{ lookup('file', '~/.ssh/id_rsa.pub') }}"
                      - "\(Self.adminKey)"
                - name: Configure monitoring
                  ansible.builtin.include_role:
                    name: monitoring
            """)
    }
}

@Suite struct AnsibleMigrationBuildTests {
    @Test func theRolesDocumentedPlaybookBuilds() throws {
        let fixture = try AnsibleLoopback()
        let playbook = try fixture.writePlaybook(in: "ansible")
        let output = fixture.directory.path("out")
        let result = try seedgen(
            [
                "build", playbook.path, "--json", "--progress", "none", "-o", output.path, "--cache",
                fixture.directory.path("cache").path,
                "--catalog", fixture.catalog.path,
            ], environment: fixture.environment())
        try #require(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let report = try BuildJSON.decode(result)
        #expect(report.vms.map(\.name) == ["secure-vm"])
        #expect(report.vms.first?.imageVerification == "digest-pinned, unsigned")
        #expect(report.vms.first?.file == playbook.path)
        #expect(
            result.stderr.contains(
                "site.yml:20:7: note: skipped: task 'Configure monitoring' includes role 'monitoring', not proxmox"),
            "\(result.stderr)")
        let requested = try fixture.server.requests().map(\.path)
        #expect(
            requested.contains("/debian/bookworm/latest/SHA512SUMS")
                && requested.contains("/" + AnsibleLoopback.debianPath))

        // cloud-init itself checks what the keys became: the image's default user gets both.
        try requireTool("cloud-init")
        let userData = output.appendingPathComponent("secure-vm/user-data")
        let schema = try ProcessRunner.run("cloud-init", ["schema", "--config-file", userData.path])
        #expect(schema.exitCode == 0, "cloud-init schema: \(schema.stdout)\(schema.stderr)")
        let read = try ProcessRunner.run(
            "/usr/bin/python3",
            [
                "-c",
                """
                import json, sys, yaml
                config = yaml.safe_load(open(sys.argv[1]))
                print(json.dumps({"keys": config.get("ssh_authorized_keys"), "users": config.get("users")}))
                """, userData.path,
            ])
        try #require(read.exitCode == 0, "\(read.stderr)")
        let view = try JSONSerialization.jsonObject(with: read.stdoutData) as? [String: Any]
        #expect(view?["keys"] as? [String] == [AnsibleLoopback.homeKey, AnsibleLoopback.adminKey])
        #expect((view?["users"] as? [Any])?.first as? String == "default")
        let plan = try String(contentsOf: output.appendingPathComponent("secure-vm/plan.json"), encoding: .utf8)
        #expect(plan.contains("local-lvm"))
    }

    @Test func aPlaybookConvertsToVMFilesThatValidate() throws {
        let fixture = try AnsibleLoopback()
        let playbook = try fixture.writePlaybook(in: "ansible")
        let vms = fixture.directory.path("vms")
        let converted = try seedgen(["convert", playbook.path, "-o", vms.path], environment: fixture.environment())
        try #require(converted.exitCode == 0, "\(converted.stderr)")
        #expect(converted.stdout == "wrote \(vms.path)/secure-vm.yaml\n")
        #expect(converted.stderr.contains("note: skipped: task 'Configure monitoring'"))
        let text = try String(contentsOf: vms.appendingPathComponent("secure-vm.yaml"), encoding: .utf8)
        #expect(
            text.contains("url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2"),
            "\(text)")
        #expect(text.contains(AnsibleLoopback.homeKey))
        let validated = try seedgen(
            ["validate", vms.appendingPathComponent("secure-vm.yaml").path], environment: fixture.environment())
        #expect(validated.exitCode == 0, "\(validated.stdout)\(validated.stderr)")
        // Printing needs exactly one VM; the existing `convert vars.yml` keeps printing.
        let printed = try seedgen(["convert", playbook.path], environment: fixture.environment())
        #expect(printed.exitCode == 0 && printed.stdout.contains("name: secure-vm"), "\(printed.stderr)")
        let vars = try fixture.directory.write(
            "vars.yml",
            "proxmox_operation: create_vm\nproxmox_vm_name: legacy01\nproxmox_vm_vmid: "
                + "9301\nproxmox_vm_cloud_image_url: \"{{ proxmox_cloud_image_urls['ubuntu-24.04'] }}\"\n"
        )
        let fromVars = try seedgen(["convert", vars.path], environment: fixture.environment())
        #expect(fromVars.exitCode == 0, "\(fromVars.stderr)")
        #expect(
            fromVars.stdout.contains(
                "url: https://cloud-images.ubuntu.com/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img"))
    }

    @Test func imageFetchOfAPublisherURLUsesThePublishersList() throws {
        let fixture = try AnsibleLoopback()
        let cache = fixture.directory.path("cache")
        let url = fixture.server.url(AnsibleLoopback.debianPath).absoluteString
        let fetched = try seedgen(
            ["image", "fetch", url, "--catalog", fixture.catalog.path, "--cache", cache.path, "--progress", "none"],
            environment: fixture.environment())
        try #require(fetched.exitCode == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains("digest-pinned, unsigned"), "\(fetched.stdout)")
        #expect(try fixture.server.requests().map(\.path).contains("/debian/bookworm/latest/SHA512SUMS"))
        let list = try seedgen(
            ["image", "list", "--catalog", fixture.catalog.path, "--cache", cache.path],
            environment: fixture.environment())
        #expect(
            list.stdout.contains(
                "\(fixture.server.url("debian/").absoluteString)\n      trust: SHA512SUMS (gnu, sha512) beside the "
                    + "image, unsigned"
            ), "\(list.stdout)")
    }

    @Test func otherOperationsAndOtherJinjaExitTwoWithPositions() throws {
        let fixture = try AnsibleLoopback()
        let vars = try fixture.directory.write(
            "vars.yml",
            """
            proxmox_operation: start_vm
            proxmox_vm_name: "{{ inventory_hostname }}"
            proxmox_vm_vmid: 9301
            """)
        let output = fixture.directory.path("out")
        let result = try seedgen(
            ["build", vars.path, "-o", output.path, "--progress", "none"], environment: fixture.environment())
        #expect(result.exitCode == 2)
        #expect(
            result.stderr.contains("vars.yml:1:20: error: proxmox_operation: seedgen only creates VMs"),
            "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "vars.yml:2:18: error: proxmox_vm_name: Jinja expressions are not evaluated by seedgen (seedgen reads "
                    + "only {{ proxmox_cloud_image_urls['NAME'] }}"
            ), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test func aURLNothingVerifiesIsRefusedThenPinnedOnFirstUse() throws {
        let fixture = try AnsibleLoopback()
        let url = fixture.server.url("other/disk.qcow2").absoluteString
        let vars = try fixture.directory.write(
            "lab/vars.yml",
            """
            proxmox_operation: create_vm
            proxmox_vm_name: lab01
            proxmox_vm_vmid: 9401
            proxmox_vm_cloud_image_url: \(url)
            """)
        let cache = fixture.directory.path("cache")
        let output = fixture.directory.path("out")
        let common = ["--progress", "none", "--cache", cache.path]
        let refused = try seedgen(["build", vars.path, "-o", output.path] + common, environment: fixture.environment())
        #expect(refused.exitCode == 2)
        #expect(
            refused.stderr.contains(
                "vars.yml:4:29: error: proxmox_vm_cloud_image_url: nothing verifies \(url)"), "\(refused.stderr)")
        #expect(
            refused.stderr.contains(
                "(add proxmox_vm_cloud_image_checksum (sha256:HEX, sha512:HEX or sha256:URL of a checksum list), or "
                    + "pin it once with `seedgen image lock \(vars.path) --trust-on-first-use`)"
            ), "\(refused.stderr)")
        #expect(try fixture.server.requests().isEmpty)

        let lockedWithoutFlag = try seedgen(["image", "lock", vars.path] + common, environment: fixture.environment())
        #expect(lockedWithoutFlag.exitCode == 2)
        let locked = try seedgen(
            ["image", "lock", vars.path, "--trust-on-first-use"] + common, environment: fixture.environment())
        try #require(locked.exitCode == 0, "\(locked.stderr)")
        #expect(locked.stdout.contains("(pinned on first use, unsigned)"), "\(locked.stdout)")
        let lockfile = try ImageLockfile.read(fixture.directory.path("lab/seedgen.lock"))
        let entry = try #require(lockfile.images[url])
        #expect(entry.trust == "first-use")
        #expect(
            entry.sha256
                == Digest.sha256Hex(try Data(contentsOf: fixture.www.appendingPathComponent("other/disk.qcow2"))))

        let built = try seedgen(
            ["build", vars.path, "-o", output.path, "--json"] + common, environment: fixture.environment())
        try #require(built.exitCode == 0, "\(built.stderr)")
        #expect(try BuildJSON.decode(built).vms.first?.imageVerification == "pinned on first use, unsigned")
        let table = try seedgen(["build", vars.path, "-o", output.path] + common, environment: fixture.environment())
        #expect(table.stderr.contains("pinned on first use, unsigned"), "\(table.stderr)")
        let list = try seedgen(["image", "list", "--cached"] + common, environment: fixture.environment())
        #expect(list.stdout.contains("pinned on first use, unsigned"), "\(list.stdout)")

        // From then on every build demands that digest: other bytes at the URL fail the VM.
        try FileManager.default.removeItem(at: fixture.www.appendingPathComponent("other/disk.qcow2"))
        try runChecked(
            "qemu-img",
            ["create", "-q", "-f", "qcow2", fixture.www.appendingPathComponent("other/disk.qcow2").path, "2G"])
        let changed = try seedgen(
            [
                "build", vars.path, "-o", fixture.directory.path("out2").path, "--progress", "none", "--cache",
                fixture.directory.path("cache2").path,
            ],
            environment: fixture.environment())
        #expect(changed.exitCode == 1)
        #expect(changed.stderr.contains("(from seedgen.lock)"), "\(changed.stderr)")
    }
}
