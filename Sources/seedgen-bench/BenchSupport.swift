import Foundation
import SeedgenCore

/// Wall-clock timing helpers shared by the benchmarks.
enum BenchClock {
    /// Runs `body` `iterations` times and returns each run's seconds.
    static func measure(iterations: Int, _ body: () throws -> Void) rethrows -> [Double] {
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        let clock = ContinuousClock()
        for _ in 0..<iterations {
            let start = clock.now
            try body()
            samples.append(seconds(clock.now - start))
        }
        return samples
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    static func median(_ samples: [Double]) -> Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Runs an external program to completion, discarding its output; throws on non-zero exit.
    static func runExternal(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        if let environment { process.environment = environment }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exit = ProcessExit(process)
        try process.run()
        exit.wait()
        guard process.terminationStatus == 0 else {
            throw BenchFailure("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }

    /// Peak resident set size of this process so far, in bytes (Linux `VmHWM`).
    static func peakResidentBytes() -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kib = line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0
            return kib * 1024
        }
        return 0
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One row of the ratio table every benchmark prints.
struct BenchRow {
    var measurement: String
    var seedgen: String
    var peer: String
    /// How many times better seedgen is (> 1 is faster/smaller), and the issue's target.
    var ratio: Double
    var target: String

    static func printTable(_ rows: [BenchRow]) {
        let header = ["measurement", "seedgen", "peer", "ratio", "target"]
        let cells = rows.map {
            [$0.measurement, $0.seedgen, $0.peer, $0.ratio.isNaN ? "" : String(format: "%.2fx", $0.ratio), $0.target]
        }
        let widths = (0..<header.count).map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        print(line(header))
        print(line(widths.map { String(repeating: "-", count: $0) }))
        for row in cells { print(line(row)) }
    }
}
