import ArgumentParser
import Foundation
import SeedgenKit

/// Flags every subcommand that reports progress shares.
struct OutputOptions: ParsableArguments {
    @Option(help: "Progress display: auto (a bar only when stderr is a terminal), plain, none.")
    var progress: ProgressMode = .auto

    @Flag(help: "Print one machine-readable JSON result object on stdout.")
    var json = false
}

extension ProgressMode: ExpressibleByArgument {}

/// Runs a library call, printing a `SeedgenError` on stderr and exiting with its code (SPEC §3).
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SeedgenError {
        Terminal.standardError.write(error.description + "\n")
        throw ExitCode(error.exitCode)
    }
}
