import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SeedgenCore

/// Settings of one transport. The defaults verify certificates against the system trust store.
public struct HTTPTransportOptions: Sendable {
    /// PEM file of CA certificates trusted beside the system store (`--ca-file`, `SEEDGEN_CA_FILE`).
    public var caFile: String?
    /// SHA-256 of the server's leaf certificate: when set, a connection is accepted only if the
    /// presented leaf has this fingerprint (the CA chain and host name then do not matter, as with
    /// Proxmox's self-signed node certificates). Colons and case are ignored.
    public var pinnedFingerprint: String?
    /// Proxies; `fromEnvironment` reads them as curl does.
    public var proxies: HTTPProxySettings
    /// Seconds without a byte in either direction before a request fails with `.timeout`.
    public var stallTimeout: TimeInterval
    public var connectTimeout: TimeInterval
    /// Redirects followed per request (HTTPS → HTTP is never followed).
    public var maximumRedirects: Int
    public var userAgent: String

    public init(
        caFile: String? = nil, pinnedFingerprint: String? = nil, proxies: HTTPProxySettings = .direct,
        stallTimeout: TimeInterval = 60,
        connectTimeout: TimeInterval = 30, maximumRedirects: Int = 10, userAgent: String = "seedgen"
    ) {
        self.caFile = caFile
        self.pinnedFingerprint = pinnedFingerprint
        self.proxies = proxies
        self.stallTimeout = stallTimeout
        self.connectTimeout = connectTimeout
        self.maximumRedirects = maximumRedirects
        self.userAgent = userAgent
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    /// Header fields in order; a field given here replaces the transport's own (User-Agent).
    public var headers: [(name: String, value: String)]
    public var body: HTTPRequestBody?

    public init(
        method: String = "GET", url: URL, headers: [(name: String, value: String)] = [], body: HTTPRequestBody? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A request body: bytes in memory, or a stream of a declared length (sent with Content-Length,
/// never chunked: the Proxmox API refuses chunked uploads) pulled as the connection takes it, so a
/// multi-gigabyte upload holds one piece in memory at a time.
public struct HTTPRequestBody: Sendable {
    enum Storage: Sendable {
        case bytes(Data)
        case stream(length: Int64, next: @Sendable () async throws -> Data?)
    }

    let storage: Storage
    public let contentType: String?

    public static func bytes(_ data: Data, contentType: String? = nil) -> HTTPRequestBody {
        HTTPRequestBody(storage: .bytes(data), contentType: contentType)
    }

    /// `next` returns the following piece, or nil at the end; the pieces must add up to `length`.
    public static func stream(
        length: Int64, contentType: String? = nil, next: @escaping @Sendable () async throws -> Data?
    ) -> HTTPRequestBody {
        HTTPRequestBody(storage: .stream(length: length, next: next), contentType: contentType)
    }

    /// Byte strings and files sent one after the other, e.g. a multipart form around a disk image.
    public static func segments(_ segments: [HTTPBodySegment], contentType: String? = nil) throws -> HTTPRequestBody {
        let reader = try SegmentReader(segments)
        return .stream(length: reader.length, contentType: contentType) { try await reader.next() }
    }

    var length: Int64 {
        switch storage {
        case .bytes(let data): return Int64(data.count)
        case .stream(let length, _): return length
        }
    }
}

public enum HTTPBodySegment: Sendable {
    case bytes(Data)
    case file(URL)
}

/// Reads segments in pieces of at most 1 MiB.
private actor SegmentReader {
    static let pieceSize = 1 << 20
    private var remaining: [HTTPBodySegment]
    private var open: FileHandle?
    nonisolated let length: Int64

    init(_ segments: [HTTPBodySegment]) throws {
        var total: Int64 = 0
        for segment in segments {
            switch segment {
            case .bytes(let data): total += Int64(data.count)
            case .file(let url):
                guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber
                else {
                    throw HTTPTransportError(
                        .request, "cannot read \(url.path) to upload it", cause: String(cString: strerror(errno)))
                }
                total += size.int64Value
            }
        }
        length = total
        remaining = segments
    }

    func next() throws -> Data? {
        while true {
            if let handle = open {
                let piece = try handle.read(upToCount: Self.pieceSize) ?? Data()
                if !piece.isEmpty { return piece }
                try? handle.close()
                open = nil
            }
            guard !remaining.isEmpty else { return nil }
            switch remaining.removeFirst() {
            case .bytes(let data): if !data.isEmpty { return data }
            case .file(let url):
                guard let handle = FileHandle(forReadingAtPath: url.path) else {
                    throw HTTPTransportError(
                        .request, "cannot read \(url.path) to upload it", cause: String(cString: strerror(errno)))
                }
                open = handle
            }
        }
    }
}

/// A response whose body is still arriving.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// The URL that answered, after redirects.
    public var url: URL

    /// The first value of `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var contentLength: Int64? {
        header("Content-Length").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
    }
}

/// A piece of a response body: the buffer the bytes were received into, not a copy. It stays valid
/// as long as it is kept, so a consumer may hand it to another thread to write out.
public struct HTTPBodyChunk: Sendable {
    let buffer: ByteBuffer
    public var count: Int { buffer.readableBytes }
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeReadableBytes(body)
    }
    public var data: Data { Data(buffer.readableBytesView) }
}

/// The body of a response, read piece by piece; ends with nil. A stall (nothing for the stall
/// timeout) and a body shorter than its Content-Length throw.
public struct HTTPResponseBody: Sendable {
    let nextChunk: @Sendable () async throws -> ByteBuffer?
    let url: URL
    let proxy: HTTPProxy?
    let watch: StallWatch

