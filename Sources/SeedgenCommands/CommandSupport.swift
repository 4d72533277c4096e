import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenSpec

/// Flags every subcommand that reports progress shares.
struct OutputOptions: ParsableArguments {
    @Option(help: "Progress display: auto (a bar only when stderr is a terminal), bar, plain, none.")
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
/// Under `--json` the error is also printed on stdout as an `ErrorReport`, unless the command
/// already printed its result object there (one JSON document on stdout, never two).
func reportingErrors<T>(json: Bool = false, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SeedgenError {
        report(error, json: json)
        throw ExitCode(error.exitCode)
    }
}

/// Prints a `SeedgenError` on stderr and, under `--json`, as an `ErrorReport` on stdout unless a
/// result object is already there: what every command does with its errors (SPEC §3).
func report(_ error: SeedgenError, json: Bool) {
    Terminal.standardError.write(error.description + "\n")
    if json, !StandardOutputJSON.wasWritten { StandardOutputJSON.write(ErrorReport(error)) }
}

/// `reportingErrors` for a synchronous command.
func reportingErrorsSynchronously<T>(json: Bool = false, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SeedgenError {
        report(error, json: json)
        throw ExitCode(error.exitCode)
    }
}

/// Every JSON document the commands print on stdout goes through here, so an error report is
/// never printed after a result.
enum StandardOutputJSON {
    private static let written = WrittenFlag()

    static var wasWritten: Bool { written.isSet }

    package static func write(_ value: some Encodable) {
        written.set()
        // Encoding these types cannot fail; an empty object keeps stdout valid JSON regardless.
        Terminal.standardOutput.write((try? JSONOutput.string(value)) ?? "{}\n")
    }

    /// A document already encoded.
    package static func write(encoded text: String) {
        written.set()
        Terminal.standardOutput.write(text)
    }

    private final class WrittenFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }
}
