import Foundation
import SeedgenCore

/// Everything needed to fetch and verify one image, whether it came from the catalog, a vm.yaml
/// `image:` map, a command line URL or a seedgen.lock entry.
public struct ImageSourcePlan: Sendable, Hashable {
    /// The lockfile key: the catalog name, else the URL as written.
    public var key: String
    public var catalogName: String?
    public var imageURL: URL
    public var fileName: String
    /// A digest the bytes must have (vm.yaml `sha256:`/`sha512:`, command line, lockfile).
    public var pinnedAlgorithm: ImageDigestAlgorithm?
    public var pinnedHex: String?
    public var checksumsURL: URL?
    /// The algorithm the list is expected to carry; nil: whichever the list has for the file.
    public var listAlgorithm: ImageDigestAlgorithm?
    public var signatureStyle: ImageSignatureStyle
    public var signatureURL: URL?
    public var keyring: String?
    public var fingerprints: [String]
    public var keyringHint: String?
    public var latest: ImageLatestResolution?
    /// Set when the plan comes from seedgen.lock: how the locked digest was originally verified.
    public var lockedFrom: String?
    /// Nothing but the first download vouches for these bytes (`seedgen image lock
    /// --trust-on-first-use`): the digest seen then is what every later build demands.
    public var firstUseTrust = false

    /// The command that fetches this image on a connected machine.
    public var fetchCommand: String {
        if let catalogName, pinnedHex == nil { return "seedgen image fetch \(catalogName)" }
        var command = "seedgen image fetch \(ShellQuoting.quote(imageURL.absoluteString))"
        if let pinnedHex, let pinnedAlgorithm { command += " --\(pinnedAlgorithm.rawValue) \(pinnedHex)" }
        return command
    }

    static func resolve(_ reference: String, against image: URL) -> URL? {
        if reference.contains("://") { return URL(string: reference) }
        return URL(string: reference, relativeTo: image)?.absoluteURL
    }

    /// The plan for a catalog entry.
    public init(entry: ImageCatalogEntry) throws {
        guard let url = URL(string: entry.url) else {
            throw SeedgenError.runtime(message: "catalog entry \(entry.name) has a bad URL \(entry.url)")
        }
        key = entry.name
        catalogName = entry.name
        imageURL = url
        fileName = url.lastPathComponent
        checksumsURL = entry.checksums.flatMap { Self.resolve($0, against: url) }
        listAlgorithm = entry.digestAlgorithm
        signatureStyle = entry.signatureStyle
        signatureURL = entry.signature.flatMap { Self.resolve($0, against: url) }
        keyring = entry.keyring.map { PathExpansion.expandingTilde($0) }
        fingerprints = entry.fingerprints
        keyringHint = entry.keyringHint
        latest = entry.latest
    }

    /// The plan for a direct URL with optional pins and list.
    public init(
        url: URL, sha256: String? = nil, sha512: String? = nil, checksumsURL: URL? = nil, signatureURL: URL? = nil,
        keyring: String? = nil, fingerprints: [String] = []
    ) throws {
        key = url.absoluteString
        imageURL = url
        fileName = url.lastPathComponent
        if let sha256 {
            try Self.checkHex(sha256, .sha256)
            pinnedAlgorithm = .sha256
            pinnedHex = sha256.lowercased()
        } else if let sha512 {
            try Self.checkHex(sha512, .sha512)
            pinnedAlgorithm = .sha512
            pinnedHex = sha512.lowercased()
        }
        self.checksumsURL = checksumsURL
        self.signatureURL = signatureURL
        signatureStyle = signatureURL == nil ? .none : .detached
        self.keyring = keyring.map { PathExpansion.expandingTilde($0) }
        self.fingerprints = fingerprints.map(ImageCatalog.normalizedFingerprint)
        if signatureURL != nil && keyring == nil {
            throw SeedgenError.usage("a signature URL needs a keyring (image.keyring / --keyring)")
        }
    }

    /// The plan for an `image:` of vm.yaml (not a local path).
    public init(spec: ImageSpec, catalog: ImageCatalog) throws {
        if let name = spec.catalogName {
            guard let entry = catalog.entry(named: name) else {
                let hint = catalog.suggestion(for: name).map { "did you mean \($0)? " } ?? ""
                throw SeedgenError.runtime(
                    message: "unknown catalog image \(name)", hint: "\(hint)see `seedgen image list`")
            }
            try self.init(entry: entry)
            if let sha256 = spec.sha256 {
                try Self.checkHex(sha256, .sha256)
                pinnedAlgorithm = .sha256
                pinnedHex = sha256.lowercased()
            }
            return
        }
        guard let url = spec.url else {
            throw SeedgenError.usage("image needs a catalog name, a url or a path")
        }
        if spec.sha256 == nil, spec.sha512 == nil, spec.checksumsURL == nil,
            let publisher = catalog.publisher(covering: url)
        {
            try self.init(url: url, publisher: publisher)
            return
        }
        try self.init(
            url: url, sha256: spec.sha256, sha512: spec.sha512, checksumsURL: spec.checksumsURL,
            signatureURL: spec.signatureURL,
            keyring: spec.keyring ?? (spec.signatureURL == nil ? nil : ImageCatalogData.ubuntuKeyring),
            fingerprints: spec.fingerprints)
    }

    /// This plan pinned to a lockfile entry.
    package func locked(to entry: ImageLockEntry) throws -> ImageSourcePlan {
        guard let url = URL(string: entry.url) else {
            throw SeedgenError.runtime(message: "seedgen.lock has a bad URL for \(key): \(entry.url)")
        }
        var plan = self
        plan.imageURL = url
        plan.fileName = entry.fileName
        plan.pinnedAlgorithm = .sha256
        plan.pinnedHex = entry.sha256
        plan.checksumsURL = nil
        plan.signatureURL = nil
        plan.signatureStyle = .none
        plan.latest = nil
        plan.lockedFrom = entry.verification
        plan.firstUseTrust = entry.trust == ImageLockEntry.firstUseTrust
        return plan
    }

    static func checkHex(_ text: String, _ algorithm: ImageDigestAlgorithm) throws {
        guard text.count == algorithm.hexLength, text.allSatisfy(\.isHexDigit) else {
            throw SeedgenError.usage(
                "\(algorithm.rawValue) must be \(algorithm.hexLength) hexadecimal digits, got \(text.count) characters")
        }
    }
}
