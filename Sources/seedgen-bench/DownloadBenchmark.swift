import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage

/// Download throughput of seedgen's fetcher (HTTPTransport on async-http-client, streaming into a
/// hashed .part) against `curl -o`, from the same loopback server in the same run (target ≥ 0.9×),
/// and the CPU time each spends per GiB (user + system, all threads; curl's as a child process).
struct DownloadBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download", abstract: "Image download throughput vs curl -o from one loopback server.")

    @Option(help: "Test file size in MiB.") var sizeMib: Int = 1024
    @Option(help: "Runs per tool; the fastest counts.") var iterations: Int = 3
    @Option(help: "The loopback server script.") var serverScript: String = "Tests/Fixtures/image/fault_server.py"
    @Option(help: "Directory for the served file and the downloads (default: the system temp directory).")
    var directory: String?

    func run() async throws {
        guard FileManager.default.fileExists(atPath: serverScript) else {
            throw BenchFailure("\(serverScript) not found: run from the package root or pass --server-script")
        }
        let folder = URL(fileURLWithPath: directory ?? NSTemporaryDirectory()).appendingPathComponent(
            "seedgen-bench-download-\(UUID().uuidString)")
        let www = folder.appendingPathComponent("www")
        try FileManager.default.createDirectory(at: www, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = www.appendingPathComponent("image.bin")
        try BenchClock.runExternal(
            "dd", ["if=/dev/urandom", "of=\(source.path)", "bs=1M", "count=\(sizeMib)", "status=none"])

        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", serverScript, www.path]
        let pipe = Pipe()
        server.standardOutput = pipe
        let serverExit = ProcessExit(server)
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            serverExit.wait()
        }
        var line = Data()
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([0x0A]) {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            throw BenchFailure("the loopback server did not start")
        }
        let url = URL(string: "http://127.0.0.1:\(port)/image.bin")!
        let target = folder.appendingPathComponent("download.part")
        let downloader = ImageDownloader(policy: ImageFetchPolicy(attempts: 1, stallTimeout: 60, backoff: 0))
        let silent = ImageProgressReporter(mode: .none, label: "")

        var ours: [Double] = []
        var peer: [Double] = []
        var ourCPU: [Double] = []
        var peerCPU: [Double] = []
        let clock = ContinuousClock()
        func runSeedgen() async throws {
            try? FileManager.default.removeItem(at: target)
            let cpuBefore = Self.cpuSeconds(Int32(RUSAGE_SELF.rawValue))
            let start = clock.now
            _ = try await downloader.download(url, to: target, includeSHA512: false, progress: silent)
            ours.append(BenchClock.seconds(clock.now - start))
            ourCPU.append(Self.cpuSeconds(Int32(RUSAGE_SELF.rawValue)) - cpuBefore)
        }
        func runCurl() throws {
            try? FileManager.default.removeItem(at: target)
            let childrenBefore = Self.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue))
            peer.append(
                try BenchClock.measure(iterations: 1) {
                    try BenchClock.runExternal(
                        "curl", ["-s", "-f", "--noproxy", "127.0.0.1", "-o", target.path, url.absoluteString])
                }[0])
            peerCPU.append(Self.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue)) - childrenBefore)
        }
        // The order alternates: on this kind of virtual machine the first write of a page-cache page
        // the guest has not touched lately costs the writer far more than a write into pages just
        // freed by the other tool's deleted download (`dd` of 1 GiB of zeros: 0.3 to 4.3 s).
        for round in 0..<iterations {
            if round % 2 == 0 {
                try await runSeedgen()
                try runCurl()
            } else {
                try runCurl()
                try await runSeedgen()
            }
        }
        try? FileManager.default.removeItem(at: target)
        let bytes = Double(sizeMib) * 1_048_576
        func rate(_ seconds: Double) -> String { String(format: "%.0f MiB/s", bytes / seconds / 1_048_576) }
        let best = ours.min()!, bestPeer = peer.min()!
        print(
            "download benchmark: \(sizeMib) MiB over loopback, best of \(iterations) (seedgen also hashes SHA-256 "
                + "while writing)"
        )
        let gib = bytes / 1_073_741_824
        let cpu = BenchClock.median(ourCPU) / gib, cpuPeer = BenchClock.median(peerCPU) / gib
        print(
            "runs (s): seedgen \(ours.map { String(format: "%.2f", $0) }.joined(separator: " ")), curl "
                + "\(peer.map { String(format: "%.2f", $0) }.joined(separator: " "))"
        )
        BenchRow.printTable([
            BenchRow(
                measurement: "download vs curl -o", seedgen: rate(best), peer: rate(bestPeer), ratio: bestPeer / best,
                target: ">= 0.9x"),
            BenchRow(
                measurement: "CPU per GiB (median)", seedgen: String(format: "%.2f s", cpu),
                peer: String(format: "%.2f s", cpuPeer), ratio: cpuPeer / cpu,
                target: "reported"),
        ])
    }

    /// User + system CPU seconds of this process (all threads) or of its waited-for children.
    private static func cpuSeconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(who, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
