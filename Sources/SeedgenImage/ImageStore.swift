import Foundation
import SeedgenCore

/// A cloud image ready for the bundle: verified bytes in the cache (or the user's local file).
public struct ResolvedImage: Sendable, Codable, Hashable {
    /// The verified file in the cache (or the user's local path).
    public var path: URL
    /// The publisher's file name, e.g. `noble-server-cloudimg-amd64.img`.
    public var fileName: String
    public var sha256: String
    public var size: UInt64
    /// `qcow2` or `raw`.
    public var format: String
    public var virtualSize: UInt64
    /// URL or path the bytes came from.
    public var source: String
    /// e.g. `signed (VALIDSIG D2EB…7C81)`, `digest-pinned, unsigned`, `sha256 pinned`.
    public var verification: String
}

/// The content-addressed image cache (SPEC §1.3). Safe to share across tasks and processes:
/// one fetch per image even when many VMs ask at once, a file lock across processes, and
/// nothing enters the cache unverified.
///
/// Layout: `sha256/<hex>` images, `lists/<sha256>` checksum lists and signatures, `keyrings/<sha256>`
/// keyrings that checked them, `index.json` (+ `index.lock`), `locks/`, `tmp/` (`.part` downloads).
public final class ImageStore: Sendable {
    public let directory: URL
    public let catalog: ImageCatalog
    public let progress: ProgressMode
    public let offline: Bool
    let downloader: ImageDownloader
    private let coalescer = ImageFetchCoalescer()

