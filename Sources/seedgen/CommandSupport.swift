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

/// `--salt-key FILE`: the site's secret key for password salts, for commands that hash passwords.
struct SaltKeyOptions: ParsableArguments {
    @Option(
        name: .customLong("salt-key"),
        help: "A secret file (at least 16 bytes) that keys the password salts (default: $SEEDGEN_SALT_KEY_FILE).")
    var file: String?

    /// The process environment, with `--salt-key` taking the place of $SEEDGEN_SALT_KEY_FILE.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let file { environment[SpecLoader.passwordSaltKeyVariable] = file }
        return environment
    }
}

/// Runs a library call, printing a `SeedgenError` on stderr and exiting with its code (SPEC §3).
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SeedgenError {
        Terminal.standardError.write(error.description + "\n")
        throw ExitCode(error.exitCode)
    }
}
