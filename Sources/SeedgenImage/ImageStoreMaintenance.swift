import Foundation
import SeedgenCore

/// The result of re-verifying one cached (or exported) image.
public struct ImageVerifyFinding: Sendable, Hashable, Codable {
    public var record: ImageCacheRecord
    /// Empty when everything checked out.
    public var problems: [String]
    /// What was checked, e.g. `sha256 ok; SHA256SUMS signed (VALIDSIG …); listed digest ok`.
    public var checks: [String]

    public var ok: Bool { problems.isEmpty }
}

public struct ImageGCReport: Sendable, Hashable, Codable {
    public var removedFiles: [String] = []
    public var freedBytes: UInt64 = 0
    public var removedRecords = 0
    /// Files under sha256/, lists/ or keyrings/ that no entry names and that were kept: an
    /// index restored from an old backup may not name them, and they may be the only copy.
    public var keptUnindexedFiles: [String] = []
}

extension ImageStore {
    // MARK: Lock

    /// Resolves `spec`'s moving URL (`current`, `latest`) to the dated one, fetches and verifies it,
    /// and returns the lockfile key and entry. Local paths need no lock (nil).
    ///
    /// A URL that nothing verifies (no digest, no checksum list, no publisher) is locked only with
    /// `trustOnFirstUse`: its first download is then taken as the truth and marked as such.
    public func lockEntry(for spec: ImageSpec, trustOnFirstUse: Bool = false) async throws -> (key: String, entry: ImageLockEntry)? {
        if spec.path != nil { return nil }
        var plan = try await pinnedToDatedURL(try ImageSourcePlan(spec: spec, catalog: catalog))
        let unverifiable = plan.checksumsURL == nil && plan.pinnedHex == nil
        if unverifiable {
            guard trustOnFirstUse else {
                throw SeedgenError.usage(
                    "\(plan.imageURL.absoluteString) has no digest or checksum list to verify it: add a sha256, or pin it on first use with `seedgen image lock FILE --trust-on-first-use`")
            }
            plan.firstUseTrust = true
        }
        let resolved = try await fetch(plan)
        return (plan.key, ImageLockEntry(
            url: plan.imageURL.absoluteString, fileName: plan.fileName, sha256: resolved.sha256, size: resolved.size,
            verification: resolved.verification, trust: unverifiable ? ImageLockEntry.firstUseTrust : nil))
    }

    /// The plan with its moving URL replaced by the newest dated one the publisher lists.
    public func pinnedToDatedURL(_ plan: ImageSourcePlan) async throws -> ImageSourcePlan {
        guard let latest = plan.latest, plan.pinnedHex == nil else { return plan }
        if offline {
            throw SeedgenError.runtime(message: "resolving \(plan.key) to a dated image needs the network, and --offline forbids it", hint: "run `seedgen image lock` on a connected machine and commit seedgen.lock")
        }
        var dated = plan
        dated.latest = nil
        switch latest {
        case .serialDirectory(let indexURL, let serialPattern, let imageURL, let checksumsURL, let signatureURL):
            guard let index = URL(string: indexURL) else { throw SeedgenError.runtime(message: "bad index URL \(indexURL)") }
            let html = String(decoding: try await downloader.fetchSmall(index, scratch: temporaryDirectory), as: UTF8.self)
            guard let serial = try Self.newestSerial(in: html, matching: serialPattern) else {
                throw SeedgenError.runtime(message: "no dated build of \(plan.key) found in \(indexURL)", hint: "the publisher's layout may have changed; pin a URL and sha256 in vm.yaml instead")
            }
            func substitute(_ template: String) -> URL? { URL(string: template.replacingOccurrences(of: "{serial}", with: serial)) }
            guard let image = substitute(imageURL) else { throw SeedgenError.runtime(message: "bad dated URL for \(plan.key)") }
            dated.imageURL = image
            dated.fileName = image.lastPathComponent
            dated.checksumsURL = substitute(checksumsURL)
            dated.signatureURL = signatureURL.flatMap(substitute)
        case .sameDigestInList(let datedNamePattern):
            guard let checksumsURL = plan.checksumsURL, let algorithm = plan.listAlgorithm else { return plan }
            let verified = try await verifiedChecksumList(plan, checksumsURL: checksumsURL)
            guard let hex = verified.list.digest(for: plan.fileName, algorithm: algorithm) else {
                throw SeedgenError.runtime(message: "\(checksumsURL.lastPathComponent) has no \(algorithm.rawValue) line for \(plan.fileName)")
            }
            let pattern = try NSRegularExpression(pattern: datedNamePattern)
            let names = verified.list.fileNames(withDigest: hex).filter { $0 != plan.fileName && pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
            guard let name = names.max(), let url = ImageSourcePlan.resolve(name, against: plan.imageURL) else {
                throw SeedgenError.runtime(message: "\(checksumsURL.lastPathComponent) names no dated twin of \(plan.fileName)", hint: "pin the URL and sha256 in vm.yaml instead")
            }
            dated.imageURL = url
            dated.fileName = name
        }
        return dated
    }

    /// The newest dated directory linked from a publisher's index page. Serials compare by their
    /// numbers, not as text: Debian's build number after the date has no fixed width
    /// (`20250428-999` comes before `20250428-1000`).
    public static func newestSerial(in html: String, matching serialPattern: String) throws -> String? {
        let pattern = try NSRegularExpression(pattern: serialPattern)
        let serials = links(in: html).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter {
            pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil
        }
        return serials.max { $0.compare($1, options: .numeric) == .orderedAscending }
    }

    static func links(in html: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: "href=\"([^\"?#]+)\"", options: [.caseInsensitive]) else { return [] }
        return expression.matches(in: html, range: NSRange(html.startIndex..., in: html)).compactMap { match in
            Range(match.range(at: 1), in: html).map { String(html[$0]).replacingOccurrences(of: "./", with: "") }
        }
    }

