import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// SHA-256 of a certificate's DER encoding, shown as Proxmox (`pvenode cert info`) and openssl
/// (`x509 -fingerprint -sha256`) show it: upper-case hex pairs joined by colons.
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(der: [UInt8]) {
        bytes = Array(SHA256.hash(data: der))
    }

    /// Accepts `AB:CD:…`, `ab:cd:…` or plain hex; anything but 32 bytes is refused.
    public init(parsing text: String) throws {
        let hex = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ":", with: "")
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let end = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard end != index, hex.distance(from: index, to: end) == 2, let byte = UInt8(hex[index..<end], radix: 16)
            else { bytes = []; break }
            bytes.append(byte)
            index = end
        }
        guard bytes.count == 32 else {
            throw HTTPTransportError(
                .request, "\"\(text)\" is not a SHA-256 certificate fingerprint",
                hint: "give the 32 bytes as colon-separated hex, as `pvenode cert info` shows it (AB:CD:…)")
        }
        self.bytes = bytes
    }

    public var description: String { bytes.map { String(format: "%02X", $0) }.joined(separator: ":") }
}

/// One request on a connection of its own, for the two cases async-http-client does not cover:
/// - a pinned HTTPS server, verified by its leaf certificate's fingerprint. The library verifies
///   certificates only by a chain to a trust root, and Proxmox nodes present a leaf signed by their
///   own CA, which is not sent; the pinned check needs a TLS handler with its own verification
///   callback, which the library does not let a caller install;
/// - a plain http:// URL through a proxy, sent in absolute form (`GET http://host/path`) as curl
///   does: the library tunnels every proxied request with CONNECT, which proxies commonly allow
///   only to port 443.
/// Same NIO, BoringSSL and HTTP/1.1 codec as the library.
enum SingleRequestConnection {
    enum Mode: Sendable {
        case pinned(CertificateFingerprint)
        case forwardProxy(HTTPProxy)
    }

