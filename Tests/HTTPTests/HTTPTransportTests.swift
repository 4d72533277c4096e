import Crypto
import Foundation
import SeedgenHTTP
import SeedgenTestSupport
import Testing

/// A directory of files served by the fault server, plain and over HTTPS with a test CA.
final class ServedFiles: @unchecked Sendable {
    let www: TemporaryDirectory
    let certificates: TestCertificates
    let plain: FaultServer
    let secure: FaultServer
    let payload: Data

    init() throws {
        www = try TemporaryDirectory(prefix: "seedgen-http")
        certificates = try TestCertificates()
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw TestFixtureError("cannot read /dev/urandom")
        }
        payload = try random.read(upToCount: (3 << 20) + 12345) ?? Data()
        try random.close()
        try payload.write(to: www.path("file.bin"))
        try www.write("hello.txt", "hello over the transport\n")
        plain = try FaultServer(root: www.url)
        secure = try FaultServer(
            root: www.url, tls: (certificates.leafCertificate, certificates.leafKey), plainPort: plain.port)
    }

    func transport(_ options: HTTPTransportOptions = HTTPTransportOptions()) throws -> HTTPTransport {
        try HTTPTransport(options: options)
    }

    var trusting: HTTPTransportOptions { HTTPTransportOptions(caFile: certificates.caCertificate.path) }
}