    // MARK: Verify

    /// Re-verifies every cached image offline: its digest, its checksum list and the list's signature.
    public func verifyAll() throws -> [ImageVerifyFinding] {
        try readIndex().images.map { verify($0, in: directory) }
    }

    /// Checks `record` whose files live under `base` (the cache, or an export directory).
    func verify(_ record: ImageCacheRecord, in base: URL) -> ImageVerifyFinding {
        var finding = ImageVerifyFinding(record: record, problems: [], checks: [])
        let blob = base.appendingPathComponent(record.blobPath)
        let needsSHA512 = record.sha512 != nil || record.listAlgorithm == .sha512
        let digests: ImageDigests
        do {
            digests = try ImageFileHasher.digests(of: blob, includeSHA512: needsSHA512)
        } catch {
            finding.problems.append("image file \(record.blobPath) is missing or unreadable")
            return finding
        }
        if digests.sha256 != record.sha256 || digests.size != record.size {
            finding.problems.append("\(record.blobPath) is corrupt: sha256 \(digests.sha256), \(digests.size) bytes (expected \(record.sha256), \(record.size) bytes)")
            return finding
        }
        finding.checks.append("sha256 ok")
        if let expected = record.sha512, digests.sha512 != expected {
            finding.problems.append("sha512 of \(record.blobPath) does not match the index")
        }
        guard let listFile = record.checksumList, let algorithm = record.listAlgorithm else {
            finding.checks.append(record.verification)
            return finding
        }
        let listURL = base.appendingPathComponent(listFile.file)
        guard let raw = try? Data(contentsOf: listURL), Digest.sha256Hex(raw) == listFile.file.split(separator: "/").last.map(String.init) else {
            finding.problems.append("checksum list \(listFile.file) is missing or altered")
            return finding
        }
        var listText = String(decoding: raw, as: UTF8.self)
        let style = record.signatureStyle ?? .none
        if style != .none {
            // Trust comes from the local catalog's pins when the image has a catalog name or lies
            // under a signing publisher's tree, never from the export.
            let publisherPins = URL(string: record.source).flatMap { catalog.publisher(covering: $0) }
                .flatMap { $0.signatureStyle == .none ? nil : $0.fingerprints }
            let pinned = record.name.flatMap { catalog.entry(named: $0)?.fingerprints } ?? publisherPins ?? record.fingerprints ?? []
            let keyringPath = record.keyring.map { base.appendingPathComponent($0.file) }
            var signature: Data?
            if let signatureFile = record.signature {
                signature = try? Data(contentsOf: base.appendingPathComponent(signatureFile.file))
                if signature == nil { finding.problems.append("signature \(signatureFile.file) is missing") }
            }
            if let keyringPath, finding.problems.isEmpty {
                do {
                    let verdict = try ImageSignatureVerifier.verify(
                        content: raw, signature: signature, style: style, keyring: keyringPath, pinned: pinned, scratch: temporaryDirectory,
                        what: URL(string: listFile.source)?.lastPathComponent ?? listFile.source)
                    listText = String(decoding: verdict.signedContent, as: UTF8.self)
                    finding.checks.append("signed (VALIDSIG \(verdict.fingerprint))")
                } catch let error as SeedgenError {
                    if case .runtime(let message, _, _) = error { finding.problems.append(message) } else { finding.problems.append(error.description) }
                } catch {
                    finding.problems.append("\(error)")
                }
            } else if keyringPath == nil {
                finding.problems.append("no keyring kept for the signature")
            }
        } else {
            finding.checks.append("digest-pinned, unsigned")
        }
        guard finding.problems.isEmpty else { return finding }
        let listed = ImageChecksumList(parsing: listText).digest(for: record.fileName, algorithm: algorithm)
        if listed == nil || listed != digests.hex(algorithm) {
            finding.problems.append("the checksum list does not list \(record.fileName) with this \(algorithm.rawValue)")
        } else {
            finding.checks.append("listed \(algorithm.rawValue) ok")
        }
        return finding
    }

