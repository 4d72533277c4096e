import ArgumentParser
import Foundation
import SeedgenImage

/// Verify throughput of seedgen's streaming hasher against sha256sum/sha512sum on one file, in the
/// same run, plus this process's peak RSS (the targets: ≥ 4× sha256sum, ≤ 32 MiB).
struct HashBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash", abstract: "Image verify throughput vs sha256sum/sha512sum, and peak RSS.")

    @Option(help: "Test file size in MiB.") var sizeMib: Int = 2048
    @Option(help: "Runs per tool; the fastest counts.") var iterations: Int = 3
    @Option(help: "Directory for the test file (default: the system temp directory).") var directory: String?

    func run() async throws {
        let folder = URL(fileURLWithPath: directory ?? NSTemporaryDirectory()).appendingPathComponent(
            "seedgen-bench-hash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("image.bin")
        try writeTestFile(file, mebibytes: sizeMib)
        let bytes = Double(sizeMib) * 1_048_576
        // Warm the page cache so every tool reads from memory, not from the disk.
        try BenchClock.runExternal("cat", [file.path, file.path])

        let ours256 = try BenchClock.measure(iterations: iterations) {
            _ = try ImageFileHasher.digests(of: file, includeSHA512: false)
        }.min()!
        let peer256 = try BenchClock.measure(iterations: iterations) {
            try BenchClock.runExternal("sha256sum", [file.path])
        }.min()!
        let ours512 = try BenchClock.measure(iterations: iterations) {
            _ = try ImageFileHasher.digests(of: file, includeSHA512: true)
        }.min()!
        let peer512 = try BenchClock.measure(iterations: iterations) {
            try BenchClock.runExternal("sha512sum", [file.path])
        }.min()!
        let peakRSS = try childPeakRSS(verifying: file, cache: folder.appendingPathComponent("cache"))

        func rate(_ seconds: Double) -> String { String(format: "%.0f MiB/s", bytes / seconds / 1_048_576) }
        print("hash benchmark: \(sizeMib) MiB file, best of \(iterations)")
        BenchRow.printTable([
            BenchRow(
                measurement: "verify sha256 vs sha256sum", seedgen: rate(ours256), peer: rate(peer256),
                ratio: peer256 / ours256, target: ">= 4x"),
            BenchRow(
                measurement: "verify sha256+sha512 vs sha512sum", seedgen: rate(ours512), peer: rate(peer512),
                ratio: peer512 / ours512, target: "(report)"),
            BenchRow(
                measurement: "peak RSS of `seedgen image verify FILE`",
                seedgen: String(format: "%.1f MiB", Double(peakRSS) / 1_048_576), peer: "32 MiB",
                ratio: 32 * 1_048_576 / Double(max(peakRSS, 1)), target: "<= 32 MiB (ratio >= 1x)"),
        ])
    }

    /// Peak RSS of the seedgen binary (beside this one) verifying `file`: the user-facing number,
    /// free of this benchmark's own buffers. Linux reports the largest waited-for child in KiB.
    private func childPeakRSS(verifying file: URL, cache: URL) throws -> UInt64 {
        let binary = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("seedgen")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BenchFailure("\(binary.path) missing: build the seedgen product in the same configuration first")
        }
        try BenchClock.runExternal(
            binary.path, ["image", "verify", file.path, "--cache", cache.path, "--progress", "none"])
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        return UInt64(usage.ru_maxrss) * 1024
    }

    /// Writes `mebibytes` of pseudo-random data (a 4 MiB random block, varied per block) without holding it in memory.
    private func writeTestFile(_ file: URL, mebibytes: Int) throws {
        guard FileManager.default.createFile(atPath: file.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: file.path)
        else {
            throw BenchFailure("cannot create \(file.path)")
        }
        defer { try? handle.close() }
        var block = [UInt8](repeating: 0, count: 4 << 20)
        var generator = SystemRandomNumberGenerator()
        for index in stride(from: 0, to: block.count, by: 8) {
            withUnsafeBytes(of: generator.next()) { block.replaceSubrange(index..<index + 8, with: $0) }
        }
        var written = 0
        var counter: UInt64 = 0
        while written < mebibytes << 20 {
            counter += 1
            withUnsafeBytes(of: counter) { block.replaceSubrange(0..<8, with: $0) }
            let count = min(block.count, (mebibytes << 20) - written)
            try handle.write(contentsOf: block[0..<count])
            written += count
        }
    }
}
