import Foundation
import SeedgenKit

/// Thrown by shared fixtures when a consumer tool is missing or a fixture cannot start.
public struct TestFixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The fault-injecting loopback server (Tests/Fixtures/image/fault_server.py) over a directory.
/// Shared by ImageTests (download faults) and EndToEndTests (catalog images served on 127.0.0.1).
public final class FaultServer: @unchecked Sendable {
    public let root: URL
    public let port: Int
    private let process: Process
    private let exit: ProcessExit
    /// The test's end of the server's standard input: it exits when this closes, so it cannot
    /// outlive the test process. Close-on-exec from its creation (a socket pair), so no other child
    /// inherits it and keeps the server alive.
    private let lifeline: FileHandle

    public init(root: URL) throws {
        guard ProcessRunner.isInstalled("python3") else {
            throw TestFixtureError("python3 is not installed: run scripts/install-deps.sh as root")
        }
        self.root = root
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", TestPaths.fixtures.appendingPathComponent("image/fault_server.py").path, root.path, "--until-stdin-closes",
        ]
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
        var line = Data()
        while true {
            let byte = try output.fileHandleForReading.read(upToCount: 1) ?? Data()
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw TestFixtureError("fault server did not start") }
        self.port = port
    }

    public func url(_ path: String, fault: String? = nil) -> URL {
        let prefix = fault.map { "/_fault/\($0)" } ?? ""
        return URL(string: "http://127.0.0.1:\(port)\(prefix)/\(path)")!
    }

    /// The request log: (path, Range header) per request.
    public func requests() throws -> [(path: String, range: String?)] {
        let data = try Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/_log")!)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let path = object["path"] as? String else { return nil }
            return (path, object["range"] as? String)
        }.filter { $0.path != "/_log" }
    }

    deinit {
        // SIGKILL: the child may inherit a blocked SIGTERM from the test runner.
        kill(process.processIdentifier, SIGKILL)
        exit.wait()
    }
}
