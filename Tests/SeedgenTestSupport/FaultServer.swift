import Foundation
import SeedgenCore

/// Thrown by shared fixtures when a consumer tool is missing or a fixture cannot start.
public struct TestFixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The fault-injecting loopback server (Tests/Fixtures/image/fault_server.py) over a directory.
/// Shared by ImageTests (download faults), HTTPTests (over TLS too) and EndToEndTests (catalog
/// images served on 127.0.0.1).
public final class FaultServer: @unchecked Sendable {
    public let root: URL
    public let port: Int
    public let scheme: String
    private let script: LoopbackScript

    /// `tls`: PEM certificate chain and key to serve HTTPS with; `plainPort`: where the
    /// `toplainHTTP` fault redirects to.
    public init(root: URL, tls: (certificate: URL, key: URL)? = nil, plainPort: Int? = nil) throws {
        self.root = root
        var arguments = [root.path]
        if let tls { arguments += ["--tls", tls.certificate.path, tls.key.path] }
        if let plainPort { arguments += ["--plain-port", String(plainPort)] }
        script = try LoopbackScript(
            TestPaths.fixtures.appendingPathComponent("image/fault_server.py"), arguments: arguments,
            secondPort: tls != nil)
        port = script.port
        scheme = tls == nil ? "http" : "https"
    }

    public func url(_ path: String, fault: String? = nil) -> URL {
        let prefix = fault.map { "/_fault/\($0)" } ?? ""
        return URL(string: "\(scheme)://127.0.0.1:\(port)\(prefix)/\(path)")!
    }

    /// The request log: (path, Range header) per request.
    public func requests() throws -> [(path: String, range: String?)] {
        try log().map { ($0["path"] as? String ?? "", $0["range"] as? String) }
    }

    /// The request log with every field the server records (path, range, if_range, method, …).
    public func log() throws -> [[String: Any]] {
        try script.log().filter { $0["path"] as? String != "/_log" }
    }
}

/// The loopback HTTP proxy (Tests/Fixtures/http/proxy_server.py): CONNECT tunnels and
/// absolute-form forwarding to loopback targets, with a log of what it was asked.
public final class ProxyServer: @unchecked Sendable {
    public let port: Int
    private let script: LoopbackScript

    /// `credentials`: `user:password` the proxy demands (407 without them).
    public init(credentials: String? = nil) throws {
        script = try LoopbackScript(
            TestPaths.fixtures.appendingPathComponent("http/proxy_server.py"),
            arguments: credentials.map { ["--auth", $0] } ?? [])
        port = script.port
    }

    /// (method, target) per proxied request: `CONNECT 127.0.0.1:PORT` or `GET http://…`.
    public func requests() throws -> [(method: String, target: String, authorization: String?)] {
        try script.log().map {
            ($0["method"] as? String ?? "", $0["target"] as? String ?? "", $0["authorization"] as? String)
        }
    }
}

/// A python server script on 127.0.0.1 that prints its port first and serves its log at /_log.
final class LoopbackScript: @unchecked Sendable {
    let port: Int
    /// Where /_log is read: the plain twin of an HTTPS server, else `port`.
    let logPort: Int
    private let process: Process
    private let exit: ProcessExit
    /// The test's end of the server's standard input: it exits when this closes, so it cannot
    /// outlive the test process. Close-on-exec from its creation (a socket pair), so no other child
    /// inherits it and keeps the server alive.
    private let lifeline: FileHandle

    init(_ script: URL, arguments: [String], secondPort: Bool = false) throws {
        guard ProcessRunner.isInstalled("python3") else {
            throw TestFixtureError("python3 is not installed: run scripts/install-deps.sh as root")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments + ["--until-stdin-closes"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw TestFixtureError("cannot create a socket pair: \(String(cString: strerror(errno)))")
        }
        let serverEnd = FileHandle(fileDescriptor: ends[0], closeOnDealloc: true)
        lifeline = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        process.standardInput = serverEnd
        exit = ProcessExit(process)
        try process.run()
        try? serverEnd.close()
        func readPort() throws -> Int {
            var line = Data()
            while true {
                let byte = try output.fileHandleForReading.read(upToCount: 1) ?? Data()
                if byte.isEmpty || byte == Data([0x0A]) { break }
                line.append(byte)
            }
            guard let port = Int(String(decoding: line, as: UTF8.self)) else {
                throw TestFixtureError("\(script.lastPathComponent) did not start")
            }
            return port
        }
        port = try readPort()
        logPort = secondPort ? try readPort() : port
    }

    /// GET /_log as JSON objects, over plain HTTP/1.0 on a socket of its own.
    func log() throws -> [[String: Any]] {
        let text = try LoopbackHTTP.get(port: logPort, path: "/_log")
        return text.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    deinit {
        // SIGKILL: the child may inherit a blocked SIGTERM from the test runner.
        kill(process.processIdentifier, SIGKILL)
        exit.wait()
    }
}

/// A blocking GET to 127.0.0.1 for the test servers' logs: independent of the transport under test.
enum LoopbackHTTP {
    static func get(port: Int, path: String) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFixtureError("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw TestFixtureError("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard send(descriptor, request, request.count, 0) == request.count else {
            throw TestFixtureError("send failed")
        }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw TestFixtureError("no HTTP response from 127.0.0.1:\(port)\(path)")
        }
        return String(text[split.upperBound...])
    }
}
