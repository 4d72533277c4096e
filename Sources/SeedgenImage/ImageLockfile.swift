import Foundation
import SeedgenCore

/// One pinned image in seedgen.lock.
public struct ImageLockEntry: Sendable, Hashable, Codable {
    /// The dated URL the moving name resolved to.
    public var url: String
    public var fileName: String
    public var sha256: String
    public var size: UInt64
    /// How the digest was verified when the lock was written.
    public var verification: String
    /// `first-use` when nothing but the first download vouched for the digest
    /// (`seedgen image lock --trust-on-first-use`); absent for publisher-verified or pinned images.
    public var trust: String?

    public init(url: String, fileName: String, sha256: String, size: UInt64, verification: String, trust: String? = nil)
    {
        self.url = url
        self.fileName = fileName
        self.sha256 = sha256
        self.size = size
        self.verification = verification
        self.trust = trust
    }

    public static let firstUseTrust = "first-use"
    public static let firstUseVerification = "pinned on first use, unsigned"
}

/// `seedgen.lock` beside vm.yaml: catalog names and URLs resolved once to a dated URL and digest,
/// so every later build gets the same bytes.
public struct ImageLockfile: Sendable, Hashable, Codable {
    public var version: Int = 1
    /// Keyed by catalog name, else by the URL as written in vm.yaml.
    public var images: [String: ImageLockEntry] = [:]

    public init() {}

    public static let fileName = "seedgen.lock"

    /// The lockfile that belongs to `vmFile` (same directory).
    public static func url(besides vmFile: URL) -> URL {
        vmFile.deletingLastPathComponent().appendingPathComponent(fileName)
    }

    /// Reads `url`; an absent file is an empty lockfile.
    public static func read(_ url: URL) throws -> ImageLockfile {
        guard FileManager.default.fileExists(atPath: url.path) else { return ImageLockfile() }
        do {
            return try JSONDecoder().decode(ImageLockfile.self, from: Data(contentsOf: url))
        } catch {
            throw SeedgenError.runtime(
                message: "cannot read \(url.path)", hint: "regenerate it with `seedgen image lock`", cause: "\(error)")
        }
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(try JSONOutput.data(self), to: url)
    }

    /// Pins `entry` under `key` in the lockfile beside `vmFile`: read (absent: empty), set, written
    /// back atomically, so the other entries are kept and a crash leaves the old file whole.
    /// Returns the lockfile's URL.
    @discardableResult
    public static func record(_ entry: ImageLockEntry, key: String, besides vmFile: URL) throws -> URL {
        let lockURL = url(besides: vmFile)
        var lockfile = try read(lockURL)
        lockfile.images[key] = entry
        try lockfile.write(to: lockURL)
        return lockURL
    }
}
