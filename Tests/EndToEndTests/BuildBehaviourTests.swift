import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

/// A small VM file using a local image (no download), for tests that need many or varied VMs.
func localImageVM(
    name: String, vmid: Int, image: String = "demo.qcow2", imageSHA256: String,
    packages: [String] = ["qemu-guest-agent"]
) -> String {
    """
    name: \(name)
    vmid: \(vmid)
    node: pve01
    image:
      path: \(image)
      sha256: \(imageSHA256)
    hardware:
      disk: { size: 20G, storage: local-lvm }
    network:
      interfaces:
        - { bridge: vmbr0, ipv4: 10.1.\(vmid / 250 % 250).\(vmid % 250 + 2)/16, gateway4: 10.1.0.1 }
    cloud_init:
      users:
        - name: ops
          ssh_authorized_keys_file: ops.pub
          password_file: ops.pass
          sudo: "ALL=(ALL) NOPASSWD:ALL"
      packages: [\(packages.joined(separator: ", "))]

    """
}

/// A directory with the sample's demo image, a public key and the sample password beside VM files.
final class LocalVMDirectory: @unchecked Sendable {
    let directory: TemporaryDirectory
    let imageSHA256: String
    let password: String

    init(prefix: String = "seedgen-e2e-vms") throws {
        directory = try TemporaryDirectory(prefix: prefix)
        let demo = TestPaths.samples.appendingPathComponent("images/demo.qcow2")
        try FileManager.default.copyItem(at: demo, to: directory.path("demo.qcow2"))
        try FileManager.default.copyItem(
            at: TestPaths.samples.appendingPathComponent("keys/ops.pub"), to: directory.path("ops.pub"))
        try FileManager.default.copyItem(
            at: TestPaths.samples.appendingPathComponent("secrets/ops.pass"), to: directory.path("ops.pass"))
        imageSHA256 = Digest.sha256Hex(try Data(contentsOf: demo))
        password = try String(contentsOf: directory.path("ops.pass"), encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @discardableResult
    func writeVM(_ name: String, vmid: Int, packages: [String] = ["qemu-guest-agent"]) throws -> String {
        try directory.write(
            "\(name).yaml", localImageVM(name: name, vmid: vmid, imageSHA256: imageSHA256, packages: packages)
        ).path
    }

    var output: URL { directory.path("out") }
    var cache: URL { directory.path("cache") }
}

@Suite struct FleetTests {
    /// 200 VMs built with -j 8 and with -j 1: every one succeeds, nothing collides, and the two
    /// output trees are byte-identical.
    @Test func twoHundredVMsInParallelEqualTheSerialBuild() throws {
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-fleet")
        let files = try (0..<200).map { index in
            try vms.writeVM(String(format: "fleet-%03d", index), vmid: 20_000 + index)
        }
        let parallelOut = vms.directory.path("out-parallel")
        let serialOut = vms.directory.path("out-serial")
        let parallel = try seedgen(
            ["build", "--json", "--progress", "none", "-j", "8", "-o", parallelOut.path, "--cache", vms.cache.path]
                + files)
        #expect(parallel.exitCode == 0, "\(parallel.stderr)")
        let report = try BuildJSON.decode(parallel)
        #expect(report.built == 200 && report.failed == 0)
        let serial = try seedgen(
            ["build", "--progress", "none", "-j", "1", "-o", serialOut.path, "--cache", vms.cache.path] + files)
        #expect(serial.exitCode == 0, "\(serial.stderr)")

        let parallelTree = try treeSnapshot(parallelOut)
        let serialTree = try treeSnapshot(serialOut)
        #expect(
            differences(parallelTree, serialTree).isEmpty,
            "-j 8 and -j 1 differ: \(differences(parallelTree, serialTree).prefix(10))")

        let directories = try FileManager.default.contentsOfDirectory(atPath: parallelOut.path).sorted()
        #expect(
            directories == (0..<200).map { String(format: "fleet-%03d", $0) },
            "stray or missing directories: \(directories.filter { !$0.hasPrefix("fleet-") })")
        var isoNames = Set<String>()
        var macs = Set<String>()
        var instanceIDs = Set<String>()
        for directory in directories {
            let vmDirectory = parallelOut.appendingPathComponent(directory)
            let sums = try checksumList(vmDirectory)
            for name in sums.keys where name.hasSuffix(".iso") { isoNames.insert(name) }
            let network = try String(contentsOf: vmDirectory.appendingPathComponent("network-config"), encoding: .utf8)
            for line in network.split(separator: "\n") where line.contains("macaddress:") { macs.insert(String(line)) }
            let meta = try String(contentsOf: vmDirectory.appendingPathComponent("meta-data"), encoding: .utf8)
            for line in meta.split(separator: "\n") where line.hasPrefix("instance-id:") {
                instanceIDs.insert(String(line))
            }
            #expect(Set(try regularFiles(vmDirectory)) == Set(sums.keys).union(["SHA256SUMS"]), "\(directory)")
        }
        #expect(isoNames.count == 200, "seed ISO names collide")
        #expect(macs.count == 200, "MACs collide")
        #expect(instanceIDs.count == 200, "instance-ids collide")
        let secrets = try ProcessRunner.run("grep", ["-rlF", vms.password, parallelOut.path])
        #expect(secrets.exitCode == 1, "plaintext password in: \(secrets.stdout)")
    }
}

