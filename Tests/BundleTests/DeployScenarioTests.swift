import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// deploy.sh run against the fake node: each scenario from the issue with its expected outcome.
@Suite struct DeployScenarioTests {
    @Test func firstRunCreatesPlacesResizesAndStarts() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let node = try FakeNode()
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("done: VM 9001 (web01) is deployed"))

        let config = try #require(try node.vmConfig(9001))
        #expect(try node.vmStatus(9001) == "running")
        #expect(config["scsi0"]?.hasPrefix("local-lvm:vm-9001-disk-") == true)
        #expect(config["scsi0"]?.contains("size=20G") == true)
        #expect(config["scsi0"]?.contains("discard=on") == true)
        #expect(config["scsihw"] == "virtio-scsi-single")
        #expect(config["boot"] == "order=scsi0")
        // The same lower-case MAC string as network-config (cloud-init matches the NIC by it).
        #expect(config["net0"] == "virtio=bc:24:11:12:34:56,bridge=vmbr0,firewall=1,tag=20,mtu=1500")
        #expect(config["net1"] == "virtio=bc:24:11:ab:cd:ef,bridge=vmbr1,firewall=0")
        #expect(config["serial0"] == "socket")
        #expect(config["vga"] == "serial0")
        #expect(config["tags"] == "prod;web")
        #expect(config["scsi1"]?.contains("size=100G") == true)
        let seed = try #require(fixture.plan.file(role: .seedISO))
        #expect(config["sata0"] == "local:iso/\(seed.source),media=cdrom")
        #expect(config["description"]?.hasSuffix(fixture.plan.vm.marker) == true)
        #expect(config["description"]?.hasPrefix("Web frontend\n") == true)

        // PVE 8.4: the image went to an import volume named with the format's extension.
        let image = try #require(fixture.plan.file(role: .image))
        let importName = try #require(image.volume?.split(separator: "/").last)
        #expect(importName.hasSuffix(".qcow2"))
        #expect(FileManager.default.fileExists(atPath: node.storageFile("local", "import/\(importName)").path))
        #expect(FileManager.default.fileExists(atPath: node.storageFile("local", "template/iso/\(seed.source)").path))
        let create = try #require(try node.calls().first { $0.starts(with: ["qm", "create"]) })
        #expect(create.contains("local-lvm:0,import-from=\(image.volume!),discard=on,ssd=1,iothread=1"))
        #expect(!create.contains("--start"))
        // Start is its own step, after the resize was confirmed.
        let order = try node.calls().compactMap { call -> String? in
            guard call.first == "qm", call.count > 1 else { return nil }
            return call[1] == "disk" ? "resize" : call[1]
        }
        #expect(order.filter { $0 != "config" } == ["create", "resize", "start"])
    }

    @Test func secondRunIsANoOp() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let node = try FakeNode()
        #expect(try deploy(fixture, on: node).exitCode == 0)
        let before = try node.snapshot()
        try node.clearCalls()

        let again = try deploy(fixture, on: node)
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(again.stdout.contains("already deployed"))
        #expect(again.stdout.contains("the seed is unchanged"))
        #expect(again.stdout.contains("hardware matches the plan"))
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == before)
    }

    @Test func changedSeedIsSwappedAndDriftReportedNotApplied() throws {
        let work = try TemporaryDirectory()
        let first = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("v1/web01"), seed: "seed-1")
        let node = try FakeNode()
        #expect(try deploy(first, on: node).exitCode == 0)

        var changed = BundleFixture.spec()
        changed.hardware.cores = 4
        let second = try BundleFixture.make(spec: changed, in: work.path("v2/web01"), seed: "seed-2")
        let oldSeed = try #require(first.plan.file(role: .seedISO)?.source)
        let newSeed = try #require(second.plan.file(role: .seedISO)?.source)
        #expect(oldSeed != newSeed)
        try node.clearCalls()

        let result = try deploy(second, on: node)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("already deployed"))
        #expect(result.stdout.contains("the seed changed"))
        #expect(result.stdout.contains("drift: cores is '2' on the node, the plan has '4' (not applied)"))
        let config = try #require(try node.vmConfig(9001))
        #expect(config["sata0"] == "local:iso/\(newSeed),media=cdrom")
        #expect(config["cores"] == "2")
        #expect(config["description"]?.hasSuffix(second.plan.vm.marker) == true)
        #expect(FileManager.default.fileExists(atPath: node.storageFile("local", "template/iso/\(newSeed)").path))
        #expect(try node.changingCalls().map { Array($0.prefix(2)) } == [["qm", "set"]])

        // And once swapped, running the new bundle again changes nothing.
        let snapshot = try node.snapshot()
        try node.clearCalls()
        let third = try deploy(second, on: node)
        #expect(third.exitCode == 0)
        #expect(third.stdout.contains("the seed is unchanged"))
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == snapshot)
    }

    @Test func snippetsReRunSwapsChangedSnippetsAndPVEModeReRunIsANoOp() throws {
        let work = try TemporaryDirectory()
        let node = try FakeNode()
        let first = try BundleFixture.make(
            spec: BundleFixture.spec(mode: .snippets), in: work.path("v1/web01"), seed: "one")
        #expect(try deploy(first, on: node).exitCode == 0)
        let second = try BundleFixture.make(
            spec: BundleFixture.spec(mode: .snippets), in: work.path("v2/web01"), seed: "two")
        let result = try deploy(second, on: node)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("the seed changed"))
        #expect(try node.vmConfig(9001)?["cicustom"] == second.plan.rerun.expectedSeed)

        var pveSpec = BundleFixture.spec(mode: .pve)
        pveSpec.vmid = 9002
        pveSpec.name = "web02"
        let pve = try BundleFixture.make(spec: pveSpec, in: work.path("pve/web02"))
        #expect(try deploy(pve, on: node).exitCode == 0)
        let snapshot = try node.snapshot()
        try node.clearCalls()
        let again = try deploy(pve, on: node)
        #expect(again.exitCode == 0)
        #expect(again.stdout.contains("already deployed"))
        #expect(again.stdout.contains("hardware matches the plan"), "\(again.stdout)")
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == snapshot)
    }

    /// Runs a refusal scenario and checks that nothing at all changed.
    private func expectRefusal(
        _ fixture: BundleFixture, on node: FakeNode, arguments: [String] = [], mentioning phrases: [String]
    ) throws {
        let before = try node.snapshot()
        try node.clearCalls()
        let result = try deploy(fixture, on: node, arguments)
        #expect(result.exitCode == 1, "\(result.stdout)\(result.stderr)")
        for phrase in phrases { #expect(result.stderr.contains(phrase), "missing '\(phrase)' in: \(result.stderr)") }
        #expect(result.stderr.contains("nothing was changed on this node"))
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == before)
    }

    @Test func foreignVMIDOnThisNodeStopsWithoutChanges() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let node = try FakeNode()
        // The same text as our marker, but in the wrong VM name: not ours.
        try node.addForeignVM(9001, description: "seedgen vm=other vmid=9001 plan=0")
        try expectRefusal(fixture, on: node, mentioning: ["VMID 9001 is already taken", "VM 9001 already exists"])
    }

    @Test func foreignVMIDOnAnotherNodeStopsWithoutChanges() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.remote_vmids = [9001]
        let node = try FakeNode(setup)
        try expectRefusal(fixture, on: node, mentioning: ["VMID 9001 is already taken"])
    }

    @Test func missingImportContentNamesTheExactFix() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.storages["local"]?.content = ["iso", "vztmpl", "backup"]
        let node = try FakeNode(setup)
        try expectRefusal(
            fixture, on: node,
            mentioning: [
                "storage 'local' (for the cloud image import) does not allow content 'import'",
                "pvesm set local --content vztmpl,iso,backup,import",
            ])
    }

    @Test func missingStorageAndDisabledStorageAreReportedTogether() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.storages["local-lvm"] = nil
        setup.storages["local"]?.status = "disabled"
        let node = try FakeNode(setup)
        try expectRefusal(
            fixture, on: node,
            mentioning: [
                "storage 'local-lvm' (for the boot disk) does not exist",
                "storage 'local' (for the seed ISO) is disabled: pvesm set local --disable 0",
            ])
    }

    @Test func wrongNodeStops() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.hostname = "pve02.example.com"
        let node = try FakeNode(setup)
        try expectRefusal(fixture, on: node, mentioning: ["this is node 'pve02', but the bundle is for node 'pve01'"])
    }

    @Test func notRootStops() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.uid = 1000
        let node = try FakeNode(setup)
        try expectRefusal(fixture, on: node, mentioning: ["must run as root"])
    }

    @Test func tooOldPVEStops() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.version = "7.1.12"
        let node = try FakeNode(setup)
        try expectRefusal(fixture, on: node, mentioning: ["Proxmox VE 7.1 is too old", "7.2 or newer"])
    }

    @Test func tamperedArtifactStops() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let seed = try #require(fixture.plan.file(role: .seedISO))
        let url = fixture.directory.appendingPathComponent(seed.source)
        var bytes = try Data(contentsOf: url)
        bytes[0] ^= 0x01
        try bytes.write(to: url)
        let node = try FakeNode()
        try expectRefusal(
            fixture, on: node, mentioning: ["do not match SHA256SUMS", "\(seed.source) does not have the sha256"])
    }

    @Test func tamperedSHA256SUMSIsCaughtByThePlan() throws {
        // Someone "fixes" SHA256SUMS after changing the seed: the plan's own checksums still catch it.
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let seed = try #require(fixture.plan.file(role: .seedISO))
        let url = fixture.directory.appendingPathComponent(seed.source)
        try Data("evil".utf8).write(to: url)
        let sums = try String(contentsOf: fixture.directory.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
            .replacingOccurrences(of: seed.sha256, with: Digest.sha256Hex(Data("evil".utf8)))
        try Data(sums.utf8).write(to: fixture.directory.appendingPathComponent("SHA256SUMS"))
        let node = try FakeNode()
        try expectRefusal(fixture, on: node, mentioning: ["\(seed.source) does not have the sha256 the plan expects"])
    }

    @Test func missingImageStopsWithHowToProvideIt() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(), in: work.path("out/web01"), includeImage: false)
        let node = try FakeNode()
        try expectRefusal(fixture, on: node, mentioning: ["is not on this node: pass --image PATH"])
    }

    @Test func imageWithTheWrongChecksumIsRefused() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(), in: work.path("out/web01"), includeImage: false)
        let wrong = try work.write("other.img", "not the image")
        let node = try FakeNode()
        try expectRefusal(
            fixture, on: node, arguments: ["--image", wrong.path],
            mentioning: [
                "the cloud image does not have the plan's sha256", wrong.path,
            ])
    }

    @Test func interruptedCopyLeavesNoPartialFile() throws {
        // The copy fails (a directory sits where the temporary file should go): the run stops
        // before qm create, and nothing appears under the target name.
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let node = try FakeNode()
        let image = try #require(fixture.plan.file(role: .image)?.volume?.split(separator: "/").last)
        let target = node.storageFile("local", "import/\(image)")
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(image).seedgen-partial/x")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode != 0)
        #expect(!FileManager.default.fileExists(atPath: target.path))
        #expect(try node.vmConfig(9001) == nil)
    }

    @Test func imageFromTheImageOptionOrAlreadyOnTheNode() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(), in: work.path("out/web01"), includeImage: false)
        let elsewhere = work.path("downloads/noble.img")
        try FileManager.default.createDirectory(
            at: elsewhere.deletingLastPathComponent(), withIntermediateDirectories: true)
        try #require(fixture.imageBytes).write(to: elsewhere)
        let node = try FakeNode()
        // A relative --image is taken from the caller's directory.
        let result = try deploy(
            fixture, on: node, ["--image", "downloads/noble.img", "--no-start"], currentDirectory: work.url)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(try node.vmStatus(9001) == "stopped")
        #expect(result.stdout.contains("not starting VM 9001 (--no-start)"))

        // A second VM from the same image finds it on the node and needs no --image.
        var other = BundleFixture.spec()
        other.vmid = 9002
        other.name = "web02"
        let second = try BundleFixture.make(spec: other, in: work.path("out/web02"), includeImage: false)
        let again = try deploy(second, on: node)
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(again.stdout.contains("is already in place"))
    }

    @Test func dryRunPrintsEveryCommandAndChangesNothing() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let node = try FakeNode()
        let before = try node.snapshot()
        let result = try deploy(fixture, on: node, ["--dry-run"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        for expected in [
            "+ qm create 9001", "--scsi0 local-lvm:0\\,import-from=", "+ qm disk resize 9001 scsi0 20G",
            "+ qm start 9001", "+ cp -T -- ",
        ] {
            #expect(result.stdout.contains(expected), "missing \(expected) in \(result.stdout)")
        }
        #expect(result.stdout.contains("dry run: nothing was changed"))
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == before)
    }

    @Test func resizeThatLiesIsCaughtBeforeStart() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.resize_fails = true
        let node = try FakeNode(setup)
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("expected 20G (qm disk resize reports success even when its task fails)"))
        #expect(try node.vmStatus(9001) == "stopped")
        #expect(!(try node.calls().contains { $0.starts(with: ["qm", "start"]) }))
    }

    @Test(arguments: ["7.2.7", "8.2.4", "8.4.1", "9.1.2"])
    func deploysOnEverySupportedVersion(version: String) throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(bios: .ovmf), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.version = version
        let node = try FakeNode(setup)
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 0, "\(version): \(result.stdout)\(result.stderr)")
        let config = try #require(try node.vmConfig(9001))
        #expect(config["efidisk0"]?.contains("efitype=4m") == true)
        #expect(config["scsi0"]?.contains("size=20G") == true)
        let create = try #require(try node.calls().first { $0.starts(with: ["qm", "create"]) })
        let scsi0 = try #require(create.firstIndex(of: "--scsi0").map { create[$0 + 1] })
        let image = try #require(fixture.plan.file(role: .image))
        if version.hasPrefix("7.") || version.hasPrefix("8.2") {
            // Before 8.3: an absolute path from pvesm path of an iso volume.
            let legacyName = try #require(image.legacyVolume?.split(separator: "/").last)
            #expect(scsi0.contains("import-from=\(node.storageFile("local", "template/iso/\(legacyName)").path)"))
        } else {
            #expect(scsi0.contains("import-from=\(image.volume!)"))
        }
        let resize = try node.calls().first { $0.contains("resize") }
        #expect(resize?[1] == (version.hasPrefix("7.") ? "resize" : "disk"))
    }

    @Test func seaBIOSOnI440fxPutsTheSeedOnIDE2() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(machine: "pc"), in: work.path("out/web01"))
        let node = try FakeNode()
        #expect(try deploy(fixture, on: node).exitCode == 0)
        let config = try #require(try node.vmConfig(9001))
        #expect(config["ide2"]?.hasSuffix(",media=cdrom") == true)
        #expect(config["sata0"] == nil)
    }

    @Test func noImageMeansAnEmptyBootDisk() throws {
        let work = try TemporaryDirectory()
        var spec = BundleFixture.spec()
        spec.image = nil
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web01"), withImage: false)
        let node = try FakeNode()
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let config = try #require(try node.vmConfig(9001))
        #expect(config["scsi0"]?.contains("size=20G") == true)
        #expect(!(try node.calls().contains { $0.contains("resize") }))
    }

    @Test(arguments: ["7.2.7", "8.4.1"])
    func pveModeUsesProxmoxsCloudInitDrive(version: String) throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(mode: .pve), in: work.path("out/web01"))
        var setup = FakeNode.Setup()
        setup.version = version
        let node = try FakeNode(setup)
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let config = try #require(try node.vmConfig(9001))
        #expect(config["sata0"] == "local-lvm:vm-9001-cloudinit,media=cdrom")
        #expect(config["ciuser"] == "ops")
        #expect(config["ipconfig0"] == "ip=192.0.2.10/24,gw=192.0.2.1,ip6=auto")
        #expect(config["ipconfig1"] == "ip=dhcp")
        #expect(config["nameserver"] == "1.1.1.1 2606:4700:4700::1111")
        #expect(config["searchdomain"] == "example.com")
        #expect(config["sshkeys"]?.hasPrefix("ssh-ed25519%20AAAA") == true)
        #expect(config["ciupgrade"] == (version.hasPrefix("7.") ? nil : "0"))
        // The $6$ hash went through qm set (which keeps it) and not qm create.
        #expect(config["cipassword"]?.hasPrefix("$6$saltsalt$") == true)
        let create = try #require(try node.calls().first { $0.starts(with: ["qm", "create"]) })
        #expect(!create.contains("--cipassword"))
        #expect(try node.calls().contains { $0.starts(with: ["qm", "set", "9001", "--cipassword"]) })
    }

    @Test func snippetsModePlacesSnippetsAndSetsCicustom() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(mode: .snippets), in: work.path("out/web01"))
        let node = try FakeNode()
        let result = try deploy(fixture, on: node)
        #expect(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let config = try #require(try node.vmConfig(9001))
        #expect(config["sata0"] == "local-lvm:vm-9001-cloudinit,media=cdrom")
        let cicustom = try #require(config["cicustom"])
        #expect(cicustom.hasPrefix("user=local:snippets/seedgen-9001-user-"))
        #expect(cicustom.contains(",network=local:snippets/seedgen-9001-network-"))
        #expect(cicustom.contains(",meta=local:snippets/seedgen-9001-meta-"))
        for file in fixture.plan.files where file.role.cicustomKey != nil {
            let name = try #require(file.volume?.split(separator: "/").last)
            let placed = node.storageFile("local", "snippets/\(name)")
            #expect(
                try Data(contentsOf: placed) == Data(contentsOf: fixture.directory.appendingPathComponent(file.source)))
        }

        // Snippets not enabled: refused with the fix that keeps the other content types.
        var setup = FakeNode.Setup()
        setup.storages["local"]?.content = ["iso", "vztmpl", "backup"]
        let bare = try FakeNode(setup)
        try expectRefusal(fixture, on: bare, mentioning: ["pvesm set local --content vztmpl,iso,backup,snippets"])
    }
}
