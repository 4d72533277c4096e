import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// The old role's own idioms: `proxmox_operation`, its image names and key lookups, file:// and
/// publisher URLs, URLs nothing verifies, and whole playbooks in the shapes its docs give.
@Suite struct AnsibleMigrationTests {
    static let otherKey =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@example.com"
    static let digest = String(repeating: "ab", count: 32)

    func errors(_ result: SpecLoader.Result) -> String { result.diagnostics.map(\.description).joined(separator: "\n") }

    // MARK: proxmox_operation

    @Test func createVMOperationIsAccepted() throws {
        let fixture = try SpecFixture(
            """
            proxmox_operation: create_vm
            proxmox_vm_name: secure-vm
            proxmox_vm_vmid: 202
            proxmox_vm_cloud_image_url: https://images.example.invalid/noble.img
            proxmox_vm_cloud_image_checksum: "sha256:\(Self.digest)"
            """, name: "vars.yml")
        let result = fixture.load()
        #expect(!result.hasErrors, "\(errors(result))")
        #expect(result.specs.first?.name == "secure-vm")
    }

    @Test func anyOtherOperationIsAPositionedError() throws {
        let fixture = try SpecFixture(
            """
            proxmox_operation: ⟨op⟩delete_vm
            proxmox_vm_name: secure-vm
            proxmox_vm_vmid: 202
            """, name: "vars.yml")
        let result = fixture.load()
        fixture.expectError("op", keyPath: "proxmox_operation", contains: "seedgen only creates VMs", in: result)
        #expect(result.diagnostics.contains { $0.message.contains("'delete_vm'") })
    }

    // MARK: The two Jinja forms

    @Test func roleImageNamesAreTheRoleURLsVerifiedByTheirPublisher() throws {
        let forms = [
            (
                "{{ proxmox_cloud_image_urls['debian-12'] }}",
                "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2"
            ),
            (
                "{{proxmox_cloud_image_urls[\"ubuntu-24.04\"]}}",
                "https://cloud-images.ubuntu.com/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img"
            ),
            (
                "{{ proxmox_cloud_image_urls.ubuntu-22.04 }}",
                "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
            ),
            (
                "{{ proxmox_cloud_image_urls['debian-11'] }}",
                "https://cloud.debian.org/images/cloud/bullseye/latest/debian-11-generic-amd64.qcow2"
            ),
        ]
        for (expression, url) in forms {
            let fixture = try SpecFixture(
                """
                proxmox_vm_name: web01
                proxmox_vm_vmid: 9001
                proxmox_vm_cloud_image_url: "\(expression.replacingOccurrences(of: "\"", with: "\\\""))"
                """, name: "vars.yml")
            let result = fixture.load()
            #expect(!result.hasErrors, "\(expression): \(errors(result))")
            #expect(result.specs.first?.image?.url?.absoluteString == url, "\(expression)")
            #expect(result.specs.first?.image?.sha256 == nil)
        }
    }