@Suite struct FaultTests {
    /// One VM's image fails verification: that VM fails alone with exit 1 and a clear message,
    /// the others are built, and the failed one leaves nothing behind (its previous output stays).
    @Test func aVMWhoseImageFailsVerificationFailsAlone() throws {
        let images = try LoopbackImages()
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-fault")
        let local = try vms.writeVM("local-ok", vmid: 9501)
        let catalogVM = try vms.directory.write(
            "catalog-ok.yaml", "name: catalog-ok\nvmid: 9502\nimage: ubuntu-24.04\n"
        ).path
        let victimFile = vms.directory.path("victim.yaml")
        // First a good build of the victim, so there is previous output to keep.
        try Data("name: victim\nvmid: 9503\nimage: debian-12\n".utf8).write(to: victimFile)
        let arguments = [
            "build", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, "--catalog",
            images.catalog.path,
        ]
        let first = try seedgen(arguments + [victimFile.path])
        try #require(first.exitCode == 0, "\(first.stderr)")
        let previous = try treeSnapshot(vms.output.appendingPathComponent("victim"))

        try Data("name: victim\nvmid: 9503\nimage: broken-image\n".utf8).write(to: victimFile)
        let result = try seedgen(arguments + ["--json", local, catalogVM, victimFile.path])
        #expect(result.exitCode == 1, "\(result.stderr)")
        let report = try BuildJSON.decode(result)
        #expect(report.built == 2 && report.failed == 1)
        let victim = try #require(report.vms.first { $0.name == "victim" })
        #expect(victim.status == "failed" && victim.directory == nil)
        let message = victim.error ?? ""
        #expect(message.contains("broken.qcow2"), "message does not name the image: \(message)")
        #expect(
            message.contains("sha256 mismatch") && message.contains(String(repeating: "0", count: 64)),
            "message does not say what failed: \(message)")
        #expect(result.stderr.contains("victim"), "stderr does not name the failed VM: \(result.stderr)")