    public init(
        directory: URL, catalog: ImageCatalog, progress: ProgressMode, offline: Bool,
        policy: ImageFetchPolicy = .fromEnvironment()
    ) throws {
        self.directory = directory
        self.catalog = catalog
        self.progress = progress
        self.offline = offline
        downloader = ImageDownloader(policy: policy)
        for folder in ["sha256", "lists", "keyrings", "locks", "tmp"] {
            do {
                try FileManager.default.createDirectory(
                    at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            } catch {
                throw SeedgenError.runtime(
                    message: "cannot create the image cache \(directory.path)",
                    hint: "choose another one with --cache DIR or SEEDGEN_CACHE", cause: "\(error)")
            }
        }
    }

    var temporaryDirectory: URL { directory.appendingPathComponent("tmp") }

    // MARK: Resolving

    /// Resolve (catalog/lockfile/URL/path) → fetch if needed → verify → cached file. One fetch per
    /// image even when many VMs (tasks) ask at once.
    public func resolve(_ spec: ImageSpec, lockfile: URL?) async throws -> ResolvedImage {
        if let path = spec.path { return try resolveLocal(path: path, spec: spec) }
        var plan = try ImageSourcePlan(spec: spec, catalog: catalog)
        if let lockfile, let entry = try ImageLockfile.read(lockfile).images[plan.key] {
            plan = try plan.locked(to: entry)
        }
        return try await fetch(plan)
    }

    /// Fetches and verifies `plan` unless the cache already holds it (`refresh` forces a new fetch).
    public func fetch(_ plan: ImageSourcePlan, refresh: Bool = false) async throws -> ResolvedImage {
        let key = plan.imageURL.absoluteString + "#" + (plan.pinnedHex ?? "")
        return try await coalescer.run(key: key) { try await self.fetchOnce(plan, refresh: refresh) }
    }

    private func fetchOnce(_ plan: ImageSourcePlan, refresh: Bool) async throws -> ResolvedImage {
        if !refresh, let record = try cachedRecord(for: plan) { return resolved(record, plan: plan) }
        // A fetch adds to the index: refuse before downloading when the index cannot be changed.
        try checkIndex()
        if offline && !plan.imageURL.isFileURL {
            throw SeedgenError.runtime(
                message: "image \(plan.key) is not in the cache \(directory.path), and --offline forbids downloading",
                hint:
                    "on a connected machine run `\(plan.fetchCommand)` and `seedgen image export DIR`, carry DIR here, "
                    + "then run `seedgen image import DIR`"
            )
        }
        let lock = try await ImageFileLock.acquire(
            directory.appendingPathComponent("locks/\(Self.shortHash(plan.imageURL.absoluteString)).lock"))
        defer { lock.release() }
        // Another process may have fetched it while this one waited for the lock.
        if !refresh, let record = try cachedRecord(for: plan) { return resolved(record, plan: plan) }
        let record = try await download(plan)
        return resolved(record, plan: plan)
    }

    private func resolved(_ record: ImageCacheRecord, plan: ImageSourcePlan?) -> ResolvedImage {
        var verification = record.verification
        if plan?.firstUseTrust == true {
            verification = ImageLockEntry.firstUseVerification
        } else if let lockedFrom = plan?.lockedFrom {
            verification = "sha256 pinned by seedgen.lock (\(lockedFrom))"
        }
        return ResolvedImage(
            path: directory.appendingPathComponent(record.blobPath), fileName: record.fileName, sha256: record.sha256,
            size: record.size,
            format: record.format, virtualSize: record.virtualSize, source: record.source, verification: verification)
    }

    package func cachedRecord(for plan: ImageSourcePlan) throws -> ImageCacheRecord? {
        try Self.cachedRecord(for: plan, in: directory)
    }

    /// The newest entry of the cache in `directory` that holds `plan`'s image with its file
    /// present. Reads only: the cache is not created (`seedgen validate` writes nothing).
    package static func cachedRecord(for plan: ImageSourcePlan, in directory: URL) throws -> ImageCacheRecord? {
        let records = try ImageCacheIndexStore(directory: directory).read().images.filter { record in
            let blob = directory.appendingPathComponent(record.blobPath).path
            return (try? FileManager.default.attributesOfItem(atPath: blob)[.size] as? NSNumber)?.uint64Value
                == record.size
        }
        if let pinned = plan.pinnedHex {
            return records.last { plan.pinnedAlgorithm == .sha512 ? $0.sha512 == pinned : $0.sha256 == pinned }
        }
        return records.last { $0.source == plan.imageURL.absoluteString }
    }

    /// A local image file (`image.path`): hashed and inspected in place, never copied.
    func resolveLocal(path: String, spec: ImageSpec) throws -> ResolvedImage {
        let url = URL(fileURLWithPath: path)
        let info = try Self.inspectLocal(path: path)
        let (digests, verification) = try Self.checkLocalDigests(path: path, spec: spec)
        return ResolvedImage(
            path: url, fileName: url.lastPathComponent, sha256: digests.sha256, size: digests.size, format: info.format,
            virtualSize: info.virtualSize, source: path, verification: verification)
    }

    /// The header of a local image: its format and virtual size, or why Proxmox could not import it.
    package static func inspectLocal(path: String) throws -> ImageFileInfo {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SeedgenError.runtime(
                message: "image file \(path) is missing or unreadable", hint: "check image.path in vm.yaml")
        }
        return try ImageInspector.inspect(URL(fileURLWithPath: path))
    }

    /// Hashes a local image and checks the digests `spec` pins.
    package static func checkLocalDigests(path: String, spec: ImageSpec) throws -> (ImageDigests, verification: String)
    {
        let digests = try ImageFileHasher.digests(of: URL(fileURLWithPath: path), includeSHA512: spec.sha512 != nil)
        var verification = "local file, unverified (sha256 recorded)"
        for (algorithm, expected) in [(ImageDigestAlgorithm.sha256, spec.sha256), (.sha512, spec.sha512)] {
            guard let expected else { continue }
            guard digests.hex(algorithm) == expected.lowercased() else {
                throw SeedgenError.runtime(
                    message:
                        "\(algorithm.rawValue) mismatch for \(path): expected \(expected.lowercased()), got "
                        + "\(digests.hex(algorithm) ?? "-")",
                    hint: "the file is not the image vm.yaml pins; replace it or fix image.\(algorithm.rawValue)")
            }
            verification = "\(algorithm.rawValue) pinned"
        }
        return (digests, verification)
    }

    // MARK: Fetching and verifying

    struct VerifiedList {
        var list: ImageChecksumList
        var raw: Data
        var signature: Data?
        var verification: String
        var signer: String?
    }

