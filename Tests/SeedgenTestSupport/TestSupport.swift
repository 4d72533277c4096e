import Foundation
import SeedgenCore

/// Paths the tests need, found from this source file so tests run from any working directory.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    public static var samples: URL { packageRoot.appendingPathComponent("samples") }
    public static var templates: URL { packageRoot.appendingPathComponent("templates") }
    public static var fixtures: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

    /// The folder holding qm-options.json: the project's shared reference (`../shared/reference`
    /// beside the checkout) when it is there, so tests follow its updates; otherwise the copy in
    /// Tests/Fixtures/reference, so a clone on its own (a new user's machine) still runs every test.
    public static var sharedReference: URL {
        let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")
        if FileManager.default.fileExists(atPath: shared.appendingPathComponent("qm-options.json").path) {
            return shared
        }
        return packageRoot.appendingPathComponent("Tests/Fixtures/reference")
    }

    /// The `seedgen` binary that `swift build` put next to the test bundle.
    public static var seedgenBinary: URL {
        let fromEnvironment = ProcessInfo.processInfo.environment["SEEDGEN_BINARY"]
        if let fromEnvironment, !fromEnvironment.isEmpty { return URL(fileURLWithPath: fromEnvironment) }
        // Tests run from .build/<config>/…xctest; the executable lives in .build/<config>/seedgen.
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent("seedgen")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/seedgen")
    }
}

extension TestPaths {
    /// Why the binary under test cannot be run, or nil. The test targets that run it depend on
    /// the `seedgen` target, so SwiftPM links it before building them (`swift test`, or
    /// `swift build --build-tests`); only `--skip-build` can find it missing or old.
    public static func seedgenBinaryProblem() -> String? {
        guard !FileManager.default.isExecutableFile(atPath: seedgenBinary.path) else { return nil }
        return
            "\(seedgenBinary.path) does not exist: run `swift test` without --skip-build (it builds seedgen first), or "
            + "`swift build`"
    }
}

/// A directory under the system temp folder, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init(prefix: String = "seedgen-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> URL {
        let file = path(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The result of running an external program.
public struct ProcessResult: Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var stdoutData: Data
}

public enum ProcessRunner {
    /// Runs `executable` (a path, or a name looked up on PATH) and waits for it.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: URL? = nil, stdin: Data? = nil
    ) throws -> ProcessResult {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        // Files, not pipes: a pipe's end of file comes only when every process holding its write
        // end has closed it, and Foundation lets children started at the same moment on other
        // threads inherit it. A fault server that inherited a test's stdout pipe kept that test
        // waiting for as long as the server lived, with both of Swift's worker threads blocked
        // that way on 2 cores, which hung the suite. A file has no end of file to wait for.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("seedgen-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let inFile = scratch.appendingPathComponent("stdin")
        let outFile = scratch.appendingPathComponent("stdout")
        let errFile = scratch.appendingPathComponent("stderr")
        try (stdin ?? Data()).write(to: inFile)
        try Data().write(to: outFile)
        try Data().write(to: errFile)
        let input = try FileHandle(forReadingFrom: inFile)
        let output = try FileHandle(forWritingTo: outFile)
        let errors = try FileHandle(forWritingTo: errFile)
        defer {
            try? input.close()
            try? output.close()
            try? errors.close()
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        let exit = ProcessExit(process)
        try process.run()
        exit.wait()
        let outData = try Data(contentsOf: outFile)
        let errData = try Data(contentsOf: errFile)
        return ProcessResult(
            exitCode: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self), stdoutData: outData)
    }

    /// Runs the built `seedgen` binary.
    @discardableResult
    public static func seedgen(
        _ arguments: [String], environment: [String: String]? = nil, currentDirectory: URL? = nil
    ) throws -> ProcessResult {
        try run(TestPaths.seedgenBinary.path, arguments, environment: environment, currentDirectory: currentDirectory)
    }

    /// True when `name` is on PATH.
    public static func isInstalled(_ name: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(name)"]).exitCode) == 0
    }
}
