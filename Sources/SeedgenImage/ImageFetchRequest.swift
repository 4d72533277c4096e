import Foundation
import SeedgenCore

/// What `seedgen image fetch` is asked for: an image named on the command line (a catalog name, a
/// URL or a local file) and how to verify it.
public struct ImageFetchRequest: Sendable, Hashable {
    public var image: String
    public var sha256: String?
    public var sha512: String?
    public var checksumsURL: String?
    public var signatureURL: String?
    public var keyring: String?
    public var fingerprints: [String]

    public init(
        image: String, sha256: String? = nil, sha512: String? = nil, checksumsURL: String? = nil,
        signatureURL: String? = nil,
        keyring: String? = nil, fingerprints: [String] = []
    ) {
        self.image = image
        self.sha256 = sha256
        self.sha512 = sha512
        self.checksumsURL = checksumsURL
        self.signatureURL = signatureURL
        self.keyring = keyring
        self.fingerprints = fingerprints
    }
}

extension ImageSourcePlan {
    /// The plan for a request: a catalog entry (a `--sha256` pins it further), else a URL or an
    /// existing file verified by the request's digests and lists, else by the publisher whose image
    /// tree holds the URL. A name that is none of these is a usage error with a "did you mean".
    public init(_ request: ImageFetchRequest, catalog: ImageCatalog) throws {
        if let entry = catalog.entry(named: request.image) {
            self = try ImageSourcePlan(entry: entry)
            if let sha256 = request.sha256 {
                pinnedAlgorithm = .sha256
                pinnedHex = sha256.lowercased()
            }
            return
        }
        let image = request.image
        let url: URL
        if image.contains("://") {
            guard let parsed = URL(string: image) else { throw SeedgenError.usage("not a URL: \(image)") }
            url = parsed
        } else if FileManager.default.fileExists(atPath: image) {
            url = URL(fileURLWithPath: image).standardizedFileURL
        } else {
            let hint = catalog.suggestion(for: image).map { " (did you mean \($0)?)" } ?? ""
            throw SeedgenError.usage(
                "\(image) is neither a catalog name\(hint), a URL, nor an existing file; see `seedgen image list`")
        }
        func parse(_ text: String?) throws -> URL? {
            guard let text else { return nil }
            guard let url = URL(string: text), url.scheme != nil else { throw SeedgenError.usage("not a URL: \(text)") }
            return url
        }
        if request.sha256 == nil, request.sha512 == nil, request.checksumsURL == nil, request.signatureURL == nil,
            let publisher = catalog.publisher(covering: url)
        {
            self = try ImageSourcePlan(url: url, publisher: publisher)
            return
        }
        self = try ImageSourcePlan(
            url: url, sha256: request.sha256, sha512: request.sha512, checksumsURL: try parse(request.checksumsURL),
            signatureURL: try parse(request.signatureURL),
            keyring: request.keyring.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            fingerprints: request.fingerprints)
    }
}
