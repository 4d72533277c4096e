import Foundation
import SeedgenCore

public struct ImageGCReport: Sendable, Hashable, Codable {
    public var removedFiles: [String] = []
    public var freedBytes: UInt64 = 0
    public var removedRecords = 0
    /// Files under sha256/, lists/ or keyrings/ that no entry names and that were kept: an
    /// index restored from an old backup may not name them, and they may be the only copy.
    public var keptUnindexedFiles: [String] = []
}

extension ImageStore {
    // MARK: Garbage collection

    /// Drops index records matching `remove` (catalog name, URL, file name or sha256) and deletes
    /// the files only they referenced, and `.part` downloads no process is writing. Files that no
    /// record named to begin with are kept unless `removeUnindexed` is set. An index that cannot
    /// be read stops it before anything is deleted.
    public func collectGarbage(remove: [String] = [], removeUnindexed: Bool = false) throws -> ImageGCReport {
        var report = ImageGCReport()
        let lock = try ImageFileLock.acquireBlocking(directory.appendingPathComponent("index.lock"))
        defer { lock.release() }
        var index = try index.read()
        func referencedFiles() -> Set<String> {
            var referenced = Set<String>()
            for record in index.images {
                referenced.insert(record.blobPath)
                for file in [record.checksumList, record.signature, record.keyring].compactMap({ $0 }) {
                    referenced.insert(file.file)
                }
            }
            return referenced
        }
        let referencedBefore = referencedFiles()
        if !remove.isEmpty {
            let before = index.images.count
            index.images.removeAll { record in
                remove.contains {
                    $0 == record.name || $0 == record.source || $0 == record.fileName || $0 == record.sha256
                }
            }
            report.removedRecords = before - index.images.count
            if report.removedRecords > 0 { try ImageCacheIndexStore.write(index, to: self.index.url) }
        }
        let referenced = referencedFiles()
        let fileManager = FileManager.default
        for folder in ["sha256", "lists", "keyrings"] {
            for name
                in ((try? fileManager.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)) ?? [])
                .sorted()
            {
                let relative = "\(folder)/\(name)"
                if referenced.contains(relative) { continue }
                if referencedBefore.contains(relative) || removeUnindexed {
                    removeCacheFile(relative, into: &report)
                } else {
                    report.keptUnindexedFiles.append(relative)
                }
            }
        }
        for name in (try? fileManager.contentsOfDirectory(atPath: temporaryDirectory.path)) ?? [] {
            if name.hasSuffix(".part") {
                let lockFile = directory.appendingPathComponent("locks/\(name.dropLast(5)).lock")
                guard ImageFileLock.isFree(lockFile) else { continue }
            }
            removeCacheFile("tmp/\(name)", into: &report)
        }
        return report
    }

    private func removeCacheFile(_ relative: String, into report: inout ImageGCReport) {
        let url = directory.appendingPathComponent(relative)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.uint64Value ?? 0
        if (try? FileManager.default.removeItem(at: url)) != nil {
            report.removedFiles.append(relative)
            report.freedBytes += size
        }
    }
}
