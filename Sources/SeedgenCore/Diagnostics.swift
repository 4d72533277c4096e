import Foundation

/// A position inside an input file, 1-based as libyaml reports it.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in the user's input, printed as
/// `FILE:LINE:COLUMN: error: key.path: what is wrong (what is allowed)`.
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        case error
        case warning
        /// Information that needs no action (for example a playbook task that is not a VM).
        case note
    }

    public var severity: Severity
    public var location: SourceLocation?
    /// Dotted key path inside the document, e.g. `network.interfaces[0].mac`; empty for the whole file.
    public var keyPath: String
    public var message: String
    /// What would have been accepted; printed in parentheses.
    public var allowed: String?

    public init(
        _ severity: Severity = .error, at location: SourceLocation?, keyPath: String, message: String,
        allowed: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.allowed = allowed
    }

    public var description: String {
        var text = ""
        if let location { text += "\(location): " }
        text += "\(severity.rawValue): "
        if !keyPath.isEmpty { text += "\(keyPath): " }
        text += message
        if let allowed { text += " (\(allowed))" }
        return text
    }
}

/// Collects every finding instead of stopping at the first, so a user fixes a file in one pass.
public struct DiagnosticCollector: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

    public mutating func error(
        _ message: String, at location: SourceLocation?, keyPath: String, allowed: String? = nil
    ) {
        diagnostics.append(Diagnostic(.error, at: location, keyPath: keyPath, message: message, allowed: allowed))
    }

    public mutating func warning(
        _ message: String, at location: SourceLocation?, keyPath: String, allowed: String? = nil
    ) {
        diagnostics.append(Diagnostic(.warning, at: location, keyPath: keyPath, message: message, allowed: allowed))
    }

    public mutating func append(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }
    public mutating func append(contentsOf other: [Diagnostic]) { diagnostics.append(contentsOf: other) }

    /// Throws `SeedgenError.invalidInput` when any error was collected.
    public func throwIfErrors() throws {
        if hasErrors { throw SeedgenError.invalidInput(diagnostics) }
    }
}
