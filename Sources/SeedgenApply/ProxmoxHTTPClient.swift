import Foundation
import SeedgenCore
import SeedgenHTTP
import SeedgenImage

/// The Proxmox VE API over HTTPS (`https://host:8006/api2/json/…`) through seedgen's one HTTP
/// transport, authenticated with an API token (`Authorization: PVEAPIToken=…`, which needs no CSRF
/// token). GET and DELETE parameters go in the query string, others form-encoded in the body;
/// uploads stream the file as multipart between a fixed head and tail.
public struct ProxmoxHTTPClient: ProxmoxAPIClient {
    public let base: URL
    public let token: ProxmoxAPIToken
    public let transport: HTTPTransport
    /// How uploads show their progress on stderr (`--progress`).
    public let progress: ProgressMode

    /// `api`: `https://host:8006` (a path, if any, is replaced by `/api2/json`).
    public init(api: URL, token: ProxmoxAPIToken, transport: HTTPTransport, progress: ProgressMode = .none) throws {
        self.progress = progress
        guard var components = URLComponents(url: api, resolvingAgainstBaseURL: false),
            components.scheme?.lowercased() == "https",
            components.host?.isEmpty == false
        else {
            throw SeedgenError.runtime(
                message: "the API address '\(api.absoluteString)' is not an https:// URL",
                hint:
                    "give the node as https://HOST:8006 (--api or PVE_API_URL); the API is never spoken over plain HTTP"
            )
        }
        components.path = "/api2/json"
        components.query = nil
        guard let url = components.url else {
            throw SeedgenError.runtime(message: "the API address '\(api.absoluteString)' is not a URL")
        }
        self.base = url
        self.token = token
        self.transport = transport
    }

    public func send(_ call: ProxmoxAPICall, artifactDirectory: URL?) async throws -> ProxmoxAPIResponse {
        let encodedParameters = call.parameters.map {
            "\(ProxmoxAPIEncoding.percentEncoded($0.name))=\(ProxmoxAPIEncoding.percentEncoded($0.value))"
        }
        .joined(separator: "&")
        var address = base.absoluteString + call.path
        var body: HTTPRequestBody?
        var reporter: ImageProgressReporter?
        if let upload = call.upload {
            guard let artifactDirectory else {
                throw SeedgenError.runtime(
                    message: "apply: \(call.path) uploads a file, and no artifact directory was given")
            }
            let form = try ProxmoxMultipartUpload(call)
            let progress = ImageProgressReporter(mode: progress, label: "upload \(upload.storedName)")
            let pieces = try UploadPieces(
                head: form.head, file: upload.location(in: artifactDirectory), tail: form.tail, progress: progress)
            progress.begin(total: pieces.fileSize)
            reporter = progress
            body = .stream(length: pieces.length, contentType: form.contentType) { try await pieces.next() }
        } else if call.method == .get || call.method == .delete {
            if !encodedParameters.isEmpty { address += "?" + encodedParameters }
        } else {
            body = .bytes(Data(encodedParameters.utf8), contentType: "application/x-www-form-urlencoded")
        }
        guard let url = URL(string: address) else {
            throw SeedgenError.runtime(message: "apply: cannot address \(call.path)")
        }
        let request = HTTPRequest(
            method: call.method.rawValue, url: url,
            headers: [("Authorization", token.authorization), ("Accept", "application/json")], body: body)
        do {
            let (head, data) = try await transport.data(request, expecting: nil)
            if let reporter, let upload = call.upload {
                reporter.finish(
                    "upload \(upload.storedName): \(ByteSize.readable(upload.size)) sent (HTTP \(head.status))")
            }
            return ProxmoxAPIResponse(status: head.status, body: data)
        } catch {
            if let reporter, let upload = call.upload { reporter.finish("upload \(upload.storedName): interrupted") }
            throw error
        }
    }
}

/// An upload's body: the multipart head, the file in pieces of 1 MiB, the tail; the file's bytes
/// are counted for the progress display as the connection takes them.
private actor UploadPieces {
    static let pieceSize = 1 << 20
    nonisolated let length: Int64
    nonisolated let fileSize: UInt64
    private let file: URL
    private let progress: ImageProgressReporter
    private var head: Data?
    private var tail: Data?
    private var handle: FileHandle?
    private var opened = false
    private var sent: UInt64 = 0

    init(head: Data, file: URL, tail: Data, progress: ImageProgressReporter) throws {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber else {
            throw SeedgenError.runtime(
                message: "cannot read \(file.path) to upload it", cause: String(cString: strerror(errno)))
        }
        self.head = head
        self.tail = tail
        self.file = file
        self.progress = progress
        fileSize = size.uint64Value
        length = Int64(head.count) + size.int64Value + Int64(tail.count)
    }

    func next() throws -> Data? {
        if let head {
            self.head = nil
            return head
        }
        if !opened {
            opened = true
            guard let handle = FileHandle(forReadingAtPath: file.path) else {
                throw SeedgenError.runtime(
                    message: "cannot read \(file.path) to upload it", cause: String(cString: strerror(errno)))
            }
            self.handle = handle
        }
        if let handle {
            let piece = try handle.read(upToCount: Self.pieceSize) ?? Data()
            if !piece.isEmpty {
                sent += UInt64(piece.count)
                progress.update(sent)
                return piece
            }
            try? handle.close()
            self.handle = nil
        }
        if let tail {
            self.tail = nil
            return tail
        }
        return nil
    }
}
