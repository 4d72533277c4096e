import ArgumentParser
import Foundation
import SeedgenCore

/// `seedgen build` as a user runs it (the release binary, a fresh process per run) on fleets of
/// 1, 100 and 1000 generated VM files whose image needs no download, with the child's peak RSS.
struct BuildBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "seedgen build of 1, 100 and 1000 VMs: wall time and peak RSS per process.")

    @Option(help: "Fleet sizes, comma-separated.") var counts: String = "1,100,1000"
    @Option(help: "Runs per fleet size; the median counts.") var iterations: Int = 5
    @Option(help: "Parallel jobs passed to seedgen build (default: the number of cores).") var jobs: Int?
    @Option(help: "The seedgen binary (default: next to seedgen-bench).") var seedgen: String?
    @Option(help: "The image the VMs use (default: samples/images/demo.qcow2).") var image: String =
        "samples/images/demo.qcow2"
    @Option(help: "Working directory for the VM files and outputs (default: the system temp directory).") var directory:
        String?

    func run() throws {
        let binary =
            seedgen
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "seedgen"
            ).path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchFailure("no seedgen binary at \(binary); build it with scripts/bench.sh")
        }
        let imagePath = URL(fileURLWithPath: image).standardizedFileURL.path
        let imageDigest = Digest.sha256Hex(try Data(contentsOf: URL(fileURLWithPath: imagePath)))
        let folder = URL(fileURLWithPath: directory ?? NSTemporaryDirectory()).appendingPathComponent(
            "seedgen-bench-build-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let jobCount = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        let sizes = counts.split(separator: ",").compactMap { Int($0) }

        var rows: [BenchRow] = []
        var perVMMemory: [(Int, Double)] = []
        for count in sizes {
            let inputs = folder.appendingPathComponent("fleet-\(count)")
            try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
            var files: [String] = []
            for index in 0..<count {
                let file = inputs.appendingPathComponent("vm\(index).yaml")
                try Data(Self.vmFile(index: index, imagePath: imagePath, digest: imageDigest).utf8).write(to: file)
                files.append(file.path)
            }
            var seconds: [Double] = []
            var peakKiB = 0
            for run in 0..<iterations {
                let output = folder.appendingPathComponent("out-\(count)-\(run)")
                let cache = folder.appendingPathComponent("cache")
                let (elapsed, maxRSS, status) = try Self.spawnMeasured(
                    binary,
                    ["build", "-o", output.path, "--cache", cache.path, "-j", String(jobCount), "--progress", "none"]
                        + files)
                guard status == 0 else { throw BenchFailure("seedgen build of \(count) VMs exited \(status)") }
                seconds.append(elapsed)
                peakKiB = max(peakKiB, maxRSS)
                // Outputs stay until the end (about 120 MB per 1000 VMs): on ext4 without a
                // journal, creating files right after deleting thousands scans the freed inodes
                // (`recently_deleted`), and the next run measured the benchmark's own clean-up.
            }
            let median = BenchClock.median(seconds)
            perVMMemory.append((count, Double(peakKiB) / 1024))
            let target: Double? = count == 1 ? 0.030 : (count == 1000 ? 2.0 : nil)
            rows.append(
                BenchRow(
                    measurement: "seedgen build, \(count) VM\(count == 1 ? "" : "s") (-j \(jobCount))",
                    seedgen: String(format: "%.1f ms", median * 1000),
                    peer: target.map { String(format: "%.0f ms", $0 * 1000) } ?? "-",
                    ratio: target.map { $0 / median } ?? 1,
                    target: target.map { "<= \(Int($0 * 1000)) ms (ratio >= 1x)" } ?? "(report)"))
            rows.append(
                BenchRow(
                    measurement: "  peak RSS, \(count) VM\(count == 1 ? "" : "s")",
                    seedgen: String(format: "%.1f MiB", Double(peakKiB) / 1024),
                    peer: "-", ratio: 1, target: "flat in fleet size"))
        }
        if let first = perVMMemory.first, let last = perVMMemory.last, first.0 != last.0 {
            rows.append(
                BenchRow(
                    measurement: "peak RSS growth \(first.0) → \(last.0) VMs",
                    seedgen: String(format: "%.1f → %.1f MiB", first.1, last.1),
                    peer: "-", ratio: first.1 / last.1, target: "flat (ratio near 1x)"))
        }
        print(
            "build benchmark: release seedgen, a fresh process per run, median of \(iterations), image needs no "
                + "download"
        )
        BenchRow.printTable(rows)
    }

    static func vmFile(index: Int, imagePath: String, digest: String) -> String {
        """
        name: bench\(index)
        vmid: \(10000 + index)
        image: { path: "\(imagePath)", sha256: \(digest) }
        network:
          interfaces:
            - { bridge: vmbr0, ipv4: "10.\(index / 62500 % 250).\(index / 250 % 250).\(index % 250 + 1)/8", gateway4: 10.255.255.254 }
        cloud_init:
          users:
            - name: ops
              ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPF9XZLDWUasQx7m+swcssVUf/eUt5HNgr1qtNzkMBo ops@laptop"]
          packages: [qemu-guest-agent]

        """
    }

    /// Runs a process to completion and returns its wall time, peak RSS (KiB, from wait4) and exit status.
    static func spawnMeasured(_ executable: String, _ arguments: [String]) throws -> (Double, Int, Int32) {
        var pid: pid_t = 0
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let clock = ContinuousClock()
        let start = clock.now
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw BenchFailure("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        let elapsed = BenchClock.seconds(clock.now - start)
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (elapsed, usage.ru_maxrss, exitStatus)
    }
}
