import Foundation

/// A proxy a request goes through: an HTTP proxy, used with CONNECT for https:// URLs and with
/// absolute-form requests for http:// ones, as curl does.
public struct HTTPProxy: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    /// Where it came from, for messages: `https_proxy` and so on.
    public var source: String

    public init(host: String, port: Int, username: String? = nil, password: String? = nil, source: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.source = source
    }

    /// Parses `[http://][user:password@]host[:port]` as curl does (port 1080 when none is given).
    public static func parse(_ text: String, source: String) throws -> HTTPProxy {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let withScheme = trimmed.contains("://") ? trimmed : "http://" + trimmed
        guard let parts = URLComponents(string: withScheme), let host = parts.host, !host.isEmpty else {
            throw HTTPTransportError(
                .proxy, "\(source) is not a proxy URL", hint: "use http://host:port", cause: "could not parse it")
        }
        let scheme = parts.scheme?.lowercased() ?? "http"
        guard scheme == "http" else {
            throw HTTPTransportError(
                .proxy, "\(source) names a \(scheme):// proxy, which seedgen does not support",
                hint: "use an HTTP proxy (http://host:port)")
        }
        return HTTPProxy(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: parts.port ?? 1080,
            username: parts.percentEncodedUser.flatMap { $0.removingPercentEncoding },
            password: parts.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
            source: source)
    }
}

/// Which proxy each URL goes through, read from the environment the way curl reads it:
/// `http_proxy` (lower case only: a CGI server sets `HTTP_PROXY` from a request's `Proxy:` header),
/// `https_proxy` / `HTTPS_PROXY`, `all_proxy` / `ALL_PROXY` for either, and `no_proxy` / `NO_PROXY`,
/// the lower-case form winning when both are set.
public struct HTTPProxySettings: Sendable, Hashable {
    public var http: HTTPProxy?
    public var https: HTTPProxy?
    /// Host names (matching themselves and their subdomains), IP addresses, CIDR ranges, or `*`.
    public var noProxy: [String]

    public init(http: HTTPProxy? = nil, https: HTTPProxy? = nil, noProxy: [String] = []) {
        self.http = http
        self.https = https
        self.noProxy = noProxy
    }

    public static let direct = HTTPProxySettings()

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> HTTPProxySettings
    {
        func first(_ names: [String]) -> (name: String, value: String)? {
            for name in names {
                if let value = environment[name], !value.trimmingCharacters(in: .whitespaces).isEmpty {
                    return (name, value)
                }
            }
            return nil
        }
        let all = first(["all_proxy", "ALL_PROXY"])
        let http = first(["http_proxy"]) ?? all
        let https = first(["https_proxy", "HTTPS_PROXY"]) ?? all
        let noProxy = first(["no_proxy", "NO_PROXY"])?.value ?? ""
        return HTTPProxySettings(
            http: try http.map { try HTTPProxy.parse($0.value, source: $0.name) },
            https: try https.map { try HTTPProxy.parse($0.value, source: $0.name) },
            noProxy: noProxy.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init))
    }

    /// The proxy for `url`, or nil to connect directly.
    public func proxy(for url: URL) -> HTTPProxy? {
        let scheme = url.scheme?.lowercased()
        guard let proxy = scheme == "https" ? https : (scheme == "http" ? http : nil), let host = url.host else {
            return nil
        }
        return Self.bypasses(host: host, noProxy) ? nil : proxy
    }

    /// curl's no_proxy rules: `*` matches every host; a name matches itself and names ending in
    /// `.name` (a leading dot is ignored); an IP address or CIDR range matches addresses in it.
    static func bypasses(host rawHost: String, _ entries: [String]) -> Bool {
        var host = rawHost.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") { host.removeLast() }
        let address = IPAddressBytes(host)
        for rawEntry in entries {
            var entry = rawEntry.lowercased()
            if entry == "*" { return true }
            if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
                entry = String(entry[entry.index(after: entry.startIndex)..<close])
            }
            if let address, let range = IPRange(entry) {
                if range.contains(address) { return true }
                continue
            }
            while entry.hasPrefix(".") { entry.removeFirst() }
            if entry.hasSuffix(".") { entry.removeLast() }
            if entry.isEmpty { continue }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }
}

/// An IPv4 or IPv6 address as bytes.
struct IPAddressBytes: Equatable {
    var bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }
}

/// `address` or `address/prefix`.
struct IPRange {
    var network: IPAddressBytes
    var prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let network = IPAddressBytes(parts[0]) else { return nil }
        let bits = network.bytes.count * 8
        if parts.count == 2 {
            guard let prefix = Int(parts[1]), (0...bits).contains(prefix) else { return nil }
            self.prefix = prefix
        } else {
            prefix = bits
        }
        self.network = network
    }

    func contains(_ address: IPAddressBytes) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        var remaining = prefix
        for index in network.bytes.indices where remaining > 0 {
            let take = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if address.bytes[index] & mask != network.bytes[index] & mask { return false }
            remaining -= take
        }
        return true
    }
}
