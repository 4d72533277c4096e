import Foundation
import SeedgenCore

/// Where the image cache lives.
public struct ImageCacheLocation {
    /// `$SEEDGEN_CACHE`, else `$XDG_CACHE_HOME/seedgen`, else `~/.cache/seedgen`.
    public static func defaultDirectory() -> URL { defaultDirectory(environment: ProcessInfo.processInfo.environment) }

    public static func defaultDirectory(environment: [String: String]) -> URL {
        if let explicit = environment["SEEDGEN_CACHE"], !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("seedgen")
        }
        return URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache/seedgen")
    }
}

/// A small file kept beside a cached image so an offline host can re-verify it: a checksum list,
/// its signature, or the keyring that checked it. Stored content-addressed under `lists/` or `keyrings/`.
public struct ImageCachedFile: Sendable, Hashable, Codable {
    /// Where it came from (URL or path).
    public var source: String
    /// Path relative to the cache directory.
    public var file: String
}

/// One index entry: a source (URL or catalog name) and the verified bytes it produced.
public struct ImageCacheRecord: Sendable, Hashable, Codable {
    /// Catalog name, when the image was fetched by name.
    public var name: String?
    /// The URL fetched.
    public var source: String
    /// The publisher's file name.
    public var fileName: String
    public var sha256: String
    public var sha512: String?
    public var size: UInt64
    public var format: String
    public var virtualSize: UInt64
    /// ISO 8601 time of the fetch.
    public var fetchedAt: String
    /// How the bytes were verified, e.g. `signed (VALIDSIG …)`, `digest-pinned, unsigned`, `sha256 pinned`.
    public var verification: String
    /// Digest algorithm and style of the list/signature, for re-verification.
    public var listAlgorithm: ImageDigestAlgorithm?
    public var checksumList: ImageCachedFile?
    public var signature: ImageCachedFile?
    public var signatureStyle: ImageSignatureStyle?
    public var keyring: ImageCachedFile?
    /// Fingerprints that were pinned when the signature was accepted.
    public var fingerprints: [String]?
    /// The fingerprint whose VALIDSIG was accepted.
    public var signer: String?

    /// The cached image file, relative to the cache directory.
    public var blobPath: String { "sha256/\(sha256)" }
}

/// `index.json` in the cache directory.
struct ImageCacheIndexFile: Codable {
    /// The schema this seedgen reads and writes. A file of a newer version is never changed.
    static let currentVersion = 1

    var version = currentVersion
    var images: [ImageCacheRecord] = []

    /// What a reader must know before anything else: which schema the file is in.
    private struct VersionOnly: Decodable {
        var version: Int
    }

    /// Reads `url`: an empty index when the file does not exist, and an error naming the file
    /// and the way out when it exists but cannot be used (unreadable, truncated, not an index,
    /// or written by a newer seedgen). Never an empty index for a file that is there: an empty
    /// index would make every verified image look unreferenced.
    static func read(at url: URL) throws(SeedgenError) -> ImageCacheIndexFile {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) { return ImageCacheIndexFile() }
            throw damaged(url, "it cannot be read (\((error as NSError).localizedDescription))")
        }
        let decoder = JSONDecoder()
        guard let version = try? decoder.decode(VersionOnly.self, from: data).version else {
            let reason = data.isEmpty ? "it is empty" : "it is not a complete seedgen index (truncated or overwritten)"
            throw damaged(url, reason)
        }
        if version > currentVersion {
            throw SeedgenError.runtime(
                message:
                    "the image cache index \(url.path) is version \(version), written by a newer seedgen; this one "
                    + "reads version \(currentVersion) and changed nothing",
                hint: "use the newer seedgen with this cache, or give this one another cache with --cache DIR")
        }
        guard version >= 1 else { throw damaged(url, "its version \(version) is not one seedgen ever wrote") }
        do {
            return try decoder.decode(ImageCacheIndexFile.self, from: data)
        } catch {
            throw damaged(url, "its entries do not have the fields of a version \(version) index")
        }
    }

    private static func damaged(_ url: URL, _ reason: String) -> SeedgenError {
        let directory = url.deletingLastPathComponent().path
        return .runtime(
            message: "the image cache index \(url.path) is damaged: \(reason); nothing in the cache was changed",
            hint: "restore index.json from a backup; or move it aside (mv \(url.path) \(url.path).damaged) and run "
                + "`seedgen image fetch NAME` or `seedgen image import DIR` again: the verified images in "
                + "\(directory)/sha256/ "
                + "stay, and `seedgen image gc` keeps files the index does not name unless given --remove-unindexed")
    }
}

/// An exclusive `flock` on a lock file. Locks are per open file description, so two tasks of one
/// process exclude each other just like two processes do.
final class ImageFileLock: @unchecked Sendable {
    private var descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// Blocks the calling thread until the lock is held.
    static func acquireBlocking(_ url: URL) throws -> ImageFileLock {
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SeedgenError.runtime(
                message: "cannot open lock file \(url.path)", hint: "check that the cache directory is writable",
                cause: String(cString: strerror(errno)))
        }
        while flock(descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let cause = String(cString: strerror(errno))
            close(descriptor)
            throw SeedgenError.runtime(message: "cannot lock \(url.path)", cause: cause)
        }
        return ImageFileLock(descriptor: descriptor)
    }

    /// Waits for the lock on a thread of its own, so a long wait never blocks Swift's task pool.
    static func acquire(_ url: URL) async throws -> ImageFileLock {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try acquireBlocking(url) })
            }
        }
    }

    /// True when nobody holds the lock right now (it is not taken).
    static func isFree(_ url: URL) -> Bool {
        let descriptor = open(url.path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return true
        }
        return false
    }

    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
