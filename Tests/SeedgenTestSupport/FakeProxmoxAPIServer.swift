import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SeedgenApply
import SeedgenHTTP

/// The fake Proxmox API over HTTPS on 127.0.0.1, as pve-http-server (`APIServer/AnyEvent.pm`)
/// speaks it: `/api2/json/…`, the `PVEAPIToken` header (401 without the right one), query and
/// form-encoded parameters, chunked bodies refused (501), and uploads parsed by the multipart
/// rules of its streaming parser (fields `content`, `checksum-algorithm`, `checksum` in that order,
/// then a file part that must be named `filename`).
public final class FakeProxmoxAPIServer: @unchecked Sendable {
    public let api: FakeProxmoxAPI
    public let port: Int
    public var url: URL { URL(string: "https://127.0.0.1:\(port)")! }
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel

    /// When set, the next upload's connection is closed after this many body bytes (a cut network).
    public let cutNextUpload = CutSwitch()

    /// Answers to requests whose path contains `pathPart` wait this long first (a slow node), so
    /// that a test can watch the client while it runs. The event loop is not blocked meanwhile.
    public let slowAnswers = DelaySwitch()

    public final class DelaySwitch: @unchecked Sendable {
        private let lock = NSLock()
        private var rule: (pathPart: String, delay: TimeAmount)?
        public func set(_ pathPart: String, milliseconds: Int64) {
            lock.withLock { rule = (pathPart, .milliseconds(milliseconds)) }
        }
        func delay(for uri: String) -> TimeAmount? {
            lock.withLock { rule.flatMap { uri.contains($0.pathPart) ? $0.delay : nil } }
        }
    }

