import Foundation
import SeedgenCore

public struct ImageVerifyFinding: Sendable, Hashable, Codable {
    public var record: ImageCacheRecord
    /// Empty when everything checked out.
    public var problems: [String]
    /// What was checked, e.g. `sha256 ok; SHA256SUMS signed (VALIDSIG …); listed digest ok`.
    public var checks: [String]

    public var ok: Bool { problems.isEmpty }
}

extension ImageStore {
    // MARK: Verify

    /// Re-verifies every cached image offline: its digest, its checksum list and the list's signature.
    public func verifyAll() throws -> [ImageVerifyFinding] {
        try index.read().images.map { verify($0, in: directory) }
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
            finding.problems.append(
                "\(record.blobPath) is corrupt: sha256 \(digests.sha256), \(digests.size) bytes (expected "
                    + "\(record.sha256), \(record.size) bytes)"
            )
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
        guard let raw = try? Data(contentsOf: listURL),
            Digest.sha256Hex(raw) == listFile.file.split(separator: "/").last.map(String.init)
        else {
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
            let pinned =
                record.name.flatMap { catalog.entry(named: $0)?.fingerprints } ?? publisherPins ?? record.fingerprints
                ?? []
            let keyringPath = record.keyring.map { base.appendingPathComponent($0.file) }
            var signature: Data?
            if let signatureFile = record.signature {
                signature = try? Data(contentsOf: base.appendingPathComponent(signatureFile.file))
                if signature == nil { finding.problems.append("signature \(signatureFile.file) is missing") }
            }
            if let keyringPath, finding.problems.isEmpty {
                do {
                    let verdict = try ImageSignatureVerifier.verify(
                        content: raw, signature: signature, style: style, keyring: keyringPath, pinned: pinned,
                        scratch: temporaryDirectory,
                        what: URL(string: listFile.source)?.lastPathComponent ?? listFile.source)
                    listText = String(decoding: verdict.signedContent, as: UTF8.self)
                    finding.checks.append("signed (VALIDSIG \(verdict.fingerprint))")
                } catch let error as SeedgenError {
                    if case .runtime(let message, _, _) = error {
                        finding.problems.append(message)
                    } else {
                        finding.problems.append(error.description)
                    }
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
            finding.problems.append(
                "the checksum list does not list \(record.fileName) with this \(algorithm.rawValue)")
        } else {
            finding.checks.append("listed \(algorithm.rawValue) ok")
        }
        return finding
    }
}