        for name in ["local-ok", "catalog-ok"] {
            let directory = vms.output.appendingPathComponent(name)
            let sums = try ProcessRunner.run(
                "sha256sum", ["--strict", "-c", "SHA256SUMS"], currentDirectory: directory)
            #expect(sums.exitCode == 0, "\(name): \(sums.stdout)\(sums.stderr)")
        }
        #expect(
            try treeSnapshot(vms.output.appendingPathComponent("victim")) == previous,
            "the failed VM's previous output changed")
        let entries = try FileManager.default.contentsOfDirectory(atPath: vms.output.path).sorted()
        #expect(entries == ["catalog-ok", "local-ok", "victim"], "partial leftovers: \(entries)")
        // The cache keeps nothing of the rejected download.
        let brokenSHA256 = Digest.sha256Hex(try Data(contentsOf: images.directory.path("www/broken.qcow2")))
        for (path, data) in try treeSnapshot(vms.cache) {
            guard let data else { continue }
            #expect(Digest.sha256Hex(data) != brokenSHA256, "the rejected image stayed in the cache as \(path)")
            #expect(!path.contains(brokenSHA256))
        }
    }

    /// --offline with an image missing from the cache: exit 1, a message naming the command to
    /// run on a connected machine, no connection, nothing written for the VM.
    @Test func offlineWithoutACachedImageNamesTheFetchCommand() throws {
        let images = try LoopbackImages()
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-offline")
        let file = try vms.directory.write("minimal.yaml", "name: minimal\nvmid: 9100\nimage: debian-12\n").path
        let before = try images.requestCount()
        let result = try seedgen([
            "build", "--offline", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, "--catalog",
            images.catalog.path, file,
        ])
        #expect(result.exitCode == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("seedgen image fetch debian-12"), "no command named: \(result.stderr)")
        #expect(try images.requestCount() == before, "--offline opened a connection")
        #expect(!FileManager.default.fileExists(atPath: vms.output.appendingPathComponent("minimal").path))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: vms.output.path)) ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")

        // After a connected `seedgen image fetch`, the same offline build succeeds.
        let fetch = try seedgen([
            "image", "fetch", "debian-12", "--progress", "none", "--cache", vms.cache.path, "--catalog",
            images.catalog.path,
        ])
        try #require(fetch.exitCode == 0, "\(fetch.stderr)")
        let offline = try seedgen([
            "build", "--offline", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, "--catalog",
            images.catalog.path, file,
        ])
        #expect(offline.exitCode == 0, "\(offline.stderr)")
    }
}

@Suite struct OutputDirectoryTests {
    /// Invalid input: exit 2, every diagnostic as FILE:LINE:COLUMN on stderr, and the output
    /// directory exactly as it was (a fresh one is not even created).
    @Test func invalidInputWritesNothing() throws {
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-invalid")
        let good = try vms.writeVM("good", vmid: 9601)
        let built = try seedgen(["build", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, good])
        try #require(built.exitCode == 0, "\(built.stderr)")
        try Data("kept\n".utf8).write(to: vms.output.appendingPathComponent("good/notes.txt"))
        let before = try treeSnapshot(vms.output)

        let bad = try vms.directory.write(
            "bad.yaml",
            """
            name: bad
            vmid: 12
            hardwre:
              cores: 2
            network:
              interfaces:
                - { bridge: vmbr0, ipv4: 300.1.2.3/24 }

            """
        ).path
        try vms.writeVM("good", vmid: 9601, packages: ["htop"])
        for output in [vms.output, vms.directory.path("fresh")] {
            let result = try seedgen([
                "build", "--progress", "none", "-o", output.path, "--cache", vms.cache.path, good, bad,
            ])
            #expect(result.exitCode == 2, "\(result.stdout)\(result.stderr)")
            let pattern = try NSRegularExpression(
                pattern: "^" + NSRegularExpression.escapedPattern(for: bad) + ":(\\d+):(\\d+): ",
                options: .anchorsMatchLines)
            let matches = pattern.matches(
                in: result.stderr, range: NSRange(result.stderr.startIndex..., in: result.stderr))
            let lines = Set(matches.map { (result.stderr as NSString).substring(with: $0.range(at: 1)) })
            #expect(
                lines.isSuperset(of: ["2", "3", "7"]), "diagnostics should point at lines 2, 3 and 7: \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        #expect(try treeSnapshot(vms.output) == before, "the output directory changed")
        #expect(
            !FileManager.default.fileExists(atPath: vms.directory.path("fresh").path),
            "a fresh output directory was created")
    }

