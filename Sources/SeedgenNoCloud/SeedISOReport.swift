import Foundation
import SeedgenCore

/// How `seedgen iso` and `seedgen inspect` print their results.
public enum SeedISOReport {
    /// One JSON object and a newline, in seedgen's shared JSON style.
    public static func json(_ value: some Encodable) throws -> String {
        do {
            return try JSONOutput.string(value)
        } catch {
            throw SeedgenError.wrap(error, "cannot encode the result as JSON")
        }
    }

    /// The human-readable inspection: label, extensions, a file table, instance-id, warnings.
    public static func text(_ inspection: SeedISOInspection) -> String {
        var extensions = ["ISO 9660"]
        if inspection.rockRidge { extensions.append("Rock Ridge") }
        if inspection.joliet { extensions.append("Joliet") }
        var lines = [
            "image:       \(inspection.path) (\(inspection.imageSize) bytes)",
            "volume id:   \(inspection.volumeID)",
            "extensions:  \(extensions.joined(separator: ", "))",
            "instance-id: \(inspection.instanceID ?? "(none)")",
            "files:",
        ]
        let nameWidth = max(4, inspection.files.map(\.path.count).max() ?? 0)
        let sizeWidth = max(4, inspection.files.map { String($0.size).count }.max() ?? 0)
        for file in inspection.files {
            let name = file.path.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let size = String(repeating: " ", count: sizeWidth - String(file.size).count) + String(file.size)
            lines.append("  \(name)  \(size)  \(file.mode)  \(file.uid):\(file.gid)  sha256:\(file.sha256.prefix(16))")
        }
        if inspection.files.isEmpty { lines.append("  (none)") }
        if inspection.warnings.isEmpty {
            lines.append("no problems found")
        } else {
            lines += inspection.warnings.map { "warning: \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
