import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// extends:, Ansible variables, and checks across the files of one run.
@Suite struct ComposeTests {
    @Test func extendsMergesMapsAndReplacesLists() throws {
        let fixture = try SpecFixture(
            """
            extends: base/defaults.yaml
            name: db01
            vmid: 9201
            tags: [db, primary]
            hardware:
              memory: 16G
            """,
            extraFiles: [
                "base/defaults.yaml": """
                extends: root.yaml
                tags: [base]
                hardware: { cores: 4, memory: 8G }
                cloud_init:
                  users: [{ name: dba, ssh_authorized_keys_file: ../keys.pub }]
                """,
                "base/root.yaml": "node: pve01\nhardware: { sockets: 2 }\n",
                "keys.pub": validKey + "\n",
            ])
        let spec = try #require(try fixture.load().get().first)
        #expect(spec.tags == ["db", "primary"])
        #expect(spec.hardware.cores == 4)
        #expect(spec.hardware.sockets == 2)
        #expect(spec.hardware.memory == .gibibytes(16))
        #expect(spec.node == "pve01")
        // Paths in a base file are relative to that base file.
        #expect(spec.cloudInit.users.first?.sshAuthorizedKeys == [validKey])
    }

    @Test func extendsCycleAndMissingBaseArePositioned() throws {
        let fixture = try SpecFixture(
            "name: a\nvmid: 100\nextends: b.yaml\n", name: "a.yaml", extraFiles: ["b.yaml": "extends: a.yaml\n"])
        // The error sits on the link that closes the cycle: b.yaml's extends.
        let cycle = try #require(
            fixture.load().diagnostics.first { $0.message.contains("extends cycle: a.yaml → b.yaml → a.yaml") })
        #expect(cycle.location == SourceLocation(file: fixture.directory.path("b.yaml").path, line: 1, column: 10))
        let missing = try SpecFixture("name: a\nvmid: 100\nextends: ⟨base⟩nope.yaml\n")
        missing.expectError("base", keyPath: "extends", contains: "base file not found", in: missing.load())
    }

    @Test func errorsInABaseFilePointAtTheBaseFile() throws {
        let fixture = try SpecFixture(
            "extends: base.yaml\nname: a\nvmid: 100\n", extraFiles: ["base.yaml": "hardware:\n  cores: many\n"])
        let result = fixture.load()
        let error = try #require(result.diagnostics.first { $0.keyPath == "hardware.cores" })
        #expect(error.location?.file.hasSuffix("base.yaml") == true)
        #expect(error.location?.line == 2)
    }

    @Test func ansibleVariablesAreReadAsVMFiles() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: legacy01
            proxmox_vm_vmid: 9301
            proxmox_vm_cloud_image_url: https://images.example.invalid/noble.img
            proxmox_vm_cloud_image_checksum: "sha256:\(String(repeating: "ab", count: 32))"
            proxmox_vm_cloud_init_user: ubuntu
            proxmox_vm_cloud_init_ssh_keys: "\(validKey)"
            proxmox_vm_cloud_init_ip: 192.0.2.30/24
            proxmox_vm_cloud_init_gw: 192.0.2.1
            proxmox_vm_cloud_init_dns: "1.1.1.1,8.8.8.8"
            proxmox_vm_cloud_init_domain: example.com
            proxmox_disk_storage: local-zfs
            """, name: "vars.yml")
        let spec = try #require(try fixture.load().get().first)
        #expect(spec.name == "legacy01")
        #expect(spec.vmid == 9301)
        #expect(spec.image?.sha256 == String(repeating: "ab", count: 32))
        #expect(spec.cloudInit.users.first?.name == "ubuntu")
        #expect(spec.cloudInit.users.first?.sshAuthorizedKeys == [validKey])
        #expect(spec.network.interfaces.first?.ipv4 == .static(address: "192.0.2.30", prefix: 24))
        #expect(spec.network.interfaces.first?.gateway4 == "192.0.2.1")
        #expect(spec.network.nameservers == ["1.1.1.1", "8.8.8.8"])
        #expect(spec.network.search == ["example.com"])
        #expect(spec.hardware.disk.storage == "local-zfs")
        #expect(spec.fqdn == "legacy01.example.com")
    }

    @Test func convertedAnsibleFileLoadsAsTheSameVM() throws {
        let vars = TestPaths.samples.appendingPathComponent("ansible-vars.yml").path
        let converted = try SpecLoader.standard().convertedDocument(vars)
        #expect(converted.warnings.contains { $0.keyPath == "proxmox_vm_import_disk_format" })
        // Written beside the samples' relative paths (keys/ops.pub) so they resolve the same way.
        let copy = TestPaths.samples.appendingPathComponent(".converted-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: copy) }
        try Data(converted.document.utf8).write(to: copy)
        var original = try SpecLoader.standard().load(vars)
        var roundTrip = try SpecLoader.standard().load(copy.path)
        original.sourceFile = ""
        roundTrip.sourceFile = ""
        original.locations = [:]
        roundTrip.locations = [:]
        #expect(original == roundTrip)
    }

    @Test func ansiblePlaintextPasswordAndUnknownVariables() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: legacy01
            proxmox_vm_vmid: 9301
            proxmox_vm_cloud_init_password: ⟨pw⟩hunter2
            ⟨typo⟩proxmox_vm_cloud_init_usr: ubuntu
            """, name: "vars.yml")
        let result = fixture.load()
        fixture.expectError("pw", keyPath: "proxmox_vm_cloud_init_password", contains: "plaintext password", in: result)
        fixture.expectError(
            "typo", keyPath: "proxmox_vm_cloud_init_usr", contains: "unknown Ansible variable", in: result)
        #expect(result.diagnostics.contains { $0.allowed == "did you mean 'proxmox_vm_cloud_init_user'?" })
    }

    @Test func duplicatesAcrossFilesAreReportedAtBothPlaces() throws {
        let directory = try TemporaryDirectory()
        let a = try directory.write(
            "a.yaml",
            "name: web01\nvmid: 9001\nnetwork:\n  interfaces:\n    - { mac: 'BC:24:11:00:00:01', ipv4: dhcp }\n")
        let b = try directory.write(
            "b.yaml",
            "name: web02\nvmid: 9001\nnetwork:\n  interfaces:\n    - { mac: 'BC:24:11:00:00:01', ipv4: dhcp }\n")
        let result = SpecLoader().loadAll([a.path, b.path])
        let vmidErrors = result.diagnostics.filter { $0.message.contains("duplicate VMID 9001") }
        #expect(Set(vmidErrors.compactMap { $0.location?.file }) == [a.path, b.path])
        #expect(vmidErrors.allSatisfy { $0.location?.line == 2 })
        let macErrors = result.diagnostics.filter { $0.message.contains("duplicate MAC") }
        #expect(macErrors.count == 2)
    }

    @Test func everySampleIsValid() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: TestPaths.samples.path)
            .filter {
                ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasSuffix("defaults.yaml")
                    && !$0.hasPrefix("files/")
            }
            .map { TestPaths.samples.appendingPathComponent($0).path }
        #expect(files.count >= 8)
        let result = SpecLoader.standard().loadAll(files)
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.description).joined(separator: "\n"))")
        #expect(result.specs.count == files.count)
    }
}
