import Foundation

/// The JSON object a failed command prints on stdout under `--json`, so a pipeline reads the
/// failure from the same stream as a result: `{"error": {"code", "kind", "message", "file",
/// "line", "column", "keyPath", "hint", "cause", "diagnostics"}}`. Position fields are those of
/// the first error when one is known, and absent otherwise.
public struct ErrorReport: Encodable, Sendable {
    public struct Body: Encodable, Sendable {
        /// The process exit code: 1 runtime failure, 2 invalid input or usage.
        public var code: Int32
        /// `invalid-input`, `usage` or `runtime`.
        public var kind: String
        public var message: String
        public var file: String?
        public var line: Int?
        public var column: Int?
        public var keyPath: String?
        public var hint: String?
        public var cause: String?
        /// Every positioned problem, for invalid input.
        public var diagnostics: [Diagnostic]?
    }

    public var error: Body

    public init(_ error: SeedgenError) {
        switch error {
        case .invalidInput(let diagnostics):
            let first = diagnostics.first { $0.severity == .error } ?? diagnostics.first
            self.error = Body(
                code: error.exitCode, kind: "invalid-input", message: first?.message ?? error.description,
                file: first?.location?.file, line: first?.location?.line, column: first?.location?.column,
                keyPath: first.flatMap { $0.keyPath.isEmpty ? nil : $0.keyPath }, diagnostics: diagnostics)
        case .usage(let message):
            self.error = Body(code: error.exitCode, kind: "usage", message: message)
        case .runtime(let message, let hint, let cause):
            self.error = Body(code: error.exitCode, kind: "runtime", message: message, hint: hint, cause: cause)
        case .aggregate(let errors):
            let diagnostics = errors.flatMap { inner -> [Diagnostic] in
                if case .invalidInput(let found) = inner { return found }
                return []
            }
            let positioned = diagnostics.first { $0.severity == .error }
            self.error = Body(
                code: error.exitCode, kind: error.exitCode == 2 ? "invalid-input" : "runtime",
                message: error.description,
                file: positioned?.location?.file, line: positioned?.location?.line,
                column: positioned?.location?.column,
                keyPath: positioned.flatMap { $0.keyPath.isEmpty ? nil : $0.keyPath },
                diagnostics: diagnostics.isEmpty ? nil : diagnostics)
        }
    }

    /// A usage error the argument parser found (unknown flag, missing argument, bad value).
    public static func usage(_ message: String) -> ErrorReport { ErrorReport(.usage(message)) }
}
