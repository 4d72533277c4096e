import Foundation

/// Writes files so that a reader never sees a half-written one: a temporary file in the target's
/// own directory, fsynced, then renamed over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL, permissions: Int = 0o644) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: permissions]) else {
            throw SeedgenError.runtime(
                message: "cannot write \(url.path)",
                hint: "check that \(directory.path) exists and is writable",
                cause: String(cString: strerror(errno)))
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: temporary.path)
            try replace(temporary, with: url)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SeedgenError.wrap(error, "cannot write \(url.path)")
        }
    }

    /// Renames `source` to `destination`, replacing it; both must be on one file system.
    public static func replace(_ source: URL, with destination: URL) throws {
        if rename(source.path, destination.path) != 0 {
            throw SeedgenError.runtime(
                message: "cannot move \(source.path) to \(destination.path)",
                cause: String(cString: strerror(errno)))
        }
    }
}