    /// Fetches the plan's checksum list and checks its signature as the trust policy demands.
    func verifiedChecksumList(_ plan: ImageSourcePlan, checksumsURL: URL) async throws -> VerifiedList {
        let raw = try await downloader.fetchSmall(checksumsURL, scratch: temporaryDirectory)
        let listName = checksumsURL.lastPathComponent
        switch plan.signatureStyle {
        case .none:
            return VerifiedList(
                list: ImageChecksumList(parsing: String(decoding: raw, as: UTF8.self)), raw: raw, signature: nil,
                verification: "digest-pinned, unsigned", signer: nil)
        case .detached, .clearsigned:
            guard let keyring = plan.keyring else {
                throw SeedgenError.runtime(
                    message: "no keyring to check the signature of \(listName)",
                    hint: "name one with image.keyring / --keyring")
            }
            if !FileManager.default.isReadableFile(atPath: keyring) {
                throw SeedgenError.runtime(
                    message: "cannot verify \(listName) of \(plan.key): keyring \(keyring) is missing",
                    hint: plan.keyringHint ?? "install the publisher's keyring or name another with --keyring")
            }
            var signature: Data?
            if plan.signatureStyle == .detached {
                guard let signatureURL = plan.signatureURL else {
                    throw SeedgenError.runtime(message: "\(plan.key): detached signature style without a signature URL")
                }
                signature = try await downloader.fetchSmall(signatureURL, scratch: temporaryDirectory)
            }
            let verdict = try ImageSignatureVerifier.verify(
                content: raw, signature: signature, style: plan.signatureStyle, keyring: URL(fileURLWithPath: keyring),
                pinned: plan.fingerprints, scratch: temporaryDirectory,
                what: "\(listName) (\(checksumsURL.absoluteString))")
            return VerifiedList(
                list: ImageChecksumList(parsing: String(decoding: verdict.signedContent, as: UTF8.self)), raw: raw,
                signature: signature,
                verification: "signed (VALIDSIG \(verdict.fingerprint))", signer: verdict.fingerprint)
        }
    }

