import Foundation
import SeedgenCore

/// The cache's `index.json` as a file: read strictly (a damaged or newer index stops the command
/// that would change the cache, with the file named), written atomically so readers never need a
/// lock, and changed only under `index.lock` so parallel builds sharing a cache lose no record.
package struct ImageCacheIndexStore: Sendable {
    let url: URL
    let lockURL: URL

    init(directory: URL) {
        url = directory.appendingPathComponent("index.json")
        lockURL = directory.appendingPathComponent("index.lock")
    }

    func read() throws(SeedgenError) -> ImageCacheIndexFile { try ImageCacheIndexFile.read(at: url) }

    /// Read-modify-write under the lock.
    func update(_ body: (inout ImageCacheIndexFile) throws -> Void) throws {
        let lock = try ImageFileLock.acquireBlocking(lockURL)
        defer { lock.release() }
        var index = try read()
        try body(&index)
        try Self.write(index, to: url)
    }

    /// Adds `record`, replacing an earlier one of the same source and digest.
    func add(_ record: ImageCacheRecord) throws {
        try update { index in
            index.images.removeAll { $0.source == record.source && $0.sha256 == record.sha256 }
            index.images.append(record)
        }
    }

    /// An index file anywhere (an export's), in the cache's own format.
    static func write(_ index: ImageCacheIndexFile, to url: URL) throws {
        try AtomicFile.write(try JSONOutput.data(index), to: url)
    }
}