    public func next() async throws -> HTTPBodyChunk? {
        watch.consumerWaits()
        defer { watch.consumerTookOver() }
        do {
            return try await nextChunk().map(HTTPBodyChunk.init)
        } catch {
            throw HTTPTransportError.classify(error, url: url, proxy: proxy)
        }
    }

    /// The whole body, refused past `limit` bytes.
    public func collect(limit: Int) async throws -> Data {
        var data = Data()
        while let chunk = try await next() {
            guard data.count + chunk.count <= limit else {
                throw HTTPTransportError(
                    .request, "\(HTTPTransportError.redacted(url)): the response is larger than \(limit) bytes")
            }
            chunk.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        return data
    }
}

/// Every HTTP(S) request seedgen makes. On async-http-client (SwiftNIO, BoringSSL): certificates are
/// always verified, against the system store and the CA file, or by the pinned fingerprint.
/// Redirects are followed here, not by the library, so that each hop gets its own proxy decision
/// and HTTPS → HTTP can be refused.
public final class HTTPTransport: Sendable {
    public let options: HTTPTransportOptions
    private let tls: TLSConfiguration
    private let pin: CertificateFingerprint?

    public init(options: HTTPTransportOptions) throws {
        self.options = options
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = options.caFile {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !certificates.isEmpty else { throw HTTPTransportError(.request, "no certificate in it") }
                tls.additionalTrustRoots = [.certificates(certificates)]
            } catch {
                throw HTTPTransportError(
                    .request, "cannot use the CA file \(caFile)",
                    hint: "give a PEM file of CA certificates (--ca-file FILE or SEEDGEN_CA_FILE)",
                    cause: (error as? HTTPTransportError)?.message ?? "\(error)")
            }
        }
        self.tls = tls
        pin = try options.pinnedFingerprint.map(CertificateFingerprint.init(parsing:))
    }

