import ArgumentParser

/// Side-by-side benchmarks of seedgen against its peer tools (cloud-localds, genisoimage,
/// sha256sum, curl), measured in the same run and reported as ratios.
@main
struct SeedgenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seedgen-bench",
        abstract: "Measure seedgen against its peer tools; prints a table of ratios.",
        subcommands: [
            ISOBenchmark.self, HashBenchmark.self, DownloadBenchmark.self, BuildBenchmark.self, UploadBenchmark.self,
            ApplyBenchmark.self,
        ]
    )
}
