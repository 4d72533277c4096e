import Foundation
import SeedgenBundle
import SeedgenCore

/// One request `seedgen apply` makes to the Proxmox VE API, derived from a step of the bundle plan.
/// It names the endpoint as Proxmox's API schema does (`/nodes/{node}/qemu/{vmid}/resize`), so the
/// tests can check every call against that schema.
public struct ProxmoxAPICall: Sendable, Hashable, Codable {
    public enum Method: String, Sendable, Hashable, Codable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case delete = "DELETE"
    }

    /// A body (or, for GET, query) parameter. Secret values are never printed.
    public struct Parameter: Sendable, Hashable, Codable {
        public var name: String
        public var value: String
        public var secret: Bool

        public init(_ name: String, _ value: String, secret: Bool = false) {
            self.name = name
            self.value = value
            self.secret = secret
        }
    }

    /// A file sent as the `filename` part of a multipart upload (see `ProxmoxUpload`).
    public struct Upload: Sendable, Hashable, Codable {
        public var role: BundleFileRole
        /// Path relative to the artifact directory (`image/<file>` or the seed ISO), or an absolute
        /// path (an image in the local cache).
        public var source: String
        /// The name Proxmox stores it under: only `[A-Za-z0-9_.-]`, so Proxmox does not rename it.
        public var storedName: String
        public var sha256: String
        public var size: UInt64

        public init(role: BundleFileRole, source: String, storedName: String, sha256: String, size: UInt64) {
            self.role = role
            self.source = source
            self.storedName = storedName
            self.sha256 = sha256
            self.size = size
        }

        /// Where the file is read from.
        public func location(in artifactDirectory: URL) -> URL {
            source.hasPrefix("/") ? URL(fileURLWithPath: source) : artifactDirectory.appendingPathComponent(source)
        }
    }

    public var method: Method
    public var endpoint: String
    /// Values of the endpoint's `{…}` segments.
    public var pathValues: [String: String]
    public var parameters: [Parameter]
    public var upload: Upload?
    /// A file the node fetches itself (`download-url`, `apply --node-downloads`): described as an
    /// upload is, so that a file already there is recognized the same way. Nothing is sent from here.
    public var download: Upload?
    /// The call returns a task id (UPID) whose task must end with exit status OK.
    public var startsTask: Bool
    /// The plan step this call carries out.
    public var stepID: String

    public init(
        _ method: Method, _ endpoint: String, _ pathValues: [String: String], parameters: [Parameter] = [],
        upload: Upload? = nil, download: Upload? = nil, startsTask: Bool, stepID: String
    ) {
        self.method = method
        self.endpoint = endpoint
        self.pathValues = pathValues
        self.parameters = parameters
        self.upload = upload
        self.download = download
        self.startsTask = startsTask
        self.stepID = stepID
    }

    /// The file this call puts into a storage, by upload or by the node's download.
    public var placedFile: Upload? { upload ?? download }

    /// The request path below `/api2/json`, every `{…}` segment filled in and percent-encoded.
    public var path: String {
        endpoint.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix("{"), segment.hasSuffix("}") else { return String(segment) }
            let name = String(segment.dropFirst().dropLast())
            return ProxmoxAPIEncoding.percentEncoded(pathValues[name] ?? "")
        }.joined(separator: "/")
    }

    /// `POST /nodes/pve01/qemu vmid=9001 name=web01 …` with secret values shown as `<redacted>`:
    /// for `--dry-run`, logs and errors.
    public var redactedDescription: String {
        var words = ["\(method.rawValue) \(path)"]
        for parameter in parameters {
            words.append(
                "\(parameter.name)=\(parameter.secret ? "<redacted>" : Self.withoutCredentials(parameter.value))")
        }
        if let upload { words.append("filename=@\(upload.source) (stored as \(upload.storedName))") }
        return words.joined(separator: " ")
    }

    /// A URL's `user:password@` replaced by `<redacted>@` (a `download-url` source may carry them).
    package static func withoutCredentials(_ value: String) -> String {
        guard let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].firstIndex(of: "@"),
            !value[scheme.upperBound..<at].contains("/")
        else { return value }
        return String(value[..<scheme.upperBound]) + "<redacted>" + String(value[at...])
    }
}

/// The encodings Proxmox's API and its `qm` client use.
public enum ProxmoxAPIEncoding {
    /// RFC 3986 unreserved characters: what Perl's `URI::Escape::uri_escape` leaves as they are.
    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// Every byte outside the unreserved set as `%XX` (upper-case hex), the way `qm` encodes the
    /// keys file for `sshkeys` (`URI::Escape::uri_escape`) and the way a path segment must be sent.
    public static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    /// The name Proxmox's upload handler would store a file under: it replaces every character
    /// outside `[A-Za-z0-9_.-]` with `_` (pve-storage `API2/Storage/Status.pm`).
    public static func normalizedUploadName(_ name: String) -> String {
        String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { scalar in
                    scalar.isASCII
                        && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                            || "_.-".unicodeScalars.contains(scalar))
                        ? scalar : "_"
                }))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The `multipart/form-data` body of an upload, laid out as Proxmox's streaming parser
/// (pve-http-server `APIServer/AnyEvent.pm`) reads it: the fields `content`, `checksum-algorithm`,
/// `checksum` in that order, then the file part, whose first header is
/// `Content-Disposition: form-data; name="filename"; filename="…"`, then a `Content-Type`. The file's
/// bytes go between `head` and `tail` as they are streamed, so a multi-gigabyte image is never held
/// in memory, and the length is known before the first byte (Proxmox refuses chunked uploads).
public struct ProxmoxMultipartUpload: Sendable, Hashable {
    public let boundary: String
    public let head: Data
    public let tail: Data

    public init(_ call: ProxmoxAPICall) throws {
        guard let upload = call.upload else {
            throw SeedgenError.runtime(message: "apply: \(call.path) is not an upload")
        }
        // The boundary comes from the file's digest, so the same upload is the same bytes; a file
        // cannot contain a boundary made from its own hash.
        boundary = "seedgen-" + upload.sha256.prefix(32)
        var head = ""
        for parameter in call.parameters {
            head +=
                "--\(boundary)\r\nContent-Disposition: form-data; "
                + "name=\"\(parameter.name)\"\r\n\r\n\(parameter.value)\r\n"
        }
        head +=
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"\(upload.storedName)\"\r\n"
        head += "Content-Type: application/octet-stream\r\n\r\n"
        self.head = Data(head.utf8)
        tail = Data("\r\n--\(boundary)--\r\n".utf8)
    }

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// `Content-Length` for a file of `size` bytes.
    public func contentLength(fileSize size: UInt64) -> UInt64 { UInt64(head.count) + size + UInt64(tail.count) }
}
