import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenNoCloud
import SeedgenSpec
import SeedgenTestSupport
import Testing

@Suite struct BundlePlanTests {
    private func inputs(for spec: VMSpec, image: Bool = true) -> BundleInputs {
        var inputs = BundleInputs()
        let sha = String(repeating: "ab", count: 32)
        switch spec.cloudInit.mode {
        case .iso: inputs.seedISO = BundleFile(name: "seedgen-\(spec.vmid)-abababab.iso", sha256: sha, size: 73728)
        case .snippets:
            inputs.snippets = ["user-data", "network-config", "meta-data"].map {
                BundleFile(name: $0, sha256: sha, size: 100)
            }
        case .pve: inputs.sshKeysFile = BundleFile(name: ProxmoxBundle.pveSSHKeysFileName, sha256: sha, size: 90)
        }
        if image {
            inputs.image = BundleImage(
                fileName: "noble-server-cloudimg-amd64.img", sha256: sha, size: 600 << 20, format: "qcow2",
                virtualSize: 3_758_096_384, included: false, cachePath: "/var/cache/seedgen/sha256/abab")
        }
        return inputs
    }

    @Test func planJSONIsStableAndRoundTrips() throws {
        let spec = BundleFixture.spec()
        let first = try ProxmoxBundle.planJSON(ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec)))
        let second = try ProxmoxBundle.planJSON(ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec)))
        #expect(first == second)
        #expect(first.last == 0x0A)
        let decoded = try JSONDecoder().decode(BundlePlan.self, from: first)
        #expect(decoded == (try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))))
        #expect(
            ProxmoxBundle.deployScript(decoded)
                == ProxmoxBundle.deployScript(try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))))
    }

    @Test func planJSONCarriesConfigFilesStoragesAndSteps() throws {
        let spec = BundleFixture.spec()
        let json = try ProxmoxBundle.planJSON(ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec)))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1)
        let vm = try #require(object["vm"] as? [String: Any])
        #expect(vm["vmid"] as? Int == 9001)
        #expect((vm["marker"] as? String)?.hasPrefix("seedgen vm=web01 vmid=9001 plan=") == true)
        let options = try #require(vm["options"] as? [[String: Any]])
        let scsi0 = try #require(options.first { $0["key"] as? String == "scsi0" })
        let parts = try #require((scsi0["value"] as? [String: Any])?["parts"] as? [Any])
        #expect(parts.first as? String == "local-lvm:0,import-from=")
        #expect((parts[1] as? [String: String])?["variable"] == "IMPORT_SOURCE")
        let files = try #require(object["files"] as? [[String: Any]])
        #expect(files.map { $0["role"] as? String } == ["image", "seed-iso"])
        #expect(files.allSatisfy { $0["sha256"] is String && $0["size"] is Int })
        #expect(files[0]["cachePath"] as? String == "/var/cache/seedgen/sha256/abab")
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(
            steps.map { $0["kind"] as? String } == [
                "place-file", "place-file", "create-vm", "resize-disk", "confirm-disk-size", "start-vm",
            ])
        let storages = try #require(object["storages"] as? [[String: Any]])
        #expect(
            storages.contains {
                $0["storage"] as? String == "local" && $0["content"] as? String == "import"
                    && $0["minimumPVE"] as? String == "8.3"
            })
        // The marker survives qm config's description encoding (no ':' or '%' or control characters).
        let marker = try #require(vm["marker"] as? String)
        #expect(!marker.contains(":") && !marker.contains("%"))
    }

    @Test(arguments: CloudInitMode.allCases, [Firmware.seabios, .ovmf])
    func everyQmOptionMatchesQmOptionsJSON(mode: CloudInitMode, bios: Firmware) throws {
        for withImage in [true, false] {
            var spec = BundleFixture.spec(mode: mode, bios: bios)
            if !withImage { spec.image = nil }
            let plan = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec, image: withImage))
            let scripts = try TemporaryDirectory()
            try requireShellcheckClean(try scripts.write("deploy.sh", ProxmoxBundle.deployScript(plan)))
            for source in [
                "local:import/noble-server-cloudimg-amd64-abababab.qcow2",
                "/var/lib/vz/template/iso/noble-abababab.img",
            ] {
                var commands = plan.steps.filter { !$0.options.isEmpty || $0.kind == .resizeDisk }
                if let update = plan.rerun.seedUpdate { commands.append(update) }
                for step in commands {
                    var call = step.command.map { resolve($0, importSource: source) }
                    for option in step.options {
                        call += [
                            "--" + option.key,
                            option.key == "sshkeys" ? "/root/sshkeys" : resolve(option.value, importSource: source),
                        ]
                    }
                    for version in [(7, 2), (9, 2)] {
                        let problems = QMOptionChecker.problems(in: call, version: version)
                        #expect(problems.isEmpty, "\(mode) \(bios): \(problems)")
                    }
                }
            }
        }
    }

    private func resolve(_ argument: BundleArgument, importSource: String) -> String {
        argument.parts.map { part -> String in
            switch part {
            case .literal(let text): return text
            case .variable(.importSource): return importSource
            case .variable(.artifactDirectory): return "/root/bundle"
            }
        }.joined()
    }

    @Test func pveModeRejectsWhatItCannotExpressAtTheKey() throws {
        var spec = BundleFixture.spec(mode: .pve)
        spec.cloudInit.writeFiles = [WriteFileSpec(path: "/etc/motd", content: Data("hi\n".utf8))]
        spec.cloudInit.runcmd = [.shell("true")]
        spec.cloudInit.users[0].passwordHash = "$y$j9T$salt$hash"
        spec.locations["cloud_init.write_files"] = SourceLocation(file: "vm.yaml", line: 30, column: 3)
        let diagnostics = ProxmoxBundle.modeDiagnostics(for: spec)
        let writeFiles = diagnostics.first { $0.keyPath == "cloud_init.write_files" }
        #expect(writeFiles?.location == SourceLocation(file: "vm.yaml", line: 30, column: 3))
        #expect(writeFiles?.description.contains("cloud_init.mode: iso") == true)
        #expect(diagnostics.contains { $0.keyPath == "cloud_init.runcmd" })
        #expect(
            diagnostics.contains { $0.keyPath == "cloud_init.users[0].password_hash" && $0.description.contains("$6$") }
        )
        #expect(ProxmoxBundle.modeDiagnostics(for: BundleFixture.spec(mode: .iso)).isEmpty)
        #expect(ProxmoxBundle.modeDiagnostics(for: BundleFixture.spec(mode: .pve)).isEmpty)
        let refused = try #require(throws: SeedgenError.self) {
            try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))
        }
        guard case .invalidInput(let found) = refused else { Issue.record("not invalid input: \(refused)"); return }
        // The plan refuses with exactly the problems modeDiagnostics reports, positioned the same.
        #expect(Set(diagnostics.filter { $0.severity == .error }).isSubset(of: Set(found)), "\(found)")
        #expect(
            found.contains {
                $0.keyPath == "cloud_init.write_files"
                    && $0.location == SourceLocation(file: "vm.yaml", line: 30, column: 3)
            })
    }

    @Test func sshKeysFileHasOneKeyPerLine() throws {
        var spec = BundleFixture.spec(mode: .pve)
        spec.cloudInit.users[0].sshAuthorizedKeys = ["ssh-ed25519 AAAA one@a", "ssh-rsa BBBB two@b\n"]
        let bytes = try #require(ProxmoxBundle.pveSSHKeysFile(for: spec))
        #expect(String(decoding: bytes, as: UTF8.self) == "ssh-ed25519 AAAA one@a\nssh-rsa BBBB two@b\n")
        #expect(ProxmoxBundle.pveSSHKeysFile(for: BundleFixture.spec(mode: .iso)) == nil)
    }

    @Test func diskSmallerThanTheImageIsAnError() throws {
        var spec = BundleFixture.spec()
        spec.hardware.disk.size = .gibibytes(2)
        spec.locations["hardware.disk.size"] = SourceLocation(file: "vm.yaml", line: 12, column: 11)
        do {
            _ = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))
            Issue.record("a 2G disk for a 3.5G image was accepted")
        } catch let SeedgenError.invalidInput(diagnostics) {
            #expect(
                diagnostics.map(\.description).contains { $0.hasPrefix("vm.yaml:12:11: error: hardware.disk.size:") })
        }
    }

    /// Proxmox keeps 8192 characters of description, and seedgen's marker line (which names the VM and
    /// its vmid) shares them: the exact room is what is left, counted in code points as Perl does.
    @Test func descriptionFillsExactlyWhatProxmoxKeepsBesideTheMarker() throws {
        var spec = BundleFixture.spec()
        spec.locations["description"] = SourceLocation(file: "vm.yaml", line: 5, column: 14)
        spec.description = ""
        let marker = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec)).vm.marker
        let room = 8192 - marker.unicodeScalars.count - 2
        spec.description = String(repeating: "é", count: room)
        let plan = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))
        let description = try #require(plan.vm.options.first { $0.key == "description" }?.value.literalValue)
        #expect(description.unicodeScalars.count == 8192)
        #expect(ProxmoxBundle.specDiagnostics(for: spec).isEmpty)
        spec.description = String(repeating: "é", count: room + 1)
        // The VM file alone shows it, so `validate` (which runs specDiagnostics) reports it too.
        #expect(ProxmoxBundle.specDiagnostics(for: spec).contains { $0.keyPath == "description" })
        do {
            _ = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec))
            Issue.record("a description one character over Proxmox's limit was accepted")
        } catch let SeedgenError.invalidInput(diagnostics) {
            #expect(
                diagnostics.map(\.description).contains {
                    $0.hasPrefix("vm.yaml:5:14: error: description:") && $0.contains("room for \(room)")
                })
        }
    }

    @Test func sizesUseProxmoxsFormats() throws {
        var spec = BundleFixture.spec()
        spec.hardware.disk.size = ByteSize(bytes: 1536 << 20)
        spec.hardware.extraDisks = [ExtraDiskSpec(size: .mebibytes(512), storage: "local-lvm")]
        let plan = try ProxmoxBundle.plan(for: spec, inputs: inputs(for: spec, image: false))
        #expect(plan.vm.bootDiskSize == "1536M")
        #expect(plan.vm.bootDiskConfigSize == "1536M")
        #expect(
            plan.vm.options.first { $0.key == "scsi0" }?.value.literalValue
                == "local-lvm:1.5,discard=on,ssd=1,iothread=1")
        #expect(
            plan.vm.options.first { $0.key == "scsi1" }?.value.literalValue
                == "local-lvm:0.5,discard=on,ssd=1,iothread=1")
    }
}
