import Foundation
import SeedgenCore
import SeedgenYAML

/// Which digest a checksum list (or a pin) carries.
public enum ImageDigestAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    case sha256
    case sha512

    var hexLength: Int { self == .sha256 ? 64 : 128 }
}

/// How a publisher writes its checksum list. The parser accepts both on every line; the format is
/// kept as documentation of the publisher and to name the list's lines in messages.
public enum ChecksumListFormat: String, Sendable, Hashable, Codable {
    /// `hex  name` or `hex *name` (sha256sum/sha512sum output).
    case gnu
    /// `SHA256 (name) = hex` (BSD `cksum`, Fedora/AlmaLinux CHECKSUM files).
    case bsd
}

/// How the checksum list is signed.
public enum ImageSignatureStyle: String, Sendable, Hashable, Codable {
    /// A separate file (`SHA256SUMS.gpg`, `CHECKSUM.asc`) signs the list as it is.
    case detached
    /// The list itself is an OpenPGP clearsigned message (Fedora `*-CHECKSUM`).
    case clearsigned
    /// The publisher does not sign its list (Debian cloud images).
    case none
}

/// How a moving `latest`/`current` URL is pinned to a dated one when `seedgen image lock` runs.
public enum ImageLatestResolution: Sendable, Hashable, Codable {
    /// A directory index lists dated serial directories; the newest serial matching `serialPattern`
    /// wins and `{serial}` in the templates is replaced by it.
    case serialDirectory(
        indexURL: String, serialPattern: String, imageURL: String, checksumsURL: String, signatureURL: String?)
    /// The checksum list names the same bytes under a dated file name too (AlmaLinux `…-latest…`):
    /// the entry with the same digest whose name matches `datedNamePattern` is used.
    case sameDigestInList(datedNamePattern: String)
}

/// One named image and the trust policy seedgen applies to it.
public struct ImageCatalogEntry: Sendable, Hashable, Codable {
    public var name: String
    public var description: String
    /// The moving image URL (`…/current/…`, `…/latest/…`).
    public var url: String
    /// The checksum list: a file name beside the image, or an absolute URL.
    public var checksums: String?
    public var checksumFormat: ChecksumListFormat
    public var digestAlgorithm: ImageDigestAlgorithm
    public var signatureStyle: ImageSignatureStyle
    /// The detached signature: a file name beside the image, or an absolute URL.
    public var signature: String?
    /// Keyring holding the publisher's key; `~` is expanded. Trust still needs a pinned fingerprint.
    public var keyring: String?
    /// OpenPGP fingerprints (upper-case hex, no spaces) whose VALIDSIG is accepted.
    public var fingerprints: [String]
    /// Where the keyring comes from, for the error message when it is missing.
    public var keyringHint: String?
    public var latest: ImageLatestResolution?

    public init(
        name: String, description: String, url: String, checksums: String?, checksumFormat: ChecksumListFormat,
        digestAlgorithm: ImageDigestAlgorithm, signatureStyle: ImageSignatureStyle, signature: String? = nil,
        keyring: String? = nil, fingerprints: [String] = [], keyringHint: String? = nil,
        latest: ImageLatestResolution? = nil
    ) {
        self.name = name
        self.description = description
        self.url = url
        self.checksums = checksums
        self.checksumFormat = checksumFormat
        self.digestAlgorithm = digestAlgorithm
        self.signatureStyle = signatureStyle
        self.signature = signature
        self.keyring = keyring
        self.fingerprints = fingerprints.map(ImageCatalog.normalizedFingerprint)
        self.keyringHint = keyringHint
        self.latest = latest
    }