    // MARK: Garbage collection

    /// Drops index records matching `remove` (catalog name, URL, file name or sha256) and deletes
    /// the files only they referenced, and `.part` downloads no process is writing. Files that no
    /// record named to begin with are kept unless `removeUnindexed` is set. An index that cannot
    /// be read stops it before anything is deleted.
    public func collectGarbage(remove: [String] = [], removeUnindexed: Bool = false) throws -> ImageGCReport {
        var report = ImageGCReport()
        let lock = try ImageFileLock.acquireBlocking(directory.appendingPathComponent("index.lock"))
        defer { lock.release() }
        var index = try readIndex()
        func referencedFiles() -> Set<String> {
            var referenced = Set<String>()
            for record in index.images {
                referenced.insert(record.blobPath)
                for file in [record.checksumList, record.signature, record.keyring].compactMap({ $0 }) { referenced.insert(file.file) }
            }
            return referenced
        }
        let referencedBefore = referencedFiles()
        if !remove.isEmpty {
            let before = index.images.count
            index.images.removeAll { record in
                remove.contains { $0 == record.name || $0 == record.source || $0 == record.fileName || $0 == record.sha256 }
            }
            report.removedRecords = before - index.images.count
            if report.removedRecords > 0 { try Self.writeIndex(index, to: indexURL) }
        }
        let referenced = referencedFiles()
        let fileManager = FileManager.default
        for folder in ["sha256", "lists", "keyrings"] {
            for name in ((try? fileManager.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)) ?? []).sorted() {
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

    // MARK: Air-gap transfer

    /// Copies the cached images (all, or those matching `only`) with their lists, signatures,
    /// keyrings and index into `target`, for `seedgen image import` on an offline host.
    public func export(to target: URL, only: [String] = []) throws -> [ImageCacheRecord] {
        let records = try readIndex().images.filter { record in
            only.isEmpty || only.contains { $0 == record.name || $0 == record.source || $0 == record.fileName || $0 == record.sha256 }
        }
        guard !records.isEmpty else {
            throw SeedgenError.runtime(message: only.isEmpty ? "the image cache is empty" : "no cached image matches \(only.joined(separator: ", "))", hint: "fetch images first: seedgen image fetch NAME")
        }
        let fileManager = FileManager.default
        for folder in ["sha256", "lists", "keyrings"] {
            try fileManager.createDirectory(at: target.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for record in records {
            for relative in [record.blobPath] + [record.checksumList, record.signature, record.keyring].compactMap({ $0?.file }) {
                let destination = target.appendingPathComponent(relative)
                if fileManager.fileExists(atPath: destination.path) { continue }
                let temporary = destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).tmp")
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
        try Self.writeIndex(exported, to: target.appendingPathComponent("index.json"))
        return records
    }

    /// Re-verifies every image of an export directory and adds the good ones to the cache.
    /// Throws (exit 1) listing the bad ones; the good ones are imported regardless.
    public func importImages(from source: URL) throws -> [ImageVerifyFinding] {
        let indexFile = source.appendingPathComponent("index.json")
        guard FileManager.default.fileExists(atPath: indexFile.path) else {
            throw SeedgenError.runtime(message: "\(source.path) is not a seedgen image export (no index.json)", hint: "create one with `seedgen image export DIR` on the connected machine")
        }
        let records = try Self.readIndex(at: indexFile).images
        // Import adds to the cache's index: refuse before copying anything when it cannot be changed.
        try checkIndex()
        var findings: [ImageVerifyFinding] = []
        for record in records {
            let finding = verify(record, in: source)
            findings.append(finding)
            guard finding.ok else { continue }
            for relative in [record.blobPath] + [record.checksumList, record.signature, record.keyring].compactMap({ $0?.file }) {
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
            imported.verification = finding.checks.contains { $0.hasPrefix("signed") } ? finding.checks.first { $0.hasPrefix("signed") }! : record.verification
            try updateIndex { index in
                index.images.removeAll { $0.source == imported.source && $0.sha256 == imported.sha256 }
                index.images.append(imported)
            }
        }
        let bad = findings.filter { !$0.ok }
        if !bad.isEmpty {
            throw SeedgenError.runtime(
                message: "\(bad.count) of \(findings.count) exported images failed verification and were not imported:\n"
                    + bad.map { "  \($0.record.fileName) (\($0.record.sha256.prefix(12))…): \($0.problems.joined(separator: "; "))" }.joined(separator: "\n"),
                hint: "export them again from the connected machine")
        }
        return findings
    }
}
