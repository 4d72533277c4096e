import NIOCore
import NIOPosix

/// The error SwiftNIO's connect gives when a host name cannot be resolved, made without a DNS
/// query: the same `ClientBootstrap.connect(host:port:)` that async-http-client and seedgen's own
/// connections use, with a resolver whose A and AAAA lookups both fail as getaddrinfo's do for an
/// unknown name. NIO then reports what it reports for a real failed lookup: an
/// `NIOConnectionError` carrying both lookup errors and no connection attempt.
public func failedLookupError(host: String, port: Int) async -> any Error {
    let group = MultiThreadedEventLoopGroup.singleton
    do {
        let channel = try await ClientBootstrap(group: group)
            .resolver(UnknownNameResolver(loop: group.next()))
            .connect(host: host, port: port)
            .get()
        try? await channel.close()
        return LookupDidNotFail()
    } catch {
        return error
    }
}

public struct LookupDidNotFail: Error {}

/// getaddrinfo's EAI_NONAME, as `gai_strerror` words it.
struct NameNotKnown: Error, CustomStringConvertible {
    let host: String
    var description: String { "cannot resolve \(host): Name or service not known (EAI_NONAME)" }
}

private final class UnknownNameResolver: Resolver, @unchecked Sendable {
    let loop: any EventLoop
    init(loop: any EventLoop) { self.loop = loop }
    func initiateAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        loop.makeFailedFuture(NameNotKnown(host: host))
    }
    func initiateAAAAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        loop.makeFailedFuture(NameNotKnown(host: host))
    }
    func cancelQueries() {}
}