    static func send<Result: Sendable>(
        _ request: HTTPRequest, options: HTTPTransportOptions, mode: Mode, watch: StallWatch,
        _ consume: @escaping @Sendable (HTTPResponseHead, HTTPResponseBody) async throws -> Result
    ) async throws -> Result {
        let url = request.url
        guard let host = url.host, !host.isEmpty else {
            throw HTTPTransportError(.request, "\(url.absoluteString) has no host")
        }
        let pin: CertificateFingerprint?
        let proxy: HTTPProxy?
        let connectHost: String
        let port: Int
        switch mode {
        case .pinned(let fingerprint):
            pin = fingerprint
            proxy = nil
            connectHost = host
            port = url.port ?? 443
        case .forwardProxy(let forward):
            pin = nil
            proxy = forward
            connectHost = forward.host
            port = forward.port
        }
        let presented = NIOLockedValueBox<CertificateFingerprint?>(nil)
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            // Not `.none`: only with verification on does BoringSSL call the callback below, which
            // then replaces the chain check.
            configuration.certificateVerification = .fullVerification
            let context = try NIOSSLContext(configuration: configuration)
            let serverName = IPAddressBytes(host) == nil ? host : nil
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(options.connectTimeout * 1000)))
                .connect(host: connectHost, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        guard let pin else {
                            try pipeline.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                                wrappingChannelSynchronously: channel)
                        }
                        let tls = try NIOSSLClientHandler(
                            context: context, serverHostname: serverName,
                            customVerificationCallback: { certificates, promise in
                                guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                                    return promise.succeed(.failed)
                                }
                                let fingerprint = CertificateFingerprint(der: der)
                                presented.withLockedValue { $0 = fingerprint }
                                promise.succeed(fingerprint == pin ? .certificateVerified : .failed)
                            })
                        try pipeline.addHandler(tls)
                        try pipeline.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw HTTPTransportError.classify(error, url: url, proxy: proxy)
        }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(
                    version: .http1_1, method: HTTPMethod(rawValue: request.method),
                    uri: proxy == nil ? target(of: url) : url.absoluteString)
                head.headers.add(name: "Host", value: url.port.map { "\(hostField(host)):\($0)" } ?? hostField(host))
                for field in HTTPTransport.headerFields(request, userAgent: options.userAgent) {
                    head.headers.add(name: field.name, value: field.value)
                }
                head.headers.add(name: "Connection", value: "close")
                if let proxy, let user = proxy.username {
                    let credentials = Data("\(user):\(proxy.password ?? "")".utf8).base64EncodedString()
                    head.headers.add(name: "Proxy-Authorization", value: "Basic \(credentials)")
                }
                if let body = request.body { head.headers.add(name: "Content-Length", value: String(body.length)) }
                try await outbound.write(.head(head))
                if let body = request.body {
                    var sent: Int64 = 0
                    switch body.storage {
                    case .bytes(let data):
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: data))))
                        sent = Int64(data.count)
                    case .stream(_, let next):
                        while let piece = try await next() {
                            sent += Int64(piece.count)
                            guard sent <= body.length else { break }
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: piece))))
                            watch.progress()
                        }
                    }
                    guard sent == body.length else {
                        throw HTTPTransportError(
                            .request,
                            "\(HTTPTransportError.redacted(url)): the request body was not the length it declared",
                            cause: "\(sent) of \(body.length) bytes")
                    }
                }
                do {
                    try await outbound.write(.end(nil))
                } catch ChannelError.ioOnClosedChannel where request.body != nil {
                    // The whole body was sent (its length was checked above), and the server answered
                    // and closed before this last, empty write (pve-http-server closes after an
                    // upload): its answer is already in `inbound`, read below.
                }
                watch.consumerWaits()
                let parts = InboundParts(inbound.makeAsyncIterator())
                guard case .head(let responseHead) = try await parts.next() else {
                    throw HTTPTransportError(.connection, "\(HTTPTransportError.redacted(url)): no response")
                }
                watch.consumerTookOver()
                let response = HTTPResponseHead(
                    status: Int(responseHead.status.code),
                    headers: responseHead.headers.map { (name: $0.name, value: $0.value) }, url: url)
                let body = HTTPResponseBody(
                    nextChunk: {
                        switch try await parts.next() {
                        case .body(let buffer): return buffer
                        case .end, nil: return nil
                        case .head:
                            throw HTTPTransportError(
                                .connection, "\(HTTPTransportError.redacted(url)): a second response head")
                        }
                    }, url: url, proxy: proxy, watch: watch)
                return try await consume(response, body)
            }
        } catch {
            if let pin, let fingerprint = presented.withLockedValue({ $0 }), fingerprint != pin {
                throw HTTPTransportError(
                    .tls, "\(host):\(port) presented a certificate whose fingerprint is not the pinned one",
                    hint:
                        "if the node's certificate was renewed, check the new one (`pvenode cert info` on the node) "
                        + "and pin it; otherwise something is between you and the node",
                    cause: "pinned SHA-256 \(pin), presented \(fingerprint)")
            }
            throw HTTPTransportError.classify(error, url: url, proxy: proxy)
        }
    }

    private static func target(of url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? "/"
        components = nil
        let query = url.query.map { "?\($0)" } ?? ""
        return (path.isEmpty ? "/" : path) + query
    }

    private static func hostField(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
}

extension HTTPTransport {
    /// The request's header fields with the transport's defaults (User-Agent, Content-Type).
    static func headerFields(_ request: HTTPRequest, userAgent: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        if !request.headers.contains(where: { $0.name.lowercased() == "user-agent" }) {
            fields.append(("User-Agent", userAgent))
        }
        if let type = request.body?.contentType,
            !request.headers.contains(where: { $0.name.lowercased() == "content-type" })
        {
            fields.append(("Content-Type", type))
        }
        return fields + request.headers
    }
}

private final class InboundParts: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    init(_ iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) { self.iterator = iterator }
    func next() async throws -> HTTPClientResponsePart? { try await iterator.next() }
}