func expectTransportError(
    _ kind: HTTPTransportError.Kind, containing texts: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a \(kind) error, got success", sourceLocation: sourceLocation)
    } catch let error as HTTPTransportError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for text in texts {
            #expect(
                error.description.contains(text), "\(error.description) lacks \(text)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected an HTTPTransportError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct HTTPTransportTests {
    @Test func plainHTTPBodyArrivesWhole() async throws {
        let served = try ServedFiles()
        let (head, data) = try await served.transport().data(
            HTTPRequest(url: served.plain.url("file.bin")), limit: 8 << 20)
        #expect(head.status == 200)
        #expect(data == served.payload)
        #expect(try served.plain.log().last?["user_agent"] as? String == "seedgen")
    }

    @Test func statusErrorCarriesTheFirstLineOfTheBody() async throws {
        let served = try ServedFiles()
        let transport = try served.transport()
        await expectTransportError(.status, containing: ["HTTP 503", "cause: injected"]) {
            _ = try await transport.data(HTTPRequest(url: served.plain.url("hello.txt", fault: "status503x1")))
        }
    }

    @Test func refusedConnectionIsNamed() async throws {
        // A port that was just free: bind, read the number, close.
        let port = try freeLoopbackPort()
        let transport = try HTTPTransport(options: HTTPTransportOptions())
        await expectTransportError(.refused, containing: ["refused", "127.0.0.1:\(port)"]) {
            _ = try await transport.data(HTTPRequest(url: URL(string: "http://127.0.0.1:\(port)/x")!))
        }
    }

    @Test func failedHostLookupIsNamedWithAHint() async throws {
        // The error NIO's connect gives for a name that does not resolve, made without a DNS query.
        let lookup = await failedLookupError(host: "mirror.example.org", port: 443)
        let error = HTTPTransportError.classify(
            lookup, url: URL(string: "https://mirror.example.org/disk.qcow2")!, proxy: nil)
        #expect(error.kind == .dns, "\(error)")
        #expect(error.message.contains("cannot resolve mirror.example.org"))
        #expect(error.hint?.contains("DNS configuration") == true)
        #expect(error.cause?.contains("Name or service not known") == true)
    }

    // MARK: TLS

    @Test func privateCAIsRefusedWithoutTheCAFile() async throws {
        let served = try ServedFiles()
        await expectTransportError(.tls, containing: ["--ca-file"]) {
            _ = try await served.transport().data(HTTPRequest(url: served.secure.url("hello.txt")))
        }
    }

    @Test func caFileIsTrustedBesideTheSystemStore() async throws {
        let served = try ServedFiles()
        let (_, data) = try await served.transport(served.trusting).data(
            HTTPRequest(url: served.secure.url("file.bin")), limit: 8 << 20)
        #expect(data == served.payload)
    }

    @Test func unreadableCAFileIsRefusedUpFront() throws {
        let served = try ServedFiles()
        let bogus = try served.www.write("not-a-ca.pem", "hello\n")
        #expect(throws: HTTPTransportError.self) {
            try HTTPTransport(options: HTTPTransportOptions(caFile: bogus.path))
        }
        #expect(throws: HTTPTransportError.self) {
            try HTTPTransport(options: HTTPTransportOptions(caFile: served.www.path("missing.pem").path))
        }
    }

    @Test func fingerprintIsComputedAsOpensslShowsIt() throws {
        let served = try ServedFiles()
        let pem = try String(contentsOf: served.certificates.leafCertificate, encoding: .utf8)
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try #require(Data(base64Encoded: base64))
        #expect(CertificateFingerprint(der: Array(der)).description == served.certificates.leafFingerprint)
        #expect(
            try CertificateFingerprint(
                parsing: served.certificates.leafFingerprint.lowercased().replacingOccurrences(of: ":", with: "")
            ).description
                == served.certificates.leafFingerprint)
        #expect(throws: HTTPTransportError.self) { try CertificateFingerprint(parsing: "AB:CD") }
        #expect(throws: HTTPTransportError.self) {
            try CertificateFingerprint(parsing: String(repeating: "ZZ:", count: 31) + "ZZ")
        }
    }

    @Test func pinnedFingerprintAcceptsTheLeafWithoutItsCA() async throws {
        let served = try ServedFiles()
        // No CA file: the leaf is signed by a CA nobody trusts, as on a fresh Proxmox node.
        let transport = try served.transport(
            HTTPTransportOptions(pinnedFingerprint: served.certificates.leafFingerprint))
        let (_, data) = try await transport.data(HTTPRequest(url: served.secure.url("file.bin")), limit: 8 << 20)
        #expect(data == served.payload)
    }

    @Test func pinnedFingerprintMismatchIsRefusedShowingBoth() async throws {
        let served = try ServedFiles()
        // Even with the CA trusted, a pin that names another certificate refuses the connection.
        let transport = try served.transport(
            HTTPTransportOptions(
                caFile: served.certificates.caCertificate.path, pinnedFingerprint: served.certificates.otherFingerprint)
        )
        await expectTransportError(
            .tls, containing: [served.certificates.otherFingerprint, served.certificates.leafFingerprint]
        ) {
            _ = try await transport.data(HTTPRequest(url: served.secure.url("hello.txt")))
        }
        #expect(try served.secure.log().isEmpty, "no request may be sent over a connection that failed the pin")
    }

    @Test(.timeLimit(.minutes(2))) func stallOnAPinnedConnectionTimesOut() async throws {
        let served = try ServedFiles()
        // The server sends half the body, then nothing for 300 s; the transport gives up after 1 s.
        let transport = try served.transport(
            HTTPTransportOptions(pinnedFingerprint: served.certificates.leafFingerprint, stallTimeout: 1))
        let clock = ContinuousClock()
        let start = clock.now
        await expectTransportError(.timeout, containing: ["stall timeout"]) {
            _ = try await transport.data(
                HTTPRequest(url: served.secure.url("file.bin", fault: "stall1")), limit: 8 << 20)
        }
        #expect(clock.now - start < .seconds(100), "the stall must end by the timeout, not by the server")
        #expect(try served.secure.log().count == 1)
    }

    @Test func httpsToPlainHTTPRedirectIsRefused() async throws {
        let served = try ServedFiles()
        await expectTransportError(.redirect, containing: ["plain HTTP"]) {
            _ = try await served.transport(served.trusting).data(
                HTTPRequest(url: served.secure.url("hello.txt", fault: "toplainHTTP")))
        }
        #expect(try served.plain.log().isEmpty)
    }

    @Test func redirectsAreFollowedAndBounded() async throws {
        let served = try ServedFiles()
        let transport = try served.transport()
        let (head, data) = try await transport.data(HTTPRequest(url: served.plain.url("hello.txt", fault: "redirect")))
        #expect(String(decoding: data, as: UTF8.self) == "hello over the transport\n")
        #expect(head.url.path == "/hello.txt")
        await expectTransportError(.redirect, containing: ["more than 10 redirects"]) {
            _ = try await transport.data(HTTPRequest(url: served.plain.url("hello.txt", fault: "redirectloop")))
        }
        #expect(try served.plain.log().count == 2 + 11)
    }

    // MARK: Proxies

    @Test func httpsGoesThroughTheProxyWithCONNECT() async throws {
        let served = try ServedFiles()
        let proxy = try ProxyServer()
        var options = served.trusting
        options.proxies = try HTTPProxySettings.fromEnvironment(["https_proxy": "http://127.0.0.1:\(proxy.port)"])
        let (_, data) = try await served.transport(options).data(
            HTTPRequest(url: served.secure.url("file.bin")), limit: 8 << 20)
        #expect(data == served.payload)
        #expect(try proxy.requests().map(\.method) == ["CONNECT"])
        #expect(try proxy.requests().first?.target == "127.0.0.1:\(served.secure.port)")
    }

    @Test func plainHTTPGoesThroughTheProxyInAbsoluteForm() async throws {
        let served = try ServedFiles()
        let proxy = try ProxyServer(credentials: "user:p@ss")
        var options = HTTPTransportOptions()
        options.proxies = try HTTPProxySettings.fromEnvironment(["http_proxy": "user:p%40ss@127.0.0.1:\(proxy.port)"])
        let (_, data) = try await served.transport(options).data(HTTPRequest(url: served.plain.url("hello.txt")))
        #expect(String(decoding: data, as: UTF8.self) == "hello over the transport\n")
        let seen = try proxy.requests()
        #expect(seen.map(\.target) == [served.plain.url("hello.txt").absoluteString])
        #expect(seen.first?.authorization == "Basic " + Data("user:p@ss".utf8).base64EncodedString())
    }

    @Test func proxyCredentialsRefusedAreAProxyError() async throws {
        let served = try ServedFiles()
        let proxy = try ProxyServer(credentials: "user:secret")
        var options = served.trusting
        options.proxies = try HTTPProxySettings.fromEnvironment(["HTTPS_PROXY": "127.0.0.1:\(proxy.port)"])
        await expectTransportError(.proxy, containing: ["credentials"]) {
            _ = try await served.transport(options).data(HTTPRequest(url: served.secure.url("hello.txt")))
        }
    }

    @Test func unreachableProxyIsAProxyError() async throws {
        let served = try ServedFiles()
        let port = try freeLoopbackPort()
        var options = HTTPTransportOptions()
        options.proxies = try HTTPProxySettings.fromEnvironment(["http_proxy": "http://127.0.0.1:\(port)"])
        await expectTransportError(.proxy, containing: ["proxy 127.0.0.1:\(port)", "http_proxy"]) {
            _ = try await served.transport(options).data(HTTPRequest(url: served.plain.url("hello.txt")))
        }
    }

    @Test func noProxyBypassesTheProxy() async throws {
        let served = try ServedFiles()
        let proxy = try ProxyServer()
        var options = served.trusting
        options.proxies = try HTTPProxySettings.fromEnvironment([
            "https_proxy": "http://127.0.0.1:\(proxy.port)", "http_proxy": "http://127.0.0.1:\(proxy.port)",
            "NO_PROXY": "example.org, 127.0.0.0/8",
        ])
        let transport = try served.transport(options)
        _ = try await transport.data(HTTPRequest(url: served.secure.url("hello.txt")))
        _ = try await transport.data(HTTPRequest(url: served.plain.url("hello.txt")))
        #expect(try proxy.requests().isEmpty)
        #expect(try served.secure.log().count == 1)
        #expect(try served.plain.log().count == 1)
    }

    @Test func proxyVariablesAreReadAsCurlReadsThem() throws {
        let https = URL(string: "https://mirror.example.org/a")!
        let http = URL(string: "http://mirror.example.org/a")!
        // HTTP_PROXY (upper case) is ignored, as curl ignores it; http_proxy is read.
        #expect(try HTTPProxySettings.fromEnvironment(["HTTP_PROXY": "http://p:1"]).proxy(for: http) == nil)
        #expect(try HTTPProxySettings.fromEnvironment(["http_proxy": "http://p:1"]).proxy(for: http)?.port == 1)
        #expect(try HTTPProxySettings.fromEnvironment(["http_proxy": "http://p:1"]).proxy(for: https) == nil)
        // Lower case wins over upper case; ALL_PROXY serves both schemes; the default port is 1080.
        let both = try HTTPProxySettings.fromEnvironment(["https_proxy": "lower:2", "HTTPS_PROXY": "upper:3"])
        #expect(both.proxy(for: https)?.host == "lower")
        let all = try HTTPProxySettings.fromEnvironment(["ALL_PROXY": "allproxy"])
        #expect(all.proxy(for: https)?.port == 1080 && all.proxy(for: http)?.host == "allproxy")
        #expect(throws: HTTPTransportError.self) {
            try HTTPProxySettings.fromEnvironment(["https_proxy": "socks5://p:1"])
        }

        func bypassed(_ host: String, _ noProxy: String) throws -> Bool {
            try HTTPProxySettings.fromEnvironment(["https_proxy": "p:1", "no_proxy": noProxy])
                .proxy(for: URL(string: "https://\(host)/")!) == nil
        }
        #expect(try bypassed("example.org", "example.org"))
        #expect(try bypassed("mirror.example.org", ".example.org"))
        #expect(try bypassed("mirror.example.org", "example.org"))
        #expect(try !bypassed("badexample.org", "example.org"))
        #expect(try bypassed("anything", "*"))
        #expect(try bypassed("10.1.2.3", "10.0.0.0/8"))
        #expect(try !bypassed("11.1.2.3", "10.0.0.0/8"))
        #expect(try bypassed("[::1]", "::1"))
        #expect(try bypassed("[fd00::5]", "fd00::/8"))
        #expect(try !bypassed("example.com", "example.org,other.net"))
        #expect(try bypassed("other.net", "example.org other.net"))
    }

    // MARK: Bodies

    @Test func streamedUploadIsSentWithContentLengthAndArrivesWhole() async throws {
        let served = try ServedFiles()
        let preamble = Data(
            "--boundary\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"file.bin\"\r\n\r\n".utf8)
        let epilogue = Data("\r\n--boundary--\r\n".utf8)
        let expected = preamble + served.payload + epilogue
        for (transport, url) in [
            (try served.transport(), served.plain.url("_upload")),
            (
                try served.transport(HTTPTransportOptions(pinnedFingerprint: served.certificates.leafFingerprint)),
                served.secure.url("_upload")
            ),
        ] {
            // A streamed body is read once: one per request.
            let body = try HTTPRequestBody.segments(
                [.bytes(preamble), .file(served.www.path("file.bin")), .bytes(epilogue)],
                contentType: "multipart/form-data; boundary=boundary")
            let (_, data) = try await transport.data(HTTPRequest(method: "POST", url: url, body: body))
            let answer = try JSONDecoder().decode(UploadAnswer.self, from: data)
            #expect(answer.length == expected.count)
            #expect(answer.sha256 == SHA256.hash(data: expected).map { String(format: "%02x", $0) }.joined())
            #expect(answer.content_length == String(expected.count))
            #expect(answer.transfer_encoding == nil)
            #expect(answer.content_type == "multipart/form-data; boundary=boundary")
        }
    }

    /// Proxmox's HTTP server answers an upload and closes the connection as soon as it has the body;
    /// the client's last, empty write can then find the connection closed. The answer still counts.
    /// Here the body's source returns its end only after the server has answered and closed.
    @Test func anAnswerBeforeTheBodysEndIsRead() async throws {
        let served = try ServedFiles()
        let piece = Data(repeating: 7, count: 4096)
        for options in [HTTPTransportOptions(pinnedFingerprint: served.certificates.leafFingerprint), served.trusting] {
            let pieces = PieceSource([piece])
            let body = HTTPRequestBody.stream(length: Int64(piece.count)) {
                let next = await pieces.next()
                if next == nil { try await Task.sleep(for: .milliseconds(500)) }
                return next
            }
            let (_, data) = try await served.transport(options).data(
                HTTPRequest(method: "POST", url: served.secure.url("_upload"), body: body))
            let answer = try JSONDecoder().decode(UploadAnswer.self, from: data)
            #expect(answer.length == piece.count, "pinned: \(options.pinnedFingerprint != nil)")
        }
    }

    @Test func streamShorterThanItsLengthFails() async throws {
        let served = try ServedFiles()
        let pieces = PieceSource([Data(repeating: 1, count: 1000)])
        let body = HTTPRequestBody.stream(length: 5000) { await pieces.next() }
        await expectTransportError(.request, containing: ["length"]) {
            _ = try await served.transport().data(
                HTTPRequest(method: "POST", url: served.plain.url("_upload"), body: body))
        }
    }

    @Test func jsonRoundTripsOverPlainAndPinnedConnections() async throws {
        let served = try ServedFiles()
        let sent = Upload(name: "vm-101-disk-0", sizes: [1, 2, 3])
        let plainAnswer = try await served.transport().json(
            "POST", served.plain.url("_echo"), body: sent, as: Upload.self)
        #expect(plainAnswer == sent)
        let pinned = try served.transport(HTTPTransportOptions(pinnedFingerprint: served.certificates.leafFingerprint))
        #expect(try await pinned.json("POST", served.secure.url("_echo"), body: sent, as: Upload.self) == sent)
        await expectTransportError(.status, containing: ["HTTP 404"]) {
            _ = try await pinned.json("GET", served.secure.url("missing.json"), as: Upload.self)
        }
    }
}

struct Upload: Codable, Hashable, Sendable {
    var name: String
    var sizes: [Int]
}

struct UploadAnswer: Decodable, Sendable {
    var length: Int
    var sha256: String
    var content_length: String?
    var transfer_encoding: String?
    var content_type: String?
}

actor PieceSource {
    private var pieces: [Data]
    init(_ pieces: [Data]) { self.pieces = pieces }
    func next() -> Data? { pieces.isEmpty ? nil : pieces.removeFirst() }
}

/// A loopback port nothing listens on (bound, read and closed at once).
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw TestFixtureError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