    /// Sends `request`, following redirects, and hands the response head and body to `consume`.
    /// Any status reaches `consume`; `expecting` turns other statuses into `.status` errors.
    public func send<Result: Sendable>(
        _ request: HTTPRequest, expecting accepted: Set<Int>? = nil,
        _ consume: @escaping @Sendable (HTTPResponseHead, HTTPResponseBody) async throws -> Result
    ) async throws -> Result {
        var current = request
        var redirects = 0
        while true {
            let proxy = options.proxies.proxy(for: current.url)
            let target = current.url
            let watch = StallWatch(timeout: options.stallTimeout)
            let stalled = { @Sendable in
                HTTPTransportError(
                    .timeout, "\(HTTPTransportError.redacted(target)): nothing arrived within the stall timeout",
                    hint: "the server or the network stalled; try again")
            }
            let outcome: Step<Result> = try await watch.run(stalled: stalled) { [current] in
                try await self.once(current, proxy: proxy, watch: watch) { head, body in
                    if head.status == 407, let proxy {
                        throw HTTPTransportError(
                            .proxy,
                            "the proxy \(proxy.host):\(proxy.port) (from \(proxy.source)) wants credentials for "
                                + "\(HTTPTransportError.redacted(head.url))",
                            hint: "put them in the proxy URL: http://user:password@proxy:port", cause: "HTTP 407")
                    }
                    if [301, 302, 303, 307, 308].contains(head.status), let location = head.header("Location") {
                        _ = try? await body.collect(limit: 1 << 20)
                        return .redirect(location, head.status)
                    }
                    if let accepted, !accepted.contains(head.status) {
                        let text = (try? await body.collect(limit: 64 << 10)) ?? Data()
                        throw HTTPTransportError.refusedStatus(head.status, url: head.url, body: text)
                    }
                    return .done(try await consume(head, body))
                }
            }
            switch outcome {
            case .done(let result): return result
            case .redirect(let location, let status):
                current = try redirected(current, to: location, status: status, count: &redirects)
            }
        }
    }

    /// Sends `request` and returns the status, headers and body (at most `limit` bytes).
    public func data(_ request: HTTPRequest, expecting accepted: Set<Int>? = [200], limit: Int = 16 << 20) async throws
        -> (HTTPResponseHead, Data)
    {
        try await send(request, expecting: accepted) { head, body in (head, try await body.collect(limit: limit)) }
    }

    /// A JSON request: `body` encoded as JSON (if any), the 2xx response decoded as `Response`.
    public func json<Response: Decodable & Sendable>(
        _ method: String, _ url: URL, body: (any Encodable & Sendable)? = nil,
        headers: [(name: String, value: String)] = [],
        as type: Response.Type = Response.self
    ) async throws -> Response {
        var fields = headers
        fields.append(("Accept", "application/json"))
        let encoded: HTTPRequestBody?
        if let body {
            do {
                encoded = .bytes(try JSONOutput.canonicalData(body), contentType: "application/json")
            } catch {
                throw HTTPTransportError(
                    .request, "cannot encode the request to \(HTTPTransportError.redacted(url)) as JSON",
                    cause: "\(error)")
            }
        } else {
            encoded = nil
        }
        let (head, data) = try await self.data(
            HTTPRequest(method: method, url: url, headers: fields, body: encoded), expecting: Set(200..<300))
        do {
            return try JSONDecoder().decode(Response.self, from: data)
        } catch {
            throw HTTPTransportError(
                .request,
                "\(HTTPTransportError.redacted(head.url)) answered HTTP \(head.status) with JSON of an unexpected "
                    + "shape",
                cause: "\(error)")
        }
    }

    private enum Step<Result: Sendable>: Sendable {
        case done(Result)
        case redirect(String, Int)
    }

    private func redirected(_ request: HTTPRequest, to location: String, status: Int, count: inout Int) throws
        -> HTTPRequest
    {
        let from = HTTPTransportError.redacted(request.url)
        guard let target = URL(string: location, relativeTo: request.url)?.absoluteURL,
            let scheme = target.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            throw HTTPTransportError(.redirect, "\(from) redirects to \(location), which is not an http(s) URL")
        }
        if request.url.scheme?.lowercased() == "https" && scheme == "http" {
            throw HTTPTransportError(
                .redirect,
                "\(from) redirects to \(HTTPTransportError.redacted(target)): from HTTPS to plain HTTP, which seedgen "
                    + "refuses",
                hint: "use the plain http:// URL yourself if you trust the network path")
        }
        count += 1
        guard count <= options.maximumRedirects else {
            throw HTTPTransportError(
                .redirect, "\(from): more than \(options.maximumRedirects) redirects", hint: "check the URL")
        }
        var next = request
        next.url = target
        if status == 303 || ((status == 301 || status == 302) && request.method == "POST") {
            next.method = "GET"
            next.body = nil
        }
        return next
    }