    @Test func otherCatalogNamesAreCatalogImagesAndUnknownNamesArePositioned() throws {
        let catalogName = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['almalinux-9'] }}"
            """, name: "vars.yml")
        let loaded = catalogName.load()
        #expect(!loaded.hasErrors, "\(errors(loaded))")
        #expect(loaded.specs.first?.image?.catalogName == "almalinux-9")

        let unknown = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: ⟨url⟩"{{ proxmox_cloud_image_urls['debian-21'] }}"
            """, name: "vars.yml")
        let result = unknown.load()
        unknown.expectError(
            "url", keyPath: "proxmox_vm_cloud_image_url", contains: "has no image 'debian-21'", in: result)
    }

    @Test func lookupFileReadsTheKeyFileRelativeToTheFile() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['debian-12'] }}"
            proxmox_vm_cloud_init_ssh_keys:
              - "{{ lookup('file', 'keys/ops.pub') }}"
              - "\(Self.otherKey)"
              - ⟨missing⟩"{{ lookup(\\"file\\", \\"keys/absent.pub\\") }}"
            """, name: "vars.yml", extraFiles: ["keys/ops.pub": validKey + "\n"])
        let result = fixture.load()
        fixture.expectError(
            "missing", keyPath: "proxmox_vm_cloud_init_ssh_keys", contains: "key file not found", in: result)

        let good = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_init_user: ops
            proxmox_vm_cloud_init_ssh_keys:
              - "{{ lookup('ansible.builtin.file', 'keys/ops.pub') }}"
              - "\(Self.otherKey)"
            """, name: "vars.yml", extraFiles: ["keys/ops.pub": "# team key\n" + validKey + "\n"])
        let loaded = good.load()
        #expect(!loaded.hasErrors, "\(errors(loaded))")
        #expect(loaded.specs.first?.cloudInit.users.first?.sshAuthorizedKeys == [validKey, Self.otherKey])
    }

    @Test func keysWithoutAUserGoToTheImagesDefaultUser() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_init_ssh_keys:
              - "{{ lookup('file', 'ops.pub') }}"
              - ⟨bad⟩"ssh-rsa AAAAB3... admin@example.com"
            """, name: "vars.yml", extraFiles: ["ops.pub": validKey + "\n"])
        let result = fixture.load()
        fixture.expectError(
            "bad", keyPath: "proxmox_vm_cloud_init_ssh_keys", contains: "invalid OpenSSH public key", in: result)

        let good = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_init_ssh_keys: "{{ lookup('file', 'ops.pub') }}"
            """, name: "vars.yml", extraFiles: ["ops.pub": validKey + "\n"])
        let loaded = good.load()
        #expect(!loaded.hasErrors, "\(errors(loaded))")
        let spec = try #require(loaded.specs.first)
        #expect(spec.cloudInit.users.isEmpty)
        #expect(spec.cloudInit.keepDefaultUser)
        #expect(spec.cloudInit.extra == .map([("ssh_authorized_keys", .list([.string(validKey)]))]))
    }

    @Test func everyOtherJinjaExpressionIsAPositionedErrorNamingTheTwoForms() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: ⟨name⟩"{{ inventory_hostname }}"
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: ⟨url⟩"{{ my_images['debian-12'] }}"
            proxmox_vm_cloud_init_ssh_keys:
              - "\(Self.otherKey)"
              - ⟨key⟩"{{ admin_key }}"
            proxmox_vm_tags:
              - web
              - ⟨tag⟩"{% if prod %}prod{% endif %}"
            """, name: "vars.yml")
        let result = fixture.load()
        fixture.expectError(
            "name", keyPath: "proxmox_vm_name", contains: "Jinja expressions are not evaluated", in: result)
        fixture.expectError(
            "url", keyPath: "proxmox_vm_cloud_image_url", contains: "Jinja expressions are not evaluated", in: result)
        fixture.expectError(
            "key", keyPath: "proxmox_vm_cloud_init_ssh_keys", contains: "Jinja expressions are not evaluated",
            in: result)
        fixture.expectError(
            "tag", keyPath: "proxmox_vm_tags", contains: "Jinja expressions are not evaluated", in: result)
        let jinja = result.diagnostics.filter { $0.message.contains("Jinja") }
        #expect(jinja.count == 4)
        #expect(
            jinja.allSatisfy {
                $0.allowed?.contains("{{ proxmox_cloud_image_urls['NAME'] }}") == true
                    && $0.allowed?.contains("{{ lookup('file', 'PATH') }}") == true
            })
    }

    // MARK: Image URLs

    @Test func fileURLIsTheSameImageAsAPath() throws {
        let directory = try TemporaryDirectory(prefix: "spec-file-url")
        let image = try directory.write("images/disk one.qcow2", "not really an image")
        let viaURL = try directory.write(
            "vm.yaml", "name: web01\nvmid: 9001\nimage:\n  url: \(URL(fileURLWithPath: image.path).absoluteString)\n")
        let viaPath = try directory.write(
            "path.yaml", "name: web01\nvmid: 9001\nimage:\n  path: images/disk one.qcow2\n")
        let viaAnsible = try directory.write(
            "vars.yml",
            "proxmox_vm_name: web01\nproxmox_vm_vmid: 9001\nproxmox_vm_cloud_image_url: "
                + "\(URL(fileURLWithPath: image.path).absoluteString)\nproxmox_vm_cloud_image_checksum: "
                + "\"sha256:\(Self.digest)\"\n"
        )
        let loader = SpecLoader()
        let url = try loader.load(viaURL.path)
        let path = try loader.load(viaPath.path)
        let ansible = try loader.load(viaAnsible.path)
        #expect(url.image == path.image)
        #expect(url.image?.path == image.path)
        #expect(url.image?.url == nil)
        #expect(ansible.image == ImageSpec(path: image.path, sha256: Self.digest))

        let missing = try directory.write(
            "missing.yaml", "name: web01\nvmid: 9001\nimage:\n  url: file:///nonexistent/disk.qcow2\n")
        let result = loader.loadAll([missing.path])
        #expect(
            result.diagnostics.contains {
                $0.keyPath == "image.url" && $0.message.contains("not found") && $0.location?.line == 4
            }, "\(errors(result))")
    }

    @Test func fileURLPinIsVerifiedLikeAPathPin() async throws {
        let directory = try TemporaryDirectory(prefix: "spec-file-url-pin")
        let image = try directory.write("disk.img", String(repeating: "x", count: 4096))
        let spec = try SpecLoader().load(
            try directory.write(
                "vm.yaml",
                "name: web01\nvmid: 9001\nimage:\n  url: \(URL(fileURLWithPath: image.path).absoluteString)\n  sha256: "
                    + "\(Self.digest)\n"
            ).path)
        let store = try ImageStore(
            directory: directory.path("cache"), catalog: ImageCatalog(entries: []), progress: .none, offline: true)
        do {
            _ = try await store.resolve(try #require(spec.image), lockfile: nil)
            Issue.record("a wrong sha256 on a file:// image was accepted")
        } catch let error as SeedgenError {
            #expect(error.description.contains("sha256 mismatch for \(image.path)"), "\(error)")
        }
        let right = Digest.sha256Hex(try Data(contentsOf: image))
        let pinned = try SpecLoader().load(
            try directory.write(
                "ok.yaml",
                "name: web01\nvmid: 9001\nimage:\n  url: \(URL(fileURLWithPath: image.path).absoluteString)\n  sha256: "
                    + "\(right)\n"
            ).path)
        let resolved = try await store.resolve(try #require(pinned.image), lockfile: nil)
        #expect(resolved.path.path == image.path)
        #expect(resolved.sha256 == right)
        #expect(resolved.verification == "sha256 pinned")
    }

    @Test func aURLNothingVerifiesIsRefusedWithBothWaysOut() throws {
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: ⟨url⟩https://mirror.example.invalid/images/noble.img
            """, name: "vars.yml")
        let result = fixture.load()
        fixture.expectError(
            "url", keyPath: "proxmox_vm_cloud_image_url",
            contains: "nothing verifies https://mirror.example.invalid/images/noble.img", in: result)
        let hint = try #require(result.diagnostics.first { $0.keyPath == "proxmox_vm_cloud_image_url" }?.allowed)
        #expect(hint.contains("add proxmox_vm_cloud_image_checksum"))
        #expect(hint.contains("`seedgen image lock \(fixture.file.path) --trust-on-first-use`"), "\(hint)")

        let vmFile = try SpecFixture(
            "name: web01\nvmid: 9001\nimage:\n  url: ⟨url⟩https://mirror.example.invalid/images/noble.img\n")
        let vmResult = vmFile.load()
        vmFile.expectError("url", keyPath: "image.url", contains: "nothing verifies", in: vmResult)
        #expect(
            vmResult.diagnostics.first?.allowed?.contains(
                "`seedgen image lock \(vmFile.file.path) --trust-on-first-use`") == true)
    }

    @Test func aURLPinnedOnFirstUseInTheLockfileIsAccepted() throws {
        let url = "https://mirror.example.invalid/images/noble.img"
        var lockfile = ImageLockfile()
        lockfile.images[url] = ImageLockEntry(
            url: url, fileName: "noble.img", sha256: Self.digest, size: 1,
            verification: ImageLockEntry.firstUseVerification, trust: ImageLockEntry.firstUseTrust)
        let encoder = JSONEncoder()
        let fixture = try SpecFixture(
            """
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: \(url)
            """, name: "vars.yml",
            extraFiles: ["seedgen.lock": String(decoding: try encoder.encode(lockfile), as: UTF8.self)])
        let result = fixture.load()
        #expect(!result.hasErrors, "\(errors(result))")
        // The loader for `seedgen image lock --trust-on-first-use` takes it without a lockfile.
        let bare = try SpecFixture(
            "proxmox_vm_name: web01\nproxmox_vm_vmid: 9001\nproxmox_vm_cloud_image_url: \(url)\n", name: "vars.yml")
        #expect(bare.load().hasErrors)
        #expect(!SpecLoader.standard(trustOnFirstUse: true).loadAll([bare.file.path]).hasErrors)
    }

    // MARK: Playbooks

    static let playbook = """
        - name: Provision the lab
          hosts: pve01
          gather_facts: false
          vars:
            proxmox_vm_node: pve01
            proxmox_disk_storage: local-lvm
            ansible_user: root
          tasks:
            - name: Install the guest agent package
              ansible.builtin.apt:
                name: qemu-guest-agent
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
                  - "{{ lookup('file', 'keys/id_ed25519.pub') }}"
                  - "\(otherKey)"
            - name: Monitoring
              ansible.builtin.import_role:
                name: monitoring
            - name: Web tier
              block:
                - name: Create web VM
                  ansible.builtin.import_role:
                    name: proxmox
                  vars:
                    proxmox_operation: create_vm
                    proxmox_vm_name: web01
                    proxmox_vm_vmid: 203
                    proxmox_vm_cloud_image_url: '{{ proxmox_cloud_image_urls["ubuntu-24.04"] }}'
                    proxmox_vm_cloud_init_user: ubuntu
                    proxmox_vm_cloud_init_ssh_keys_file: keys/id_ed25519.pub
              vars:
                proxmox_vm_memory: 4096
        """

    @Test func everyProxmoxRoleTaskOfAPlaybookIsAVM() throws {
        let fixture = try SpecFixture(
            Self.playbook, name: "site.yml", extraFiles: ["keys/id_ed25519.pub": validKey + "\n"])
        let result = fixture.load()
        #expect(!result.hasErrors, "\(errors(result))")
        #expect(result.specs.map(\.name) == ["secure-vm", "web01"])
        let secure = try #require(result.specs.first)
        #expect(secure.vmid == 202)
        #expect(secure.node == "pve01")
        #expect(secure.hardware.disk.storage == "local-lvm")
        #expect(
            secure.image?.url?.absoluteString
                == "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
        #expect(
            secure.cloudInit.extra
                == .map([("ssh_authorized_keys", .list([.string(validKey), .string(Self.otherKey)]))]))
        let web = try #require(result.specs.last)
        #expect(web.hardware.memory == .mebibytes(4096))
        #expect(web.node == "pve01")
        #expect(web.cloudInit.users.first?.sshAuthorizedKeys == [validKey])
        #expect(web.sourceFile == fixture.file.path)
        // The other role is skipped with one note at its task; the apt task is no VM and no note.
        let notes = result.diagnostics.filter { $0.severity == .note }
        #expect(notes.count == 1)
        #expect(notes.first?.message == "skipped: task 'Monitoring' includes role 'monitoring', not proxmox")
        #expect(notes.first?.location?.line == 24)
        #expect(result.warnings.contains { $0.keyPath == "ansible_user" } == false)
    }

    @Test func taskFilesShortNamesAndFreeFormIncludes() throws {
        let fixture = try SpecFixture(
            """
            - name: Create db VM
              import_role: name=proxmox
              vars:
                proxmox_operation: create_vm
                proxmox_vm_name: db01
                proxmox_vm_vmid: 301
                proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['ubuntu-22.04'] }}"
            - name: Create cache VM
              ansible.builtin.include_role:
                name: proxmox
              vars:
                proxmox_vm_name: cache01
                proxmox_vm_vmid: 302
                proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['debian-11'] }}"
                unrelated_setting: 1
            """, name: "tasks.yml")
        let result = fixture.load()
        #expect(!result.hasErrors, "\(errors(result))")
        #expect(result.specs.map(\.name) == ["db01", "cache01"])
        #expect(
            result.warnings.contains {
                $0.keyPath == "unrelated_setting" && $0.message.contains("not a variable of the proxmox role")
            })
    }

    @Test func aPlaysRolesListAndIncludedFilesAreNamed() throws {
        let fixture = try SpecFixture(
            """
            - import_playbook: base.yml
            - hosts: pve01
              vars:
                proxmox_vm_node: pve01
              vars_files: [secrets.yml]
              roles:
                - common
                - role: proxmox
                  proxmox_operation: create_vm
                  proxmox_vm_name: db01
                  proxmox_vm_vmid: 301
                  proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['ubuntu-24.04'] }}"
                - role: proxmox
                  vars:
                    proxmox_vm_name: db02
                    proxmox_vm_vmid: 302
                    proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['ubuntu-24.04'] }}"
              tasks:
                - ansible.builtin.include_tasks: more-vms.yml
            """, name: "site.yml")
        let result = fixture.load()
        #expect(!result.hasErrors, "\(errors(result))")
        #expect(result.specs.map(\.name) == ["db01", "db02"])
        #expect(result.specs.allSatisfy { $0.node == "pve01" })
        let notes = result.diagnostics.filter { $0.severity == .note }.map(\.message)
        #expect(
            notes == [
                "not followed: import_playbook base.yml (give that file to seedgen on its own)",
                "not read: vars_files secrets.yml (put the proxmox_* variables in the play's or the task's vars:)",
                "skipped: role 'common' is not the proxmox role",
                "not followed: ansible.builtin.include_tasks more-vms.yml (give that file to seedgen on its own)",
            ])
    }

    @Test func errorsInAPlaybookPointIntoThePlaybook() throws {
        let fixture = try SpecFixture(
            """
            - hosts: pve01
              vars:
                proxmox_vm_node: ⟨node⟩pve_01
              tasks:
                - name: Create VM
                  include_role:
                    name: proxmox
                  vars:
                    proxmox_operation: create_vm
                    proxmox_vm_name: web01
                    proxmox_vm_vmid: ⟨vmid⟩12
                - name: Remove old VM
                  include_role:
                    name: proxmox
                  vars:
                    proxmox_operation: ⟨op⟩delete_vm
                    proxmox_vm_vmid: 150
            """, name: "site.yml")
        let result = fixture.load()
        fixture.expectError("op", keyPath: "proxmox_operation", contains: "seedgen only creates VMs", in: result)
        #expect(result.specs.isEmpty)

        let valueErrors = try SpecFixture(
            """
            - hosts: pve01
              vars:
                proxmox_vm_node: ⟨node⟩pve_01
              tasks:
                - name: Create VM
                  include_role:
                    name: proxmox
                  vars:
                    proxmox_operation: create_vm
                    proxmox_vm_name: web01
                    proxmox_vm_vmid: ⟨vmid⟩12
                    proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['debian-12'] }}"
            """, name: "site.yml")
        let loaded = valueErrors.load()
        valueErrors.expectError("node", keyPath: "node", contains: "not a valid node name", in: loaded)
        valueErrors.expectError("vmid", keyPath: "vmid", contains: "out of range", in: loaded)
    }

    @Test func aPlaybookWithoutTheRoleIsAnError() throws {
        let fixture = try SpecFixture(
            """
            - hosts: all
              tasks:
                - name: Monitoring
                  include_role:
                    name: monitoring
            """, name: "site.yml")
        let result = fixture.load()
        #expect(
            result.diagnostics.contains {
                $0.severity == .error && $0.message == "no task of this playbook includes the proxmox role"
                    && $0.location?.line == 1
            })
    }

    @Test func playbookConvertsToOneVMFilePerTaskThatLoadsAsTheSameVM() throws {
        let fixture = try SpecFixture(
            Self.playbook, name: "ansible/site.yml", extraFiles: ["ansible/keys/id_ed25519.pub": validKey + "\n"])
        let output = fixture.directory.path("vms")
        let converted = try SpecLoader.standard().convertedDocuments(
            fixture.directory.path("ansible/site.yml").path, outputDirectory: output.path)
        #expect(converted.documents.map(\.name) == ["secure-vm", "web01"])
        let written = try ConvertedDocument.write(converted.documents, to: output)
        #expect(written.map(\.lastPathComponent) == ["secure-vm.yaml", "web01.yaml"])
        let web = try String(contentsOf: output.appendingPathComponent("web01.yaml"), encoding: .utf8)
        // Relative paths now resolve from the output directory.
        #expect(web.contains("ssh_authorized_keys_file: ../ansible/keys/id_ed25519.pub"), "\(web)")
        let original = try SpecLoader.standard().loadAll([fixture.directory.path("ansible/site.yml").path]).get()
        let roundTrip = try SpecLoader.standard().loadAll(written.map(\.path)).get()
        #expect(roundTrip.count == original.count)
        for (a, b) in zip(original, roundTrip) {
            var a = a, b = b
            a.sourceFile = ""
            b.sourceFile = ""
            a.locations = [:]
            b.locations = [:]
            #expect(a == b)
        }
        do {
            _ = try SpecLoader.standard().convertedDocument(fixture.directory.path("ansible/site.yml").path)
            Issue.record("two VMs were printed as one document")
        } catch let error as SeedgenError {
            #expect(error.exitCode == 2)
            #expect(error.description.contains("holds 2 VMs: write them with `seedgen convert"), "\(error)")
        }
    }
}
