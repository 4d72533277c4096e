import Foundation
import SeedgenCore
import SeedgenISO
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
            data: Data(
                "version: 2\nethernets:\n  eth0:\n    match: {macaddress: 'bc:24:11:12:34:56'}\n    set-name: eth0\n    dhcp4: true\n"
                    .utf8)),
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
        #expect(
            result.exitCode == 0, "\(tool) \(arguments.joined(separator: " ")) failed: \(result.stderr)",
            sourceLocation: sourceLocation)
    }
    return result
}

/// The built seedgen binary; fails with a hint when `swift build` has not been run.
func requireSeedgenBinary(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    try #require(
        FileManager.default.isExecutableFile(atPath: TestPaths.seedgenBinary.path),
        "seedgen binary not found at \(TestPaths.seedgenBinary.path): run swift build first",
        sourceLocation: sourceLocation)
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

/// Reads a produced seed back with every real consumer the issue names — `isoinfo -d`,
/// `isoinfo -f -R`, `isoinfo -f -J`, `xorriso -pvd_info`, `xorriso -osirrox on -extract`,
/// `blkid -p` — and compares names, label and extracted bytes with `expected`.
func expectSeedReadsBack(
    _ iso: URL, _ expected: [String: Data], volumeID: String = "cidata",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
    let names = expected.keys.map { "/" + $0 }.sorted()
    let description = try runTool("isoinfo", ["-d", "-i", iso.path], sourceLocation: sourceLocation).stdout
    #expect(
        description.contains("Volume id: \(volumeID)\n"), "isoinfo -d: \(description)", sourceLocation: sourceLocation)
    #expect(description.contains("Rock Ridge signatures"), sourceLocation: sourceLocation)
    #expect(description.contains("Joliet"), sourceLocation: sourceLocation)
    for tree in ["-R", "-J"] {
        let listing = try runTool("isoinfo", ["-f", tree, "-i", iso.path], sourceLocation: sourceLocation).stdout
        #expect(
            listing.split(separator: "\n").map(String.init).sorted() == names, "isoinfo -f \(tree)",
            sourceLocation: sourceLocation)
    }
    let pvd = try runTool("xorriso", ["-indev", iso.path, "-pvd_info"], sourceLocation: sourceLocation).stdout
    #expect(pvd.contains("Volume Id    : \(volumeID)\n"), "xorriso -pvd_info: \(pvd)", sourceLocation: sourceLocation)
    let probe = try runTool("blkid", ["-p", "-o", "export", iso.path], sourceLocation: sourceLocation).stdout
    #expect(
        probe.contains("\nLABEL=\(volumeID)\n") && probe.contains("\nTYPE=iso9660\n"), "blkid -p: \(probe)",
        sourceLocation: sourceLocation)
    let extracted = try TemporaryDirectory(prefix: "seedgen-extract")
    let target = extracted.path("root")
    try runTool(
        "xorriso", ["-osirrox", "on", "-indev", iso.path, "-extract", "/", target.path], sourceLocation: sourceLocation)
    #expect(
        try filesBelow(target) == expected, "xorriso -extract bytes differ from the input",
        sourceLocation: sourceLocation)
}

func byName(_ files: [SeedFile]) -> [String: Data] {
    Dictionary(files.map { ($0.name, $0.data) }, uniquingKeysWith: { first, _ in first })
}