    private func download(_ plan: ImageSourcePlan) async throws -> ImageCacheRecord {
        var expectations: [(algorithm: ImageDigestAlgorithm, hex: String, origin: String)] = []
        var verification: String
        var verifiedList: VerifiedList?
        var listAlgorithm: ImageDigestAlgorithm?
        let reporter = ImageProgressReporter(mode: progress, label: plan.fileName)
        if let checksumsURL = plan.checksumsURL {
            let verified = try await verifiedChecksumList(plan, checksumsURL: checksumsURL)
            let algorithm =
                plan.listAlgorithm
                ?? (verified.list.digest(for: plan.fileName, algorithm: .sha256) != nil ? .sha256 : .sha512)
            guard let hex = verified.list.digest(for: plan.fileName, algorithm: algorithm) else {
                throw SeedgenError.runtime(
                    message: "\(checksumsURL.lastPathComponent) has no \(algorithm.rawValue) line for \(plan.fileName)",
                    hint:
                        "the digest is looked up by the exact file name; check the image URL "
                        + "(\(plan.imageURL.absoluteString))"
                )
            }
            expectations.append((algorithm, hex, checksumsURL.lastPathComponent))
            verification = verified.verification
            verifiedList = verified
            listAlgorithm = algorithm
        } else {
            verification = "unverified (sha256 recorded)"
        }
        if let pinnedHex = plan.pinnedHex, let pinnedAlgorithm = plan.pinnedAlgorithm {
            expectations.append(
                (
                    pinnedAlgorithm, pinnedHex,
                    plan.lockedFrom == nil ? "the pinned \(pinnedAlgorithm.rawValue)" : "seedgen.lock"
                ))
            if verifiedList == nil { verification = "\(pinnedAlgorithm.rawValue) pinned" }
        }
        if plan.firstUseTrust {
            verification = ImageLockEntry.firstUseVerification
            if expectations.isEmpty {
                reporter.note(
                    "note: trusting \(plan.imageURL.absoluteString) on first use: nothing but this download vouches "
                        + "for it; its sha256 goes into seedgen.lock and every later build demands it"
                )
            }
        } else if expectations.isEmpty {
            reporter.note(
                "warning: \(plan.imageURL.absoluteString) has no checksum or checksum list; its sha256 is recorded but "
                    + "nothing verifies it (pass --sha256, or pin it in a VM file with `seedgen image lock FILE "
                    + "--trust-on-first-use`)"
            )
        }
        let part = temporaryDirectory.appendingPathComponent("\(Self.shortHash(plan.imageURL.absoluteString)).part")
        let digests = try await downloader.download(
            plan.imageURL, to: part, includeSHA512: expectations.contains { $0.algorithm == .sha512 },
            progress: reporter)
        for expectation in expectations where digests.hex(expectation.algorithm) != expectation.hex {
            try? FileManager.default.removeItem(at: part)
            throw SeedgenError.runtime(
                message:
                    "\(expectation.algorithm.rawValue) mismatch for \(plan.fileName): expected \(expectation.hex) "
                    + "(from \(expectation.origin)), got \(digests.hex(expectation.algorithm) ?? "-")",
                hint:
                    "the download was deleted and nothing was cached; retry later or check the source "
                    + "\(plan.imageURL.absoluteString)"
            )
        }
        let info: ImageFileInfo
        do {
            info = try ImageInspector.inspect(part)
        } catch {
            try? FileManager.default.removeItem(at: part)
            throw error
        }
        let blob = directory.appendingPathComponent("sha256/\(digests.sha256)")
        if FileManager.default.fileExists(atPath: blob.path) {
            try? FileManager.default.removeItem(at: part)
        } else {
            _ = chmod(part.path, 0o444)
            try AtomicFile.replace(part, with: blob)
        }
        var record = ImageCacheRecord(
            name: plan.catalogName, source: plan.imageURL.absoluteString, fileName: plan.fileName,
            sha256: digests.sha256,
            sha512: digests.sha512, size: digests.size, format: info.format, virtualSize: info.virtualSize,
            fetchedAt: ISO8601DateFormatter().string(from: Date()), verification: verification)
        if let verifiedList, let checksumsURL = plan.checksumsURL {
            record.listAlgorithm = listAlgorithm
            record.checksumList = try storeSmall(verifiedList.raw, folder: "lists", source: checksumsURL.absoluteString)
            record.signatureStyle = plan.signatureStyle
            if let signature = verifiedList.signature, let signatureURL = plan.signatureURL {
                record.signature = try storeSmall(signature, folder: "lists", source: signatureURL.absoluteString)
            }
            if plan.signatureStyle != .none, let keyring = plan.keyring {
                record.keyring = try storeSmall(
                    try Data(contentsOf: URL(fileURLWithPath: keyring)), folder: "keyrings", source: keyring)
                record.fingerprints = plan.fingerprints
                record.signer = verifiedList.signer
            }
        }
        try index.add(record)
        reporter.finish(
            "\(plan.fileName): \(ByteSize.readable(digests.size)), sha256 \(digests.sha256), \(verification)")
        return record
    }

    /// Stores a small file content-addressed (`folder/<sha256>`), atomically.
    private func storeSmall(_ data: Data, folder: String, source: String) throws -> ImageCachedFile {
        let relative = "\(folder)/\(Digest.sha256Hex(data))"
        let target = directory.appendingPathComponent(relative)
        if !FileManager.default.fileExists(atPath: target.path) { try AtomicFile.write(data, to: target) }
        return ImageCachedFile(source: source, file: relative)
    }

    static func shortHash(_ text: String) -> String { String(Digest.sha256Hex(Data(text.utf8)).prefix(32)) }

    // MARK: Index

    /// The cache's index.json (`ImageCacheIndexStore`): read without a lock, changed under one.
    var index: ImageCacheIndexStore { ImageCacheIndexStore(directory: directory) }

    /// Throws the index's problem when index.json cannot be used: a command that would change
    /// the cache calls this before it changes anything.
    public func checkIndex() throws { _ = try index.read() }

    /// Every cached image record, oldest first.
    public func records() throws -> [ImageCacheRecord] { try index.read().images }
}

/// Joins concurrent requests for the same image into one fetch.
actor ImageFetchCoalescer {
    private var running: [String: Task<ResolvedImage, any Error>] = [:]

    func run(key: String, _ body: @escaping @Sendable () async throws -> ResolvedImage) async throws -> ResolvedImage {
        if let task = running[key] { return try await task.value }
        let task = Task { try await body() }
        running[key] = task
        defer { running[key] = nil }
        return try await task.value
    }
}