    public final class CutSwitch: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: Int?
        public func arm(afterBytes: Int) { lock.withLock { bytes = afterBytes } }
        /// The threshold, once: the switch disarms itself.
        func take() -> Int? {
            lock.withLock {
                defer { bytes = nil }; return bytes
            }
        }
    }

    /// `closesAfterUpload`: end the connection after answering an upload, as pve-http-server does
    /// (`keep_alive = 0`); the upload benchmark turns it off (see the README's benchmarks).
    public init(api: FakeProxmoxAPI, token: String, certificate: URL, key: URL, closesAfterUpload: Bool = true) throws {
        self.api = api
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let expected = "PVEAPIToken=\(token)"
        let cut = cutNextUpload
        let slow = slowAnswers
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(
                            api: api, expectedAuthorization: expected, cut: cut, slow: slow,
                            closesAfterUpload: closesAfterUpload))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let api: FakeProxmoxAPI
        let expectedAuthorization: String
        let cut: CutSwitch
        let slow: DelaySwitch
        let closesAfterUpload: Bool
        var head: HTTPRequestHead?
        var body = ByteBuffer()
        var cutAfter: Int?
        /// pve-http-server ends the connection after an upload (`keep_alive = 0`).
        var closeAfterResponse = false

        init(
            api: FakeProxmoxAPI, expectedAuthorization: String, cut: CutSwitch, slow: DelaySwitch,
            closesAfterUpload: Bool
        ) {
            self.closesAfterUpload = closesAfterUpload
            self.api = api
            self.expectedAuthorization = expectedAuthorization
            self.cut = cut
            self.slow = slow
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
                cutAfter = head.uri.hasSuffix("/upload") ? cut.take() : nil
            case .body(var part):
                body.writeBuffer(&part)
                if let cutAfter, body.readableBytes >= cutAfter {
                    head = nil
                    context.close(promise: nil)
                }
            case .end:
                guard let head else { return }
                closeAfterResponse =
                    closesAfterUpload && head.uri.split(separator: "?").first?.hasSuffix("/upload") == true
                let bytes = Data(body.readableBytesView)
                let api = self.api
                let expected = expectedAuthorization
                // Answered on the event loop, through the fake's own queue: no Swift concurrency thread
                // is needed, so tests blocking those threads cannot stall the node.
                let (status, data) = FakeProxmoxAPIServer.respond(api, head, bytes, expectedAuthorization: expected)
                if let delay = slow.delay(for: head.uri) {
                    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    context.eventLoop.scheduleTask(in: delay) {
                        let (handler, context) = loopBound.value
                        handler.write(status, data, context: context)
                    }
                } else {
                    write(status, data, context: context)
                }
            }
        }

        private func write(_ status: Int, _ data: Data, context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json;charset=UTF-8")
            headers.add(name: "Content-Length", value: String(data.count))
            if closeAfterResponse { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: data)))), promise: nil)
            // Keep-alive, as pve-http-server answers an HTTP/1.1 client, except after an upload.
            guard closeAfterResponse else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// The endpoints the fake knows, to turn a request path back into the call it makes.
    static let endpoints = [
        "/version", "/nodes", "/cluster/nextid", "/access/permissions", "/nodes/{node}/storage",
        "/nodes/{node}/storage/{storage}/content", "/nodes/{node}/storage/{storage}/content/{volume}",
        "/nodes/{node}/storage/{storage}/upload", "/nodes/{node}/storage/{storage}/download-url", "/nodes/{node}/qemu",
        "/nodes/{node}/qemu/{vmid}/config",
        "/nodes/{node}/qemu/{vmid}/resize", "/nodes/{node}/qemu/{vmid}/status/start",
        "/nodes/{node}/qemu/{vmid}/status/current",
        "/nodes/{node}/tasks/{upid}/status", "/nodes/{node}/tasks/{upid}/log",
    ]

    static func respond(_ api: FakeProxmoxAPI, _ head: HTTPRequestHead, _ body: Data, expectedAuthorization: String)
        -> (Int, Data)
    {
        let error = errorResponse
        guard head.headers["Authorization"].first == expectedAuthorization else {
            return error(401, "authentication failure")
        }
        if head.headers["Transfer-Encoding"].contains(where: { $0.lowercased().contains("chunked") }) {
            return error(501, "chunked transfer encoding not supported")
        }
        let (path, query) = head.uri.split(separator: "?", maxSplits: 1).map(String.init).splitPair()
        guard path.hasPrefix("/api2/json/") || path == "/api2/json" else { return error(404, "no such file '\(path)'") }
        let rest = String(path.dropFirst("/api2/json".count))
        guard let method = ProxmoxAPICall.Method(rawValue: head.method.rawValue),
            let (endpoint, values) = match(rest)
        else { return error(501, "Method '\(head.method.rawValue) \(rest)' not implemented") }
        var parameters = formParameters(query ?? "")
        var upload: ProxmoxAPICall.Upload?
        var uploaded: Data?
        let contentType = head.headers["Content-Type"].first ?? ""
        if endpoint.hasSuffix("/upload") {
            guard head.headers["Content-Length"].first != nil else {
                return error(501, "upload without content length header not supported")
            }
            guard
                let boundary = contentType.components(separatedBy: "boundary=").dropFirst().first?.trimmingCharacters(
                    in: .whitespaces),
                contentType.hasPrefix("multipart/form-data")
            else {
                return error(501, "upload 'Content-Type '\(contentType)' not implemented")
            }
            do {
                let form = try parseMultipart(body, boundary: boundary)
                parameters += form.fields
                let content =
                    form.fields.first { $0.name == "content" }?.value
                    ?? parameters.first { $0.name == "content" }?.value
                upload = ProxmoxAPICall.Upload(
                    role: content == "iso" ? .seedISO : .image, source: "(uploaded)", storedName: form.filename,
                    sha256: "", size: UInt64(form.data.count))
                uploaded = form.data
            } catch {
                return errorResponse(500, "\(error)")
            }
        } else if !body.isEmpty {
            parameters += formParameters(String(decoding: body, as: UTF8.self))
        }
        // pve-http-server checks every request's parameters against the method's schema before the
        // handler runs: 400 with one message per parameter.
        var checked =
            values.map { (name: $0.key, value: $0.value) } + parameters.map { (name: $0.name, value: $0.value) }
        if let upload { checked.append((name: "filename", value: upload.storedName)) }
        let violations = PublishedAPISchema.violations(method: method.rawValue, endpoint: endpoint, parameters: checked)
        if !violations.isEmpty {
            if let whole = violations[""] {
                return error(501, "Method '\(method.rawValue) \(rest)' not implemented (\(whole))")
            }
            return parameterError(violations)
        }
        let call = ProxmoxAPICall(
            method, endpoint, values, parameters: parameters, upload: upload, startsTask: false, stepID: "http")
        guard let response = try? api.respondBlocking(to: call, uploaded: uploaded) else {
            return error(500, "internal error")
        }
        return (response.status, response.body)
    }

    /// `{"data":null,"errors":{param:msg},"message":"Parameter verification failed.\n"}`, HTTP 400.
    static func parameterError(_ errors: [String: String]) -> (Int, Data) {
        let body: [String: Any] = [
            "data": NSNull(), "errors": errors.mapValues { $0 + "\n" }, "message": "Parameter verification failed.\n",
        ]
        return (400, (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data())
    }

    private static func errorResponse(_ status: Int, _ message: String) -> (Int, Data) {
        (
            status,
            (try? JSONSerialization.data(withJSONObject: ["data": NSNull(), "message": message + "\n"])) ?? Data()
        )
    }

    static func match(_ path: String) -> (String, [String: String])? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for endpoint in endpoints {
            let pattern = endpoint.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pattern.count == segments.count else { continue }
            var values: [String: String] = [:]
            var matched = true
            for (expected, actual) in zip(pattern, segments) {
                if expected.hasPrefix("{") {
                    values[String(expected.dropFirst().dropLast())] = actual.removingPercentEncoding ?? actual
                } else if expected != actual {
                    matched = false
                    break
                }
            }
            if matched { return (endpoint, values) }
        }
        return nil
    }

    /// `a=1&b=x%20y` as pve-http-server's decode_urlencoded reads it (`+` is a space).
    static func formParameters(_ text: String) -> [ProxmoxAPICall.Parameter] {
        text.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            guard let name = parts.first, !name.isEmpty else { return nil }
            return ProxmoxAPICall.Parameter(name, parts.count > 1 ? parts[1] : "")
        }
    }

    struct MultipartError: Error, CustomStringConvertible {
        var description: String
    }

    /// The upload body by the streaming parser's rules: optional fields in the fixed order, then
    /// the file part, whose `Content-Disposition` must come first and be named `filename`.
    static func parseMultipart(_ body: Data, boundary: String) throws -> (
        fields: [ProxmoxAPICall.Parameter], filename: String, data: Data
    ) {
        let delimiter = Data("--\(boundary)\r\n".utf8)
        let close = Data("\r\n--\(boundary)--".utf8)
        guard var position = body.range(of: delimiter)?.lowerBound else {
            throw MultipartError(description: "upload failed")
        }
        var fields: [ProxmoxAPICall.Parameter] = []
        func headerBlock(at start: Int) throws -> (headers: String, dataStart: Int) {
            guard let end = body.range(of: Data("\r\n\r\n".utf8), in: start..<body.count) else {
                throw MultipartError(description: "upload failed")
            }
            return (String(decoding: body[start..<end.lowerBound], as: UTF8.self), end.upperBound)
        }
        for name in ["content", "checksum-algorithm", "checksum"] {
            let (headers, dataStart) = try headerBlock(at: position + delimiter.count)
            guard headers.contains("Content-Disposition: form-data; name=\"\(name)\""), !headers.contains("filename=")
            else { continue }
            guard let next = body.range(of: Data("\r\n".utf8) + delimiter, in: dataStart..<body.count) else {
                throw MultipartError(description: "upload failed")
            }
            fields.append(
                .init(
                    name,
                    String(decoding: body[dataStart..<next.lowerBound], as: UTF8.self).trimmingCharacters(
                        in: .whitespaces)))
            position = next.lowerBound + 2
        }
        let (headers, dataStart) = try headerBlock(at: position + delimiter.count)
        let firstLine = headers.split(separator: "\r\n").first.map(String.init) ?? ""
        guard firstLine.hasPrefix("Content-Disposition: "), let nameRange = firstLine.range(of: "; name=\""),
            let fileRange = firstLine.range(of: "\"; filename=\"")
        else {
            throw MultipartError(description: "upload failed")
        }
        let disposition = firstLine[
            firstLine.index(firstLine.startIndex, offsetBy: "Content-Disposition: ".count)..<nameRange.lowerBound]
        guard disposition == "form-data" else {
            throw MultipartError(
                description: "wrong Content-Disposition '\(disposition)' in multipart, expected 'form-data'")
        }
        let name = firstLine[nameRange.upperBound..<fileRange.lowerBound]
        guard name == "filename" else {
            throw MultipartError(description: "wrong field name '\(name)' for file upload, expected 'filename'")
        }
        let filename = String(firstLine[fileRange.upperBound...].dropLast())
        guard let end = body.range(of: close, in: dataStart..<body.count) else {
            throw MultipartError(description: "upload failed")
        }
        return (fields, filename, Data(body[dataStart..<end.lowerBound]))
    }
}

extension Array where Element == String {
    fileprivate func splitPair() -> (String, String?) { (first ?? "", count > 1 ? self[1] : nil) }
}
