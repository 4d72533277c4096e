import Foundation
import SeedgenCore

extension ImageStore {
    // MARK: Air-gap transfer

    /// Copies the cached images (all, or those matching `only`) with their lists, signatures,
    /// keyrings and index into `target`, for `seedgen image import` on an offline host.
    public func export(to target: URL, only: [String] = []) throws -> [ImageCacheRecord] {
        let records = try index.read().images.filter { record in
            only.isEmpty
                || only.contains {
                    $0 == record.name || $0 == record.source || $0 == record.fileName || $0 == record.sha256
                }
        }
        guard !records.isEmpty else {
            throw SeedgenError.runtime(
                message: only.isEmpty
                    ? "the image cache is empty" : "no cached image matches \(only.joined(separator: ", "))",
                hint: "fetch images first: seedgen image fetch NAME")
        }
        let fileManager = FileManager.default
        for folder in ["sha256", "lists", "keyrings"] {
            try fileManager.createDirectory(
                at: target.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for record in records {
            for relative in [record.blobPath]
                + [record.checksumList, record.signature, record.keyring].compactMap({ $0?.file })
            {
                let destination = target.appendingPathComponent(relative)
                if fileManager.fileExists(atPath: destination.path) { continue }
                let temporary = destination.deletingLastPathComponent().appendingPathComponent(
                    ".\(destination.lastPathComponent).tmp")
                try? fileManager.removeItem(at: temporary)
                do {
                    try fileManager.copyItem(at: directory.appendingPathComponent(relative), to: temporary)
                    try AtomicFile.replace(temporary, with: destination)
                } catch {
                    try? fileManager.removeItem(at: temporary)
                    throw SeedgenError.wrap(error, "cannot export \(relative) to \(target.path)")
                }
            }
        }
        var exported = ImageCacheIndexFile()
        exported.images = records
        try ImageCacheIndexStore.write(exported, to: target.appendingPathComponent("index.json"))
        return records
    }

    /// Re-verifies every image of an export directory and adds the good ones to the cache.
    /// Throws (exit 1) listing the bad ones; the good ones are imported regardless.
    public func importImages(from source: URL) throws -> [ImageVerifyFinding] {
        let indexFile = source.appendingPathComponent("index.json")
        guard FileManager.default.fileExists(atPath: indexFile.path) else {
            throw SeedgenError.runtime(
                message: "\(source.path) is not a seedgen image export (no index.json)",
                hint: "create one with `seedgen image export DIR` on the connected machine")
        }
        let records = try ImageCacheIndexFile.read(at: indexFile).images
        // Import adds to the cache's index: refuse before copying anything when it cannot be changed.
        try checkIndex()
        var findings: [ImageVerifyFinding] = []
        for record in records {
            let finding = verify(record, in: source)
            findings.append(finding)
            guard finding.ok else { continue }
            for relative in [record.blobPath]
                + [record.checksumList, record.signature, record.keyring].compactMap({ $0?.file })
            {
                let destination = directory.appendingPathComponent(relative)
                if FileManager.default.fileExists(atPath: destination.path) { continue }
                let temporary = temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString)")
                do {
                    try FileManager.default.copyItem(at: source.appendingPathComponent(relative), to: temporary)
                    try AtomicFile.replace(temporary, with: destination)
                } catch {
                    try? FileManager.default.removeItem(at: temporary)
                    throw SeedgenError.wrap(error, "cannot import \(relative) into \(directory.path)")
                }
            }
            // The bytes were checked against the index entry above; re-hash the copy only if it changed underneath.
            var imported = record
            imported.verification =
                finding.checks.contains { $0.hasPrefix("signed") }
                ? finding.checks.first { $0.hasPrefix("signed") }! : record.verification
            try self.index.update { index in
                index.images.removeAll { $0.source == imported.source && $0.sha256 == imported.sha256 }
                index.images.append(imported)
            }
        }
        let bad = findings.filter { !$0.ok }
        if !bad.isEmpty {
            throw SeedgenError.runtime(
                message:
                    "\(bad.count) of \(findings.count) exported images failed verification and were not imported:\n"
                    + bad.map {
                        "  \($0.record.fileName) (\($0.record.sha256.prefix(12))…): "
                            + "\($0.problems.joined(separator: "; "))"
                    }.joined(separator: "\n"),
                hint: "export them again from the connected machine")
        }
        return findings
    }
}
