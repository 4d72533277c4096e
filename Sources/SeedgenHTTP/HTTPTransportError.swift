import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A failed request, said the way seedgen reports errors: what failed, the underlying cause and what
/// to do about it. It converts to a `SeedgenError.runtime` with the same three parts.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The host name did not resolve.
        case dns
        /// Nothing listens at the address (or a firewall answered for it).
        case refused
        /// The connection could not be set up or broke before the response ended.
        case connection
        /// Certificate or handshake failure, including a pinned fingerprint that does not match.
        case tls
        /// The proxy refused, could not be reached, or asked for credentials.
        case proxy
        /// Nothing arrived for the stall timeout.
        case timeout
        /// The server answered with a status the caller did not accept.
        case status
        /// A redirect that is not followed (too many, to another scheme, HTTPS → HTTP).
        case redirect
        /// The request itself is wrong (URL, options, CA file, body length).
        case request
    }

    public var kind: Kind
    public var message: String
    public var hint: String?
    public var cause: String?
    /// For `.status`: the HTTP status code.
    public var status: Int?

    public init(_ kind: Kind, _ message: String, hint: String? = nil, cause: String? = nil, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.cause = cause
        self.status = status
    }

    public var description: String {
        var lines = [message]
        if let cause { lines.append("cause: \(cause)") }
        if let hint { lines.append("hint: \(hint)") }
        return lines.joined(separator: "\n  ")
    }

    /// An HTTP status the caller did not accept, with the first line of the body (servers such as
    /// Proxmox say there what went wrong).
    static func refusedStatus(_ code: Int, url: URL, body: Data) -> HTTPTransportError {
        let firstLine = String(decoding: body.prefix(4096), as: UTF8.self)
            .split(whereSeparator: \.isNewline).first.map { String($0.prefix(300)) }
        let hint: String
        switch code {
        case 401: hint = "the credentials were refused"
        case 403: hint = "the credentials lack a permission this needs"
        case 404, 410: hint = "check the URL"
        case 407: hint = "the proxy wants credentials: put them in the proxy URL (http://user:password@proxy:port)"
        case 408, 429, 500...599: hint = "a server-side failure; try again later"
        default: hint = "the server refused the request"
        }
        return HTTPTransportError(
            .status, "\(redacted(url)) answered HTTP \(code)", hint: hint,
            cause: firstLine.flatMap { $0.isEmpty ? nil : $0 }, status: code)
    }

    /// Classifies an error from NIO, NIOSSL or async-http-client (an `HTTPTransportError` stays as it is).
    public static func classify(_ error: any Error, url: URL, proxy: HTTPProxy?) -> HTTPTransportError {
        if let error = error as? HTTPTransportError { return error }
        let target = redacted(url)
        let proxyHint = proxy.map {
            "check the proxy \($0.host):\($0.port) (from \($0.source)), or list \(url.host ?? "the host") in no_proxy"
        }
        if let connection = error as? NIOConnectionError {
            let throughProxy = proxy.map { connection.host == $0.host && connection.port == $0.port } ?? false
            let place =
                throughProxy
                ? "the proxy \(connection.host):\(connection.port)" : "\(connection.host):\(connection.port)"
            if connection.connectionErrors.isEmpty {
                let cause = [connection.dnsAError, connection.dnsAAAAError].compactMap { $0.map { "\($0)" } }.first
                return HTTPTransportError(
                    throughProxy ? .proxy : .dns, "cannot resolve \(connection.host) (for \(target))",
                    hint: throughProxy ? proxyHint : "check the host name and the DNS configuration (/etc/resolv.conf)",
                    cause: cause)
            }
            let refused = connection.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            let cause = connection.connectionErrors.map { "\($0.target): \($0.error)" }.joined(separator: "; ")
            if throughProxy {
                return HTTPTransportError(
                    .proxy, "cannot connect to \(place) for \(target)", hint: proxyHint, cause: cause)
            }
            return HTTPTransportError(
                refused ? .refused : .connection,
                refused ? "connection to \(place) refused" : "cannot connect to \(place)",
                hint: refused
                    ? "nothing listens there: check the host and port, and that the service runs"
                    : "check the network path to the host",
                cause: cause)
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .readTimeout, .writeTimeout:
                return HTTPTransportError(
                    .timeout, "\(target): nothing arrived within the stall timeout",
                    hint: "the server or the network stalled; try again", cause: "\(client)")
            case .connectTimeout:
                return HTTPTransportError(
                    .connection, "\(target): connecting timed out",
                    hint: proxyHint ?? "check the network path to the host", cause: "\(client)")
            case .invalidProxyResponse, .httpProxyHandshakeTimeout, .socksHandshakeTimeout:
                return HTTPTransportError(
                    .proxy, "the proxy did not open a tunnel to \(target)", hint: proxyHint, cause: "\(client)")
            case .proxyAuthenticationRequired:
                return HTTPTransportError(
                    .proxy, "the proxy wants credentials for \(target)",
                    hint: "put them in the proxy URL: http://user:password@proxy:port", cause: "HTTP 407")
            case .tlsHandshakeTimeout:
                return HTTPTransportError(
                    .tls, "\(target): the TLS handshake timed out", hint: "is this an HTTPS port?", cause: "\(client)")
            case .remoteConnectionClosed:
                return HTTPTransportError(
                    .connection, "\(target): the server closed the connection early", hint: "try again",
                    cause: "\(client)")
            case .bodyLengthMismatch:
                return HTTPTransportError(
                    .request, "\(target): the request body was not the length it declared", cause: "\(client)")
            default:
                return HTTPTransportError(.connection, "request to \(target) failed", cause: "\(client)")
            }
        }
        if let ssl = error as? NIOSSLError {
            return tlsFailure(target: target, cause: "\(ssl)")
        }
        if let extra = error as? NIOSSLExtraError {
            if extra == .failedToValidateHostname {
                return HTTPTransportError(
                    .tls, "\(target): the certificate is not for \(url.host ?? "this host")",
                    hint: "connect by the name the certificate carries, or pin its fingerprint", cause: "\(extra)")
            }
            return tlsFailure(target: target, cause: "\(extra)")
        }
        if let io = error as? IOError {
            if io.errnoCode == ECONNREFUSED {
                return HTTPTransportError(
                    .refused, "connection to \(target) refused", hint: "nothing listens there: check the host and port",
                    cause: "\(io)")
            }
            return HTTPTransportError(
                .connection, "\(target): the connection failed", hint: "try again", cause: "\(io)")
        }
        if error is ChannelError {
            return HTTPTransportError(
                .connection, "\(target): the connection failed", hint: "try again", cause: "\(error)")
        }
        if error is CancellationError {
            return HTTPTransportError(.connection, "\(target): cancelled", cause: "cancelled")
        }
        return HTTPTransportError(.connection, "request to \(target) failed", cause: String(describing: error))
    }

    private static func tlsFailure(target: String, cause: String) -> HTTPTransportError {
        HTTPTransportError(
            .tls, "\(target): TLS failed (the certificate is not trusted, or the handshake broke)",
            hint:
                "if the server uses a private CA, pass it with --ca-file FILE (or SEEDGEN_CA_FILE); for a self-signed "
                + "server, pin its SHA-256 fingerprint",
            cause: cause)
    }

    /// The URL without user name or password, for messages.
    static func redacted(_ url: URL) -> String {
        guard url.user != nil || url.password != nil,
            var parts = URLComponents(url: url, resolvingAgainstBaseURL: false)
        else {
            return url.absoluteString
        }
        parts.user = nil
        parts.password = nil
        return parts.string ?? url.absoluteString
    }
}