    /// A rebuild after vm.yaml changed replaces DIR/<name> wholly: no stale seed ISO, no stray file.
    @Test func rebuildReplacesTheDirectoryWholly() throws {
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-rebuild")
        let file = try vms.writeVM("web", vmid: 9701)
        let arguments = [
            "build", "--json", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, file,
        ]
        let first = try BuildJSON.decode(try seedgen(arguments))
        let firstISO = try #require(first.vms.first?.seedISO)
        let directory = vms.output.appendingPathComponent("web")
        try Data("stale\n".utf8).write(to: directory.appendingPathComponent("stale.txt"))

        try vms.writeVM("web", vmid: 9701, packages: ["qemu-guest-agent", "htop"])
        let second = try seedgen(arguments)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let secondISO = try #require(try BuildJSON.decode(second).vms.first?.seedISO)
        #expect(secondISO != firstISO, "a changed seed must get a new ISO name")
        let files = try regularFiles(directory)
        #expect(
            files == (Array(try checksumList(directory).keys) + ["SHA256SUMS"]).sorted(),
            "stale files survived: \(files)")
        #expect(!files.contains("stale.txt") && !files.contains(firstISO))
        #expect(try String(contentsOf: directory.appendingPathComponent("user-data"), encoding: .utf8).contains("htop"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: vms.output.path) == ["web"])
    }

    /// --include-image puts image/<file> into the directory and SHA256SUMS covers it.
    @Test func includeImageIsCoveredBySHA256SUMS() throws {
        let images = try LoopbackImages()
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-include")
        let file = try vms.directory.write("minimal.yaml", "name: minimal\nvmid: 9100\nnode: pve01\nimage: debian-12\n")
            .path
        let result = try seedgen([
            "build", "--include-image", "--json", "--progress", "none", "-o", vms.output.path, "--cache",
            vms.cache.path, "--catalog", images.catalog.path, file,
        ])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let directory = vms.output.appendingPathComponent("minimal")
        let imagePath = "image/\(images.imageName)"
        #expect(try checksumList(directory)[imagePath] == images.imageSHA256)
        #expect(
            Digest.sha256Hex(try Data(contentsOf: directory.appendingPathComponent(imagePath))) == images.imageSHA256)
        #expect(try BuildJSON.decode(result).vms.first?.files[imagePath] == images.imageSHA256)
        let sums = try ProcessRunner.run("sha256sum", ["--strict", "-c", "SHA256SUMS"], currentDirectory: directory)
        #expect(sums.exitCode == 0 && sums.stdout.contains("\(imagePath): OK"), "\(sums.stdout)\(sums.stderr)")

        // The directory alone deploys: the image comes from image/, not the build machine's cache.
        try FileManager.default.removeItem(at: vms.cache)
        let plan = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("plan.json")))
                as? [String: Any])
        let node = try FakeNode(fakeNodeSetup(for: plan))
        let deploy = try node.deploy(directory.appendingPathComponent("deploy.sh"))
        #expect(deploy.exitCode == 0, "\(deploy.stdout)\(deploy.stderr)")
    }
}

@Suite struct ReproducibilityTests {
    /// The same inputs give byte-identical output directories, from different working
    /// directories at different times; SOURCE_DATE_EPOCH is honoured the same way.
    @Test func sameInputsGiveByteIdenticalOutput() throws {
        let images = try LoopbackImages()
        let workspace = try SampleWorkspace(images: images, prefix: "seedgen-e2e-repro")
        let cache = workspace.directory.path("cache")
        let files = SampleWorkspace.sampleFiles.map(workspace.path)
        func build(_ output: String, from directory: URL, epoch: String? = nil) throws -> [String: Data?] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let environment = buildEnvironment(epoch.map { ["SOURCE_DATE_EPOCH": $0] } ?? [:])
            let target = workspace.directory.path(output)
            let result = try seedgen(
                [
                    "build", "--progress", "none", "-o", target.path, "--cache", cache.path, "--catalog",
                    images.catalog.path,
                ] + files,
                environment: environment, currentDirectory: directory)
            #expect(result.exitCode == 0, "\(result.stderr)")
            return try treeSnapshot(target)
        }
        let first = try build("out-a", from: workspace.directory.path("cwd-a"))
        Thread.sleep(forTimeInterval: 1.1)
        let second = try build("out-b", from: workspace.directory.path("cwd-b"))
        #expect(!first.isEmpty)
        #expect(differences(first, second).isEmpty, "rebuild differs: \(differences(first, second))")

        let epochA = try build("out-epoch-a", from: workspace.directory.path("cwd-a"), epoch: "1700000000")
        Thread.sleep(forTimeInterval: 1.1)
        let epochB = try build("out-epoch-b", from: workspace.directory.path("cwd-b"), epoch: "1700000000")
        #expect(
            differences(epochA, epochB).isEmpty, "SOURCE_DATE_EPOCH rebuild differs: \(differences(epochA, epochB))")
        // The epoch reaches the ISO: a different epoch is a different seed file.
        #expect(
            Set(epochA.keys.filter { $0.hasSuffix(".iso") }).isDisjoint(
                with: first.keys.filter { $0.hasSuffix(".iso") }))
    }
}
