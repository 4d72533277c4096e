import Foundation

/// How progress is shown (SPEC §3): `auto` draws a bar only when stderr is a terminal; `bar`
/// draws it regardless (a terminal the process cannot see as one, e.g. behind a pipe to a pager).
public enum ProgressMode: String, Sendable, CaseIterable {
    case auto
    case bar
    case plain
    case none

    /// Resolves `auto` against the actual stderr: `bar` on a terminal, else `plain`.
    public var resolved: ProgressMode {
        guard self == .auto else { return self }
        return isatty(STDERR_FILENO) == 1 ? .bar : .plain
    }
}

/// Thread-safe line output to stdout/stderr; colour only when allowed (`NO_COLOR`, terminals).
public final class Terminal: Sendable {
    public static let standardError = Terminal(fileDescriptor: STDERR_FILENO)
    public static let standardOutput = Terminal(fileDescriptor: STDOUT_FILENO)

    private let fileDescriptor: Int32
    private let lock = NSLock()

    init(fileDescriptor: Int32) { self.fileDescriptor = fileDescriptor }

    public var isTerminal: Bool { isatty(fileDescriptor) == 1 }

    /// True when ANSI colour may be used: a terminal, and `NO_COLOR` unset or empty (no-color.org).
    public var colorEnabled: Bool {
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"] ?? ""
        return noColor.isEmpty && isTerminal
    }

    public func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Foundation.write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written <= 0 { break }
            offset += written
        }
    }
}

public enum SeedgenVersion {
    public static let current = "0.1.0"
}