    /// A human summary of the trust policy, as `seedgen image list` prints it.
    public var trustSummary: String {
        switch signatureStyle {
        case .none: return "\(checksums ?? "-") (\(checksumFormat.rawValue), \(digestAlgorithm.rawValue)), unsigned"
        case .detached, .clearsigned:
            let keys = fingerprints.map { String($0.suffix(16)) }.joined(separator: ",")
            return
                "\(checksums ?? "-") (\(checksumFormat.rawValue), \(digestAlgorithm.rawValue)), "
                + "\(signatureStyle.rawValue) signature by \(keys)"
        }
    }
}

/// The images seedgen knows by name: the built-in list, extended (or overridden) by the user's
/// `~/.config/seedgen/catalog.yaml` or `--catalog FILE`.
public struct ImageCatalog: Sendable, Hashable {
    public private(set) var entries: [ImageCatalogEntry]
    /// Whose image directories URLs without a digest may come from (ImagePublisher).
    public private(set) var publishers: [ImagePublisher]

    public init(entries: [ImageCatalogEntry], publishers: [ImagePublisher] = []) {
        self.entries = entries
        self.publishers = publishers
    }

    public static func builtIn() -> ImageCatalog {
        ImageCatalog(entries: ImageCatalogData.entries, publishers: ImageCatalogData.publishers)
    }

    /// Names of the built-in catalog; cheap (no I/O), for vm.yaml validation.
    public static let knownNames: [String] = ImageCatalogData.entries.map(\.name)

    public var names: [String] { entries.map(\.name) }

    public func entry(named name: String) -> ImageCatalogEntry? { entries.first { $0.name == name } }

    /// The closest known name, for a "did you mean" hint; nil when nothing is close.
    public func suggestion(for name: String) -> String? { NameSuggestion.closest(to: name, in: names) }

