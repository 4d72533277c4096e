import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

/// What the README promises about every command: exit codes, one JSON object on stdout under
/// `--json` (failures included), and diagnostics in the order of the files and their lines.
@Suite struct CommandContractTests {
    /// Each kind of error the argument parser finds on its own.
    static let usageErrors: [[String]] = [
        ["build", "--no-such-flag", "vm.yaml"],
        ["build"],
        ["build", "--progress", "sideways", "vm.yaml"],
        ["build", "--jobs", "many", "vm.yaml"],
        ["validate", "--json", "--bogus", "vm.yaml"],
        ["image", "fetch"],
        ["image", "gc", "--progress"],
        ["render", "vm.yaml", "--file", "user_data"],
        ["no-such-command"],
    ]

    @Test(arguments: usageErrors)
    func usageErrorsExitTwo(arguments: [String]) throws {
        let result = try seedgen(arguments)
        #expect(result.exitCode == 2, "\(arguments): exit \(result.exitCode)\n\(result.stderr)")
        #expect(result.stderr.contains("Error:") || result.stderr.contains("error:"), "\(result.stderr)")
        #expect(
            result.stderr.contains("Usage:") || result.stderr.contains("Help:"), "the usage is shown: \(result.stderr)")
        if arguments.contains("--json") {
            let error = try errorObject(result)
            #expect(error["code"] as? Int == 2)
            #expect(error["kind"] as? String == "usage")
            #expect((error["message"] as? String)?.contains("bogus") == true, "\(error)")
        } else {
            #expect(result.stdout.isEmpty, "\(result.stdout)")
        }
    }

    /// Every test target whose tests run the binary depends on the `seedgen` target in
    /// Package.swift, so SwiftPM links the binary before it builds them and they never run a
    /// stale one (without it, `swift build --product seedgenPackageTests` leaves the old binary).
    @Test func testTargetsThatRunTheBinaryDependOnIt() throws {
        let manifest = try String(
            contentsOf: TestPaths.packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let pattern = try NSRegularExpression(
            pattern: #"\.testTarget\(\s*name:\s*"([^"]+)"\s*,\s*dependencies:\s*\[(.*?)\]\s*\)"#,
            options: [.dotMatchesLineSeparators])
        var dependencies: [String: String] = [:]
        for match in pattern.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)) {
            let text = manifest as NSString
            dependencies[text.substring(with: match.range(at: 1))] = text.substring(with: match.range(at: 2))
        }
        let testsRoot = TestPaths.packageRoot.appendingPathComponent("Tests")
        var runners: [String] = []
        for target in try FileManager.default.contentsOfDirectory(atPath: testsRoot.path).sorted()
        where dependencies[target] != nil {
            let walker = FileManager.default.enumerator(atPath: testsRoot.appendingPathComponent(target).path)
            while let file = walker?.nextObject() as? String {
                guard file.hasSuffix(".swift") else { continue }
                let source = try String(
                    contentsOf: testsRoot.appendingPathComponent("\(target)/\(file)"), encoding: .utf8)
                if source.contains("TestPaths.seedgenBinary") || source.contains("ProcessRunner.seedgen(") {
                    runners.append(target)
                    break
                }
            }
        }
        #expect(
            Set(runners).isSuperset(of: ["EndToEndTests", "ImageTests", "ISOTests"]),
            "found \(runners) in \(dependencies.keys.sorted())")
        for target in runners {
            #expect(
                dependencies[target]?.contains(#""seedgen""#) == true,
                "\(target) runs the binary but does not depend on it: [\(dependencies[target] ?? "")]")
        }
    }

    @Test func helpAndVersionStillExitZero() throws {
        for arguments in [["--help"], ["build", "--help"], ["--version"], ["image", "gc", "--help"]] {
            let result = try seedgen(arguments)
            #expect(result.exitCode == 0, "\(arguments): \(result.stderr)")
            #expect(!result.stdout.isEmpty)
        }
    }

    /// The one error object on stdout, checked for the fields every error carries.
    func errorObject(_ result: ProcessResult, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
        -> [String: Any]
    {
        let object = try #require(
            try? JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any],
            "stdout is not one JSON object: \(result.stdout)\nstderr: \(result.stderr)", sourceLocation: sourceLocation)
        let error = try #require(
            object["error"] as? [String: Any], "no error object in \(result.stdout)", sourceLocation: sourceLocation)
        #expect(
            error["code"] as? Int == Int(result.exitCode), "code \(error["code"] ?? "-") vs exit \(result.exitCode)",
            sourceLocation: sourceLocation)
        #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        return error
    }

    @Test func jsonFailuresPrintAnErrorObjectForEveryCommand() throws {
        let directory = try TemporaryDirectory(prefix: "seedgen-json-errors")
        let bad = try directory.write("bad.yaml", "name: web_01\nvmid: 100\n").path
        let cache = directory.path("cache").path
        let damaged = directory.path("damaged-cache")
        try FileManager.default.createDirectory(at: damaged, withIntermediateDirectories: true)
        try Data("{\"version\": 1, \"images\": [".utf8).write(to: damaged.appendingPathComponent("index.json"))
        try FileManager.default.createDirectory(at: directory.path("not-an-export"), withIntermediateDirectories: true)
        try Data("not an iso".utf8).write(to: directory.path("text.iso"))
        let cases: [(arguments: [String], code: Int, positioned: Bool)] = [
            (
                ["build", bad, "-o", directory.path("out").path, "--cache", cache, "--json", "--progress", "none"], 2,
                true
            ),
            (["validate", bad, "--json"], 2, true),
            (["image", "lock", bad, "--cache", cache, "--json", "--progress", "none"], 2, true),
            (["image", "fetch", "no-such-image", "--cache", cache, "--json", "--progress", "none"], 2, false),
            (["image", "verify", "--cache", damaged.path, "--json"], 1, false),
            (["image", "gc", "--cache", damaged.path, "--json"], 1, false),
            (["image", "export", directory.path("export").path, "--cache", cache, "--json"], 1, false),
            (["image", "import", directory.path("not-an-export").path, "--cache", cache, "--json"], 1, false),
            (
                [
                    "iso", directory.path("missing-user-data").path, directory.path("missing-meta-data").path, "-o",
                    directory.path("seed.iso").path, "--json",
                ], 2, false
            ),
            (["inspect", directory.path("text.iso").path, "--json"], 1, false),
        ]
        for (arguments, code, positioned) in cases {
            let result = try seedgen(arguments)
            #expect(Int(result.exitCode) == code, "\(arguments): exit \(result.exitCode)\n\(result.stderr)")
            let error = try errorObject(result)
            if arguments[0] != "validate" {
                #expect(!result.stderr.isEmpty, "\(arguments): the error still goes to stderr too")
            }
            if positioned {
                #expect(error["file"] as? String == bad, "\(arguments): \(error)")
                #expect(error["line"] as? Int == 1 && error["column"] as? Int == 7, "\(arguments): \(error)")
                #expect(error["keyPath"] as? String == "name")
            }
        }
        // `image list` still lists the catalog when the index is damaged, and says why the cache is not listed.
        let list = try seedgen(["image", "list", "--cache", damaged.path, "--json"])
        #expect(list.exitCode == 1)
        let object = try #require(
            try? JSONSerialization.jsonObject(with: list.stdoutData) as? [String: Any], "\(list.stdout)")
        #expect((object["catalog"] as? [Any])?.isEmpty == false)
        let cacheError = try #require(object["cacheError"] as? [String: Any], "\(object)")
        #expect((cacheError["message"] as? String)?.contains(damaged.appendingPathComponent("index.json").path) == true)
    }

    /// Eight VMs whose seeds break Proxmox's snippet limit, found while rendering (after the
    /// files were validated): the errors come in the order of the files, the same on every run.
    @Test func renderTimeDiagnosticsAndWarningsFollowTheFileOrder() throws {
        let directory = try TemporaryDirectory(prefix: "seedgen-order")
        func write(_ name: String, vmid: Int, mode: String, bytes: Int) throws -> String {
            try directory.write(
                "\(name).yaml",
                """
                name: \(name)
                vmid: \(vmid)
                cloud_init:
                  mode: \(mode)
                  write_files:
                    - path: /etc/big
                      content: "\(String(repeating: "x", count: bytes))"

                """
            ).path
        }
        let tooBig = try (0..<8).map { try write("snip\($0)", vmid: 200 + $0, mode: "snippets", bytes: 1100 << 10) }
        func names(in stderr: String, prefix: String) -> [String] {
            stderr.split(separator: "\n").compactMap { line in
                guard
                    let name = line.split(separator: ":").first.map({
                        ($0 as Substring).split(separator: "/").last.map(String.init) ?? ""
                    }),
                    name.hasPrefix(prefix), name.hasSuffix(".yaml")
                else { return nil }
                return name
            }
        }
        var runs: [String] = []
        for _ in 0..<2 {
            let result = try seedgen(
                ["build", "--progress", "none", "-j", "4", "-o", directory.path("out").path] + tooBig)
            #expect(result.exitCode == 2, "\(result.stderr)")
            #expect(names(in: result.stderr, prefix: "snip") == (0..<8).map { "snip\($0).yaml" }, "\(result.stderr)")
            runs.append(result.stderr)
        }
        #expect(Set(runs).count == 1, "every run prints the same diagnostics")
        // Warnings (seeds over 3 MiB in iso mode still build) come in file order too.
        let large = try (0..<3).map { try write("large\($0)", vmid: 300 + $0, mode: "iso", bytes: 3100 << 10) }
        var warningRuns: [[String]] = []
        for _ in 0..<2 {
            let result = try seedgen(
                ["build", "--progress", "none", "-j", "4", "-o", directory.path("out").path] + large)
            #expect(result.exitCode == 0, "\(result.stderr)")
            warningRuns.append(names(in: result.stderr, prefix: "large"))
            #expect(names(in: result.stderr, prefix: "large") == (0..<3).map { "large\($0).yaml" }, "\(result.stderr)")
        }
        #expect(warningRuns[0] == warningRuns[1])
    }
}
