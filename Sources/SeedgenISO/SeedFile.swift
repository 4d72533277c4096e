import Foundation
import SeedgenCore

/// One file for an ISO image's root, held in memory: its name and its bytes.
public struct SeedFile: Sendable, Hashable {
    public var name: String
    public var data: Data

    public init(name: String, data: Data) {
        self.name = name
        self.data = data
    }
}

extension SeedFile {
    /// Names that cannot stand at an ISO's root: empty, `.`/`..`, with `/` or NUL, over 255 bytes,
    /// or given twice. Each is an error naming the file; `examples` are names the error suggests.
    public static func nameDiagnostics(_ files: [SeedFile], examples: [String] = []) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        var seen = Set<String>()
        for file in files {
            if file.name.isEmpty || file.name == "." || file.name == ".." || file.name.contains("/")
                || file.name.utf8.contains(0) || file.name.utf8.count > 255
            {
                collector.error(
                    "'\(file.name)' is not a valid file name for the seed's root", at: nil, keyPath: "",
                    allowed: "a plain name without '/', at most 255 bytes"
                        + (examples.isEmpty ? "" : ", such as \(examples.joined(separator: ", "))"))
                continue
            }
            if !seen.insert(file.name).inserted {
                collector.error("given twice", at: nil, keyPath: file.name, allowed: "each seed file once")
            }
        }
        return collector.diagnostics
    }
}
