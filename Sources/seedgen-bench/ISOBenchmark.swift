import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenISO

/// Seed ISO creation: seedgen's in-process libisofs writer against cloud-localds and
/// genisoimage per ISO, against the floor (the same bytes written with plain file writes), and
/// `seedgen iso` as a process against `cloud-localds` as a process — all in the same run.
struct ISOBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iso",
        abstract: "Seed ISOs: in-process libisofs vs cloud-localds, genisoimage and plain file writes.")

    @Option(help: "Seed ISOs built in-process per measurement.")
    var count = 500

    @Option(help: "Runs per external process measurement (cloud-localds takes ~20 ms each).")
    var processCount = 40

    @Option(help: "Interleaved rounds the runs are split into.")
    var rounds = 10

    @Option(
        help:
            "Where the ISOs are written (default: the system temporary directory); e.g. /dev/shm to leave the disk out."
    )
    var directory: String?

    @Option(help: "The seedgen binary for the process comparison (default: next to seedgen-bench).")
    var seedgen: String?

    func run() throws {
        let base = directory.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
        let workspace = base.appendingPathComponent("seedgen-bench-iso-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }
        let inputs = workspace.appendingPathComponent("inputs")
        let outputs = workspace.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        let files = Self.sampleFiles()
        for file in files { try file.data.write(to: inputs.appendingPathComponent(file.name)) }
        let inputPaths = files.map { inputs.appendingPathComponent($0.name).path }
        let seedgenBinary = try locateSeedgen()
        // cloud-localds builds in a temporary directory of its own: keep it on the same file system.
        var toolEnvironment = ProcessInfo.processInfo.environment
        toolEnvironment["TMPDIR"] = workspace.path
        for tool in ["cloud-localds", "genisoimage"] {
            guard (try? BenchClock.runExternal("sh", ["-c", "command -v \(tool)"])) != nil else {
                throw BenchFailure("\(tool) is not installed: run scripts/install-deps.sh as root")
            }
        }
        let epoch = BuildEpoch.current()
        let image = try SeedISO.image(files: files, epoch: epoch)
        print("seed: \(files.map { "\($0.name) \($0.data.count) B" }.joined(separator: ", ")); ISO \(image.count) B")
        print("in-process: \(count) ISOs per measurement; processes: \(processCount) runs each; in \(workspace.path)\n")

        // Warm-up: page cache, libisofs initialisation, dynamic loader for the tools.
        _ = try SeedISO.image(files: files, epoch: epoch)
        try BenchClock.runExternal(
            "cloud-localds", [outputs.appendingPathComponent("warm.iso").path] + Array(inputPaths.prefix(2)))

        var index = 0
        func nextTarget() -> URL {
            index += 1
            return outputs.appendingPathComponent("seed-\(index).iso")
        }
        // Interleaved rounds: every variant runs in every round, so a load spike from other work on
        // the machine hits all of them alike and the ratios stay fair.
        let rounds = max(1, min(rounds, count, processCount))
        let genisoimageTarget = outputs.appendingPathComponent("genisoimage.iso")
        var durable: [Double] = [], inMemory: [Double] = [], inMemoryPlusPlainWrite: [Double] = []
        var floorPlain: [Double] = [], floorDurable: [Double] = []
        var cloudLocalds: [Double] = [], genisoimage: [Double] = [], seedgenProcess: [Double] = []
        for _ in 0..<rounds {
            let batch = count / rounds
            let processBatch = processCount / rounds
            durable += try BenchClock.measure(iterations: batch) {
                try SeedISO.write(files: files, epoch: epoch, to: nextTarget())
            }
            inMemory += try BenchClock.measure(iterations: batch) {
                _ = try SeedISO.image(files: files, epoch: epoch)
            }
            inMemoryPlusPlainWrite += try BenchClock.measure(iterations: batch) {
                let bytes = try SeedISO.image(files: files, epoch: epoch)
                try bytes.write(to: nextTarget())
            }
            floorPlain += try BenchClock.measure(iterations: batch) {
                try image.write(to: nextTarget())
            }
            floorDurable += try BenchClock.measure(iterations: batch) {
                try AtomicFile.write(image, to: nextTarget())
            }
            cloudLocalds += try BenchClock.measure(iterations: processBatch) {
                try BenchClock.runExternal(
                    "cloud-localds", [nextTarget().path, inputPaths[0], inputPaths[1], "-N", inputPaths[2]],
                    environment: toolEnvironment)
            }
            genisoimage += try BenchClock.measure(iterations: processBatch) {
                try BenchClock.runExternal(
                    "genisoimage",
                    ["-quiet", "-output", genisoimageTarget.path, "-volid", "cidata", "-joliet", "-rock"] + inputPaths)
            }
            seedgenProcess += try BenchClock.measure(iterations: processBatch) {
                try BenchClock.runExternal(
                    seedgenBinary, ["iso", nextTarget().path, inputPaths[0], inputPaths[1], "-N", inputPaths[2]])
            }
        }
        let genisoimageSize = (try Data(contentsOf: genisoimageTarget)).count

        func milliseconds(_ samples: [Double]) -> String {
            String(format: "%.3f ms", BenchClock.median(samples) * 1000)
        }
        func ratio(_ peer: [Double], _ ours: [Double]) -> Double { BenchClock.median(peer) / BenchClock.median(ours) }
        BenchRow.printTable([
            BenchRow(
                measurement: "seed ISO per ISO: SeedISO.write vs cloud-localds", seedgen: milliseconds(durable),
                peer: milliseconds(cloudLocalds), ratio: ratio(cloudLocalds, durable), target: ">= 50x"),
            BenchRow(
                measurement: "seed ISO per ISO: SeedISO.image (in memory) vs cloud-localds",
                seedgen: milliseconds(inMemory),
                peer: milliseconds(cloudLocalds), ratio: ratio(cloudLocalds, inMemory), target: ">= 50x"),
            BenchRow(
                measurement: "seed ISO per ISO: image()+plain write vs cloud-localds",
                seedgen: milliseconds(inMemoryPlusPlainWrite),
                peer: milliseconds(cloudLocalds), ratio: ratio(cloudLocalds, inMemoryPlusPlainWrite), target: ">= 50x"),
            BenchRow(
                measurement: "seed ISO per ISO: SeedISO.write vs genisoimage -J -R -V cidata",
                seedgen: milliseconds(durable),
                peer: milliseconds(genisoimage), ratio: ratio(genisoimage, durable), target: "-"),
            BenchRow(
                measurement: "floor: image()+plain write vs same bytes, plain write",
                seedgen: milliseconds(inMemoryPlusPlainWrite),
                peer: milliseconds(floorPlain), ratio: ratio(floorPlain, inMemoryPlusPlainWrite),
                target: ">= 0.33x (within 3x)"),
            BenchRow(
                measurement: "floor: SeedISO.write vs same bytes, temp+fsync+rename", seedgen: milliseconds(durable),
                peer: milliseconds(floorDurable), ratio: ratio(floorDurable, durable),
                target: ">= 0.33x (within 3x)"),
            BenchRow(
                measurement: "process: seedgen iso vs cloud-localds", seedgen: milliseconds(seedgenProcess),
                peer: milliseconds(cloudLocalds), ratio: ratio(cloudLocalds, seedgenProcess), target: ">= 3x"),
            BenchRow(
                measurement: "ISO size vs genisoimage", seedgen: "\(image.count / 1024) KiB",
                peer: "\(genisoimageSize / 1024) KiB",
                ratio: Double(genisoimageSize) / Double(image.count), target: "-"),
        ])
        print(
            String(format: "\npeak RSS of seedgen-bench: %.1f MiB", Double(BenchClock.peakResidentBytes()) / 1_048_576))
    }

    /// A typical seed: ~1 KiB cloud-config, meta-data with instance-id and hostname, v2 network-config.
    static func sampleFiles() -> [SeedFile] {
        var userData = "#cloud-config\nhostname: web01\nfqdn: web01.example.com\nusers:\n  - default\n"
        userData +=
            "  - name: ops\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    shell: /bin/bash\n    ssh_authorized_keys:\n"
        for key in 0..<8 {
            userData +=
                "      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\(String(repeating: "x", count: 43))\(key) ops@laptop\n"
        }
        userData +=
            "package_update: true\npackages: [qemu-guest-agent]\nruncmd:\n  - [systemctl, enable, --now, "
            + "qemu-guest-agent]\n"
        let metaData = "instance-id: iid-9001-0123456789abcdef\nlocal-hostname: web01\n"
        let networkConfig = """
            version: 2
            ethernets:
              eth0:
                match: {macaddress: "bc:24:11:12:34:56"}
                set-name: eth0
                addresses: [192.0.2.10/24]
                gateway4: 192.0.2.1
                nameservers: {addresses: [1.1.1.1]}

            """
        return [
            SeedFile(name: "user-data", data: Data(userData.utf8)),
            SeedFile(name: "meta-data", data: Data(metaData.utf8)),
            SeedFile(name: "network-config", data: Data(networkConfig.utf8)),
        ]
    }

    private func locateSeedgen() throws -> String {
        if let seedgen { return seedgen }
        let bench = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let sibling = bench.deletingLastPathComponent().appendingPathComponent("seedgen").path
        guard FileManager.default.isExecutableFile(atPath: sibling) else {
            throw BenchFailure(
                "no seedgen binary at \(sibling): build it (scripts/bench.sh does) or pass --seedgen PATH")
        }
        return sibling
    }
}
