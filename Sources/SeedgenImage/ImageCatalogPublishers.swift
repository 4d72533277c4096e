import Foundation
import SeedgenCore

/// A publisher's trust policy for every image under its image directories: the checksum list that
/// sits in the same directory as the image, and how that list is signed. A URL the user writes
/// (an Ansible `proxmox_vm_cloud_image_url`, a vm.yaml `image.url`) under `root` is verified the
/// way the catalog verifies that publisher's own entries, for exactly the file the URL names.
public struct ImagePublisher: Sendable, Hashable, Codable {
    public var name: String
    /// URL prefix of the publisher's image directories, ending in `/`.
    public var root: String
    /// File name of the checksum list beside each image.
    public var checksums: String
    public var checksumFormat: ChecksumListFormat
    public var digestAlgorithm: ImageDigestAlgorithm
    public var signatureStyle: ImageSignatureStyle
    /// File name of the detached signature beside the checksum list.
    public var signature: String?
    public var keyring: String?
    public var fingerprints: [String]
    public var keyringHint: String?

    public init(
        name: String, root: String, checksums: String, checksumFormat: ChecksumListFormat,
        digestAlgorithm: ImageDigestAlgorithm,
        signatureStyle: ImageSignatureStyle, signature: String? = nil, keyring: String? = nil,
        fingerprints: [String] = [],
        keyringHint: String? = nil
    ) {
        self.name = name
        self.root = root.hasSuffix("/") ? root : root + "/"
        self.checksums = checksums
        self.checksumFormat = checksumFormat
        self.digestAlgorithm = digestAlgorithm
        self.signatureStyle = signatureStyle
        self.signature = signature
        self.keyring = keyring
        self.fingerprints = fingerprints.map(ImageCatalog.normalizedFingerprint)
        self.keyringHint = keyringHint
    }

    /// A human summary of the trust policy, as `seedgen image list` prints it.
    public var trustSummary: String {
        let list = "\(checksums) (\(checksumFormat.rawValue), \(digestAlgorithm.rawValue)) beside the image"
        switch signatureStyle {
        case .none: return "\(list), unsigned"
        case .detached, .clearsigned:
            return
                "\(list), \(signatureStyle.rawValue) signature by "
                + "\(fingerprints.map { String($0.suffix(16)) }.joined(separator: ","))"
        }
    }

    /// Whether `url` names a file inside this publisher's image directories. The comparison is on
    /// the URL text as written: same scheme and host, no `..` to climb out of `root`, no query, and
    /// not the checksum list or signature itself.
    public func covers(_ url: URL) -> Bool {
        let text = url.absoluteString
        guard text.hasPrefix(root), url.query == nil, url.fragment == nil else { return false }
        let rest = text.dropFirst(root.count)
        let segments = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = segments.last, !last.isEmpty,
            !segments.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty })
        else { return false }
        return String(last) != checksums && String(last) != signature
    }
}

extension ImageCatalogData {
    static let ubuntuPublisher = ImagePublisher(
        name: "ubuntu", root: "https://cloud-images.ubuntu.com/", checksums: "SHA256SUMS", checksumFormat: .gnu,
        digestAlgorithm: .sha256,
        signatureStyle: .detached, signature: "SHA256SUMS.gpg", keyring: ubuntuKeyring,
        fingerprints: [ubuntuFingerprint],
        keyringHint: ubuntuKeyringHint)

    static let debianPublisher = ImagePublisher(
        name: "debian", root: "https://cloud.debian.org/images/cloud/", checksums: "SHA512SUMS", checksumFormat: .gnu,
        digestAlgorithm: .sha512, signatureStyle: .none)

    /// AlmaLinux signs each major release with its own key, so only the release 9 tree is covered.
    static let almaPublisher = ImagePublisher(
        name: "almalinux-9", root: "https://repo.almalinux.org/almalinux/9/cloud/", checksums: "CHECKSUM",
        checksumFormat: .bsd,
        digestAlgorithm: .sha256, signatureStyle: .detached, signature: "CHECKSUM.asc",
        keyring: "~/.config/seedgen/keyrings/almalinux-9.gpg",
        fingerprints: [almaFingerprint], keyringHint: almaKeyringHint)

    static let publishers = [ubuntuPublisher, debianPublisher, almaPublisher]
}

/// The old Ansible role's `proxmox_cloud_image_urls` (its defaults): each name is a file in a
/// publisher's tree, kept as publisher + path so that the URL is the publisher's root followed by
/// exactly the path the role names (Debian's `generic`, not the catalog's `genericcloud`).
public enum AnsibleRoleImages {
    public struct Image: Sendable, Hashable {
        public var name: String
        public var publisher: String
        public var path: String
    }

    public static let images: [Image] = [
        Image(
            name: "ubuntu-24.04", publisher: "ubuntu",
            path: "releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img"),
        Image(
            name: "ubuntu-22.04", publisher: "ubuntu",
            path: "releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"),
        Image(name: "debian-12", publisher: "debian", path: "bookworm/latest/debian-12-generic-amd64.qcow2"),
        Image(name: "debian-11", publisher: "debian", path: "bullseye/latest/debian-11-generic-amd64.qcow2"),
    ]

    public static var names: [String] { images.map(\.name) }
}

extension ImageCatalog {
    /// The publisher whose image directories hold `url`, if any.
    public func publisher(covering url: URL) -> ImagePublisher? {
        publishers.first { $0.covers(url) }
    }

    public func publisher(named name: String) -> ImagePublisher? {
        publishers.first { $0.name == name }
    }

    /// The URL the Ansible role's `proxmox_cloud_image_urls[name]` names, under this catalog's
    /// publisher of that image; nil when `name` is not one of the role's keys.
    public func ansibleRoleImageURL(named name: String) -> URL? {
        guard let image = AnsibleRoleImages.images.first(where: { $0.name == name }),
            let publisher = publisher(named: image.publisher)
        else {
            return nil
        }
        return URL(string: publisher.root + image.path)
    }
}

extension ImageSourcePlan {
    /// A URL under a publisher's image directories, verified by the publisher's checksum list in
    /// the same directory and, when the publisher signs it, by the signature and pinned key.
    public init(url: URL, publisher: ImagePublisher) throws {
        try self.init(url: url)
        let directory = url.deletingLastPathComponent()
        checksumsURL = directory.appendingPathComponent(publisher.checksums)
        listAlgorithm = publisher.digestAlgorithm
        signatureStyle = publisher.signatureStyle
        signatureURL = publisher.signature.map { directory.appendingPathComponent($0) }
        keyring = publisher.keyring.map { PathExpansion.expandingTilde($0) }
        fingerprints = publisher.fingerprints
        keyringHint = publisher.keyringHint
    }
}