    /// The user catalog seedgen reads when no `--catalog` is given.
    public static func defaultUserCatalogFile(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> URL
    {
        let base: URL
        if let config = environment["XDG_CONFIG_HOME"], !config.isEmpty {
            base = URL(fileURLWithPath: config)
        } else {
            base = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        }
        return base.appendingPathComponent("seedgen/catalog.yaml")
    }

    /// The built-in catalog plus `file` (when given it must exist) or the default user catalog (when it exists).
    public static func load(userCatalog file: URL? = nil) throws -> ImageCatalog {
        var catalog = builtIn()
        let candidate = file ?? defaultUserCatalogFile()
        if file != nil || FileManager.default.fileExists(atPath: candidate.path) {
            let user = try parseUserCatalogFile(at: candidate)
            catalog.merge(user.entries)
            catalog.merge(publishers: user.publishers)
        }
        return catalog
    }

    /// Adds `other`'s publishers, replacing publishers of the same name.
    public mutating func merge(publishers other: [ImagePublisher]) {
        for publisher in other {
            if let index = publishers.firstIndex(where: { $0.name == publisher.name }) {
                publishers[index] = publisher
            } else {
                publishers.append(publisher)
            }
        }
    }

    /// Adds `other`'s entries, replacing entries of the same name.
    public mutating func merge(_ other: [ImageCatalogEntry]) {
        for entry in other {
            if let index = entries.firstIndex(where: { $0.name == entry.name }) {
                entries[index] = entry
            } else {
                entries.append(entry)
            }
        }
    }

    /// Parses a user catalog file:
    /// ```yaml
    /// images:
    ///   my-image:
    ///     url: https://example.org/images/current/disk.qcow2
    ///     checksums: SHA256SUMS          # beside the image, or an absolute URL
    ///     checksum_format: gnu           # or bsd
    ///     digest: sha256                 # or sha512
    ///     signature: detached            # or clearsigned, none
    ///     signature_url: SHA256SUMS.gpg
    ///     keyring: ~/.config/seedgen/keyrings/example.gpg
    ///     fingerprints: [0123…]
    /// ```
    public static func parseUserCatalog(at file: URL) throws -> [ImageCatalogEntry] {
        try parseUserCatalogFile(at: file).entries
    }

    /// Parses a user catalog file: `images:` as above, and `publishers:` whose image directories
    /// are trusted the way the built-in publishers are (a name of a built-in one replaces it):
    /// ```yaml
    /// publishers:
    ///   mirror:
    ///     root: https://mirror.example.org/cloud-images/   # every URL under it
    ///     checksums: SHA256SUMS                          # beside each image
    ///     digest: sha256
    ///     signature: detached
    ///     signature_url: SHA256SUMS.gpg                  # beside the list
    ///     keyring: /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg
    ///     fingerprints: [D2EB…7C81]
    /// ```
    public static func parseUserCatalogFile(at file: URL) throws -> (
        entries: [ImageCatalogEntry], publishers: [ImagePublisher]
    ) {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw SeedgenError.runtime(
                message: "cannot read image catalog \(file.path)", hint: "check the --catalog path", cause: "\(error)")
        }
        let node: YAMLNode?
        do {
            node = try YAMLReader.read(text)
        } catch {
            throw SeedgenError.invalidInput(
                error.problems.map {
                    Diagnostic(
                        at: SourceLocation(file: file.path, line: $0.mark.line, column: $0.mark.column),
                        keyPath: $0.key ?? "",
                        message: $0.message, allowed: $0.hint)
                })
        }
        var diagnostics = DiagnosticCollector()
        func location(_ node: YAMLNode) -> SourceLocation {
            SourceLocation(file: file.path, line: node.mark.line, column: node.mark.column)
        }
        guard node?.pairs != nil, node?["images"] != nil || node?["publishers"] != nil else {
            throw SeedgenError.invalidInput([
                Diagnostic(
                    at: SourceLocation(file: file.path, line: 1, column: 1), keyPath: "images",
                    message: "missing `images:` map", allowed: "images: { NAME: { url: …, … } }")
            ])
        }
        let images = node?["images"]?.pairs ?? []
        let allowedKeys = [
            "url", "description", "checksums", "checksum_format", "digest", "signature", "signature_url", "keyring",
            "fingerprints",
        ]
        var entries: [ImageCatalogEntry] = []
        for image in images {
            guard let name = image.key.scalar?.text else { continue }
            let valueNode = image.value
            let path = "images.\(name)"
            guard let map = valueNode.pairs else {
                diagnostics.error("must be a map", at: location(valueNode), keyPath: path, allowed: "url, checksums, …")
                continue
            }
            for entry in map {
                let key = entry.key.scalar?.text ?? ""
                if !allowedKeys.contains(key) {
                    let hint = NameSuggestion.closest(to: key, in: allowedKeys).map { "did you mean `\($0)`?" }
                    diagnostics.error(
                        "unknown key `\(key)`", at: location(entry.key), keyPath: "\(path).\(key)",
                        allowed: hint ?? allowedKeys.joined(separator: ", "))
                }
            }
            // Scalars by their text: a fingerprint of digits only is still a fingerprint.
            func string(_ key: String) -> String? { valueNode[key]?.scalar?.text }
            guard let url = string("url") else {
                diagnostics.error("missing `url`", at: location(valueNode), keyPath: "\(path).url")
                continue
            }
            let format = string("checksum_format").map { ChecksumListFormat(rawValue: $0) } ?? .gnu
            let digest = string("digest").map { ImageDigestAlgorithm(rawValue: $0) } ?? .sha256
            let style =
                string("signature").map { ImageSignatureStyle(rawValue: $0) }
                ?? (string("signature_url") == nil ? ImageSignatureStyle.none : .detached)
            guard let format, let digest, let style else {
                diagnostics.error(
                    "bad checksum_format, digest or signature value", at: location(valueNode), keyPath: path,
                    allowed: "checksum_format: gnu|bsd, digest: sha256|sha512, signature: detached|clearsigned|none")
                continue
            }
            let fingerprints = valueNode["fingerprints"]?.items?.compactMap(\.scalar?.text) ?? []
            if style != .none && fingerprints.isEmpty {
                diagnostics.error(
                    "a signed entry needs pinned `fingerprints`", at: location(valueNode),
                    keyPath: "\(path).fingerprints", allowed: "a list of 40-hex-digit OpenPGP fingerprints")
            }
            if style != .none && string("checksums") == nil {
                diagnostics.error(
                    "a signed entry needs `checksums`", at: location(valueNode), keyPath: "\(path).checksums")
            }
            entries.append(
                ImageCatalogEntry(
                    name: name, description: string("description") ?? "user catalog", url: url,
                    checksums: string("checksums"),
                    checksumFormat: format, digestAlgorithm: digest, signatureStyle: style,
                    signature: string("signature_url"),
                    keyring: string("keyring"), fingerprints: fingerprints))
        }
        var publishers: [ImagePublisher] = []
        let publisherKeys = [
            "root", "checksums", "checksum_format", "digest", "signature", "signature_url", "keyring", "fingerprints",
        ]
        for publisher in node?["publishers"]?.pairs ?? [] {
            guard let name = publisher.key.scalar?.text else { continue }
            let valueNode = publisher.value
            let path = "publishers.\(name)"
            guard let map = valueNode.pairs else {
                diagnostics.error(
                    "must be a map", at: location(valueNode), keyPath: path, allowed: "root, checksums, …")
                continue
            }
            for entry in map where !publisherKeys.contains(entry.key.scalar?.text ?? "") {
                let key = entry.key.scalar?.text ?? ""
                diagnostics.error(
                    "unknown key `\(key)`", at: location(entry.key), keyPath: "\(path).\(key)",
                    allowed: publisherKeys.joined(separator: ", "))
            }
            func string(_ key: String) -> String? { valueNode[key]?.scalar?.text }
            guard let rootURL = string("root"), let parsed = URL(string: rootURL), parsed.scheme != nil,
                parsed.host != nil, let checksums = string("checksums")
            else {
                diagnostics.error(
                    "a publisher needs `root` (a URL) and `checksums` (the list's file name)", at: location(valueNode),
                    keyPath: path)
                continue
            }
            let format = string("checksum_format").map { ChecksumListFormat(rawValue: $0) } ?? .gnu
            let digest = string("digest").map { ImageDigestAlgorithm(rawValue: $0) } ?? .sha256
            let style =
                string("signature").map { ImageSignatureStyle(rawValue: $0) }
                ?? (string("signature_url") == nil ? ImageSignatureStyle.none : .detached)
            guard let format, let digest, let style else {
                diagnostics.error(
                    "bad checksum_format, digest or signature value", at: location(valueNode), keyPath: path,
                    allowed: "checksum_format: gnu|bsd, digest: sha256|sha512, signature: detached|clearsigned|none")
                continue
            }
            let fingerprints = valueNode["fingerprints"]?.items?.compactMap(\.scalar?.text) ?? []
            if style != .none && (fingerprints.isEmpty || string("keyring") == nil) {
                diagnostics.error(
                    "a signed publisher needs `keyring` and pinned `fingerprints`", at: location(valueNode),
                    keyPath: "\(path).fingerprints", allowed: "a list of 40-hex-digit OpenPGP fingerprints")
            }
            if style == .detached && string("signature_url") == nil {
                diagnostics.error(
                    "a detached signature needs `signature_url` (the file name beside the list)",
                    at: location(valueNode), keyPath: "\(path).signature_url")
            }
            publishers.append(
                ImagePublisher(
                    name: name, root: rootURL, checksums: checksums, checksumFormat: format, digestAlgorithm: digest,
                    signatureStyle: style,
                    signature: string("signature_url"), keyring: string("keyring"), fingerprints: fingerprints))
        }
        try diagnostics.throwIfErrors()
        return (entries, publishers)
    }

    static func normalizedFingerprint(_ text: String) -> String {
        String(text.uppercased().filter { $0.isHexDigit })
    }
}
