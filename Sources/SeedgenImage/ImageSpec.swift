import Foundation

/// The image a VM asks for, as vm.yaml's `image:` says it (decoded by SeedgenSpec): what the
/// image stage resolves, fetches and verifies. Exactly one of `catalogName`, `url`, `path` is set.
public struct ImageSpec: Sendable, Hashable {
    /// A name from the built-in or user catalog (`seedgen image list`).
    public var catalogName: String?
    public var url: URL?
    /// Absolute path of a local image file (air-gapped), resolved against the file naming it.
    public var path: String?
    public var sha256: String?
    public var sha512: String?
    /// A SHA256SUMS-style list in which the digest is looked up by the image's exact file name.
    public var checksumsURL: URL?
    /// Detached OpenPGP signature of the checksum list.
    public var signatureURL: URL?
    /// Keyring whose keys are trusted for the signature (absolute path).
    public var keyring: String?
    /// Only these key fingerprints (upper-case hex, no spaces) are trusted, when non-empty.
    public var fingerprints: [String]

    public init(
        catalogName: String? = nil, url: URL? = nil, path: String? = nil, sha256: String? = nil, sha512: String? = nil,
        checksumsURL: URL? = nil, signatureURL: URL? = nil, keyring: String? = nil, fingerprints: [String] = []
    ) {
        self.catalogName = catalogName
        self.url = url
        self.path = path
        self.sha256 = sha256
        self.sha512 = sha512
        self.checksumsURL = checksumsURL
        self.signatureURL = signatureURL
        self.keyring = keyring
        self.fingerprints = fingerprints
    }
}
