import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SeedgenHTTP

/// An HTTPS server on 127.0.0.1 that reads every request body to its end, counts it, and answers
/// as Proxmox's upload does (`{"data":"UPID:…"}`): the far end of the upload benchmark, the same
/// for seedgen and `curl -F`, and cheap enough (no parsing, no storing) not to be the bottleneck.
public final class UploadSinkServer: @unchecked Sendable {
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: UInt64 = 0
        func add(_ count: Int) { lock.withLock { bytes += UInt64(count) } }
        var value: UInt64 { lock.withLock { bytes } }
    }

    /// Body bytes received so far, over every request.
    public var receivedBytes: UInt64 { counter.value }

    public init(certificate: URL, key: URL) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let counter = self.counter
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Sink(counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    deinit {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    private final class Sink: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let counter: Counter
        init(counter: Counter) { self.counter = counter }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head: break
            case .body(let part): counter.add(part.readableBytes)
            case .end:
                let body = ByteBuffer(
                    string: #"{"data":"UPID:bench:00001000:00000001:6747A0F1:imgcopy::bench@pve!bench:"}"#)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json;charset=UTF-8")
                headers.add(name: "Content-Length", value: String(body.readableBytes))
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                    promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
