import Foundation
import SeedgenKit
import SeedgenTestSupport
import Testing

/// A fixed epoch so expectations about timestamps are exact: 2023-11-14T22:13:20Z.
let testEpoch: Int64 = 1_700_000_000

/// A realistic seed: cloud-config user-data, meta-data with an instance-id, a v2 network-config.
func sampleSeedFiles(userDataPadding: Int = 0) -> [SeedFile] {
    var userData = "#cloud-config\nhostname: web01\npackages: [qemu-guest-agent]\n"
    if userDataPadding > 0 {
        userData += "write_files:\n  - path: /etc/padding\n    content: \""
        userData += String(repeating: "x", count: userDataPadding) + "\"\n"
    }
    return [
        SeedFile(name: "user-data", data: Data(userData.utf8)),
        SeedFile(name: "meta-data", data: Data("instance-id: iid-web01-1\nlocal-hostname: web01\n".utf8)),
        SeedFile(
            name: "network-config",
            data: Data("version: 2\nethernets:\n  eth0:\n    match: {macaddress: 'bc:24:11:12:34:56'}\n    set-name: eth0\n    dhcp4: true\n".utf8)),
    ]
}

/// Runs a real consumer tool; a missing tool fails the test with the way to install it.
@discardableResult
func runTool(
    _ tool: String, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: URL? = nil,
    expectSuccess: Bool = true, sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> ProcessResult {
    try #require(
        ProcessRunner.isInstalled(tool), "\(tool) is not installed: run scripts/install-deps.sh as root",
        sourceLocation: sourceLocation)
    let result = try ProcessRunner.run(tool, arguments, environment: environment, currentDirectory: currentDirectory)
    if expectSuccess {
        #expect(result.exitCode == 0, "\(tool) \(arguments.joined(separator: " ")) failed: \(result.stderr)", sourceLocation: sourceLocation)
    }
    return result
}

/// The built seedgen binary; fails with a hint when `swift build` has not been run.
func requireSeedgenBinary(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    try #require(
        FileManager.default.isExecutableFile(atPath: TestPaths.seedgenBinary.path),
        "seedgen binary not found at \(TestPaths.seedgenBinary.path): run swift build first", sourceLocation: sourceLocation)
}

/// Files in `directory`, hidden ones included (temporary files start with a dot).
func directoryEntries(_ directory: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
}

/// Every regular file below `directory`, by relative path.
func filesBelow(_ directory: URL) throws -> [String: Data] {
    var result: [String: Data] = [:]
    let base = directory.standardizedFileURL.path
    guard let enumerator = FileManager.default.enumerator(atPath: base) else { return result }
    for case let relative as String in enumerator {
        let path = base + "/" + relative
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            result[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
    }
    return result
}

extension SeedgenError {
    var isInvalidInput: Bool {
        if case .invalidInput = self { return true }
        return false
    }
}
