import Foundation

/// The one error type seedgen's library throws. Its `exitCode` is the process exit code of SPEC §3:
/// 2 for invalid input or usage, 1 for runtime failures (download, I/O, verification).
public enum SeedgenError: Error, Sendable, CustomStringConvertible {
    /// Problems in the user's files, each positioned; nothing was written.
    case invalidInput([Diagnostic])
    /// Wrong command-line usage that the argument parser could not catch.
    case usage(String)
    /// A runtime failure: what failed, an actionable hint, and the underlying cause.
    case runtime(message: String, hint: String? = nil, cause: String? = nil)
    /// Several independent failures (for example one per VM of a fleet).
    case aggregate([SeedgenError])

    public var exitCode: Int32 {
        switch self {
        case .invalidInput, .usage: return 2
        case .runtime: return 1
        case .aggregate(let errors):
            return errors.map(\.exitCode).max() ?? 1
        }
    }

    public var description: String {
        switch self {
        case .invalidInput(let diagnostics):
            return diagnostics.map(\.description).joined(separator: "\n")
        case .usage(let message):
            return "error: \(message)"
        case .runtime(let message, let hint, let cause):
            var lines = ["error: \(message)"]
            if let cause { lines.append("  cause: \(cause)") }
            if let hint { lines.append("  hint: \(hint)") }
            return lines.joined(separator: "\n")
        case .aggregate(let errors):
            return errors.map(\.description).joined(separator: "\n")
        }
    }

    /// Wraps any error as a runtime failure, keeping seedgen's own errors as they are.
    public static func wrap(_ error: any Error, _ message: String, hint: String? = nil) -> SeedgenError {
        if let error = error as? SeedgenError { return error }
        if let error = error as? any SeedgenErrorConvertible { return error.seedgenError }
        return .runtime(message: message, hint: hint, cause: String(describing: error))
    }
}

/// An error of a lower layer that knows how to say itself as a `SeedgenError` (the HTTP transport's,
/// with its message, cause and hint), so `wrap` keeps its words instead of a generic message.
public protocol SeedgenErrorConvertible: Error {
    var seedgenError: SeedgenError { get }
}
