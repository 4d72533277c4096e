import Foundation

/// Where the image cache lives.
public struct ImageCacheLocation {
    /// `$SEEDGEN_CACHE`, else `$XDG_CACHE_HOME/seedgen`, else `~/.cache/seedgen`.
    public static func defaultDirectory() -> URL { defaultDirectory(environment: ProcessInfo.processInfo.environment) }

    public static func defaultDirectory(environment: [String: String]) -> URL {
        if let explicit = environment["SEEDGEN_CACHE"], !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("seedgen") }
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
    var version = 1
    var images: [ImageCacheRecord] = []
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
            throw SeedgenError.runtime(message: "cannot open lock file \(url.path)", hint: "check that the cache directory is writable", cause: String(cString: strerror(errno)))
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