    private func once<Result: Sendable>(
        _ request: HTTPRequest, proxy: HTTPProxy?, watch: StallWatch,
        _ consume: @escaping @Sendable (HTTPResponseHead, HTTPResponseBody) async throws -> Result
    ) async throws -> Result {
        let scheme = request.url.scheme?.lowercased()
        if let pin, scheme == "https" {
            if let proxy {
                throw HTTPTransportError(
                    .proxy,
                    "\(HTTPTransportError.redacted(request.url)) is pinned by certificate fingerprint, and pinned "
                        + "connections do not go through a proxy",
                    hint:
                        "add \(request.url.host ?? "the host") to no_proxy (the proxy is \(proxy.host):\(proxy.port), "
                        + "from \(proxy.source))"
                )
            }
            return try await SingleRequestConnection.send(
                request, options: options, mode: .pinned(pin), watch: watch, consume)
        }
        if let proxy, scheme == "http" {
            return try await SingleRequestConnection.send(
                request, options: options, mode: .forwardProxy(proxy), watch: watch, consume)
        }
        let client = ClientPool.client(proxy: proxy, connectTimeout: options.connectTimeout)
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        outgoing.headers = headers(for: request)
        outgoing.tlsConfiguration = tls
        if let body = request.body {
            switch body.storage {
            case .bytes(let data): outgoing.body = .bytes(ByteBuffer(bytes: data))
            case .stream(let length, let next):
                outgoing.body = .stream(
                    PulledBody(next: {
                        watch.progress()
                        return try await next()
                    }), length: .known(length))
            }
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outgoing, deadline: .distantFuture)
        } catch {
            throw HTTPTransportError.classify(error, url: request.url, proxy: proxy)
        }
        let head = HTTPResponseHead(
            status: Int(response.status.code), headers: response.headers.map { (name: $0.name, value: $0.value) },
            url: request.url)
        watch.consumerTookOver()
        let iterator = BodyIterator(response.body.makeAsyncIterator())
        return try await consume(
            head,
            HTTPResponseBody(nextChunk: { try await iterator.next() }, url: request.url, proxy: proxy, watch: watch))
    }

    func headers(for request: HTTPRequest) -> HTTPHeaders {
        HTTPHeaders(Self.headerFields(request, userAgent: options.userAgent).map { ($0.name, $0.value) })
    }
}

/// One response body's iterator, shared with the consumer's closure (which reads it from one task).
private final class BodyIterator: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    init(_ iterator: HTTPClientResponse.Body.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> ByteBuffer? { try await iterator.next() }
}

/// A streamed request body as async-http-client pulls it.
private struct PulledBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let next: @Sendable () async throws -> Data?

    struct AsyncIterator: AsyncIteratorProtocol {
        let next: @Sendable () async throws -> Data?
        mutating func next() async throws -> ByteBuffer? { try await next().map { ByteBuffer(bytes: $0) } }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(next: next) }
}

/// One async-http-client per proxy and connect timeout, for the whole process (as the library's
/// own `HTTPClient.shared`): seedgen is a short-lived command, and a client that is never shut
/// down needs no shutdown call on every path out of a command.
enum ClientPool {
    private struct Key: Hashable {
        var proxy: HTTPProxy?
        var connectTimeout: TimeInterval
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var clients: [Key: HTTPClient] = [:]

    static func client(proxy: HTTPProxy?, connectTimeout: TimeInterval) -> HTTPClient {
        let key = Key(proxy: proxy, connectTimeout: connectTimeout)
        return lock.withLock {
            if let client = clients[key] { return client }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                // No read timeout: StallWatch says why.
                timeout: .init(connect: .milliseconds(Int64(connectTimeout * 1000))),
                decompression: .disabled)
            configuration.httpVersion = .http1Only
            if let proxy {
                let authorization = proxy.username.map {
                    HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "")
                }
                configuration.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
            }
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients[key] = client
            return client
        }
    }
}
