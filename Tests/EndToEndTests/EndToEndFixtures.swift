import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

/// Fails the test with a message naming the installer when a consumer tool is missing.
func requireTool(_ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    guard ProcessRunner.isInstalled(name) else {
        Issue.record("\(name) is not installed: run scripts/install-deps.sh as root", sourceLocation: sourceLocation)
        throw TestFixtureError("\(name) missing")
    }
}

/// Runs a tool that must succeed; its failure (output included) is the error.
@discardableResult
func runChecked(
    _ tool: String, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: URL? = nil,
    stdin: Data? = nil
) throws -> ProcessResult {
    let result = try ProcessRunner.run(
        tool, arguments, environment: environment, currentDirectory: currentDirectory, stdin: stdin)
    guard result.exitCode == 0 else {
        throw TestFixtureError(
            "\(tool) \(arguments.joined(separator: " ")) exited \(result.exitCode): \(result.stdout)\(result.stderr)")
    }
    return result
}

/// The environment every build runs with: no SOURCE_DATE_EPOCH from the caller (the fixed default
/// applies unless a test sets it), no user catalog or cache from the developer's home.
func buildEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for key in ["SOURCE_DATE_EPOCH", "SEEDGEN_CACHE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"] { environment[key] = nil }
    environment["HOME"] = "/nonexistent"
    environment["NO_COLOR"] = "1"
    for (key, value) in extra { environment[key] = value }
    return environment
}

/// Runs the built binary; fails with a hint when `swift build` has not produced it yet.
@discardableResult
func seedgen(_ arguments: [String], environment: [String: String] = buildEnvironment(), currentDirectory: URL? = nil)
    throws -> ProcessResult
{
    if let problem = TestPaths.seedgenBinaryProblem() { throw TestFixtureError(problem) }
    return try ProcessRunner.seedgen(arguments, environment: environment, currentDirectory: currentDirectory)
}

/// Every catalog name the samples use, served from one loopback server: a small qcow2 (1 GiB
/// virtual, made by qemu-img) with a SHA256SUMS list, plus `broken-image` whose listed digest is
/// wrong so its verification fails.
final class LoopbackImages: @unchecked Sendable {
    static let catalogNames = ["ubuntu-24.04", "ubuntu-22.04", "debian-12", "debian-13"]
    let directory: TemporaryDirectory
    let server: FaultServer
    let catalog: URL
    let imageName = "disk.qcow2"
    let imageSHA256: String

    init() throws {
        try requireTool("qemu-img")
        directory = try TemporaryDirectory(prefix: "seedgen-e2e-images")
        let www = directory.path("www")
        try FileManager.default.createDirectory(at: www, withIntermediateDirectories: true)
        try runChecked("qemu-img", ["create", "-q", "-f", "qcow2", www.appendingPathComponent(imageName).path, "1G"])
        try runChecked(
            "qemu-img", ["create", "-q", "-f", "qcow2", www.appendingPathComponent("broken.qcow2").path, "2G"])
        imageSHA256 = Digest.sha256Hex(try Data(contentsOf: www.appendingPathComponent(imageName)))
        let wrong = String(repeating: "0", count: 64)
        try Data("\(imageSHA256)  \(imageName)\n\(wrong)  broken.qcow2\n".utf8).write(
            to: www.appendingPathComponent("SHA256SUMS"))
        server = try FaultServer(root: www)
        var text = "images:\n"
        for name in Self.catalogNames + ["broken-image"] {
            let file = name == "broken-image" ? "broken.qcow2" : imageName
            text +=
                "  \(name):\n    url: \(server.url(file).absoluteString)\n    checksums: SHA256SUMS\n    signature: "
                + "none\n"
        }
        catalog = try directory.write("catalog.yaml", text)
    }

    /// The server's request log without the log requests themselves.
    func requestCount() throws -> Int { try server.requests().count }
}

/// A copy of samples/ in a temporary directory, with the Ansible sample's https image URL
/// rewritten to the loopback server (the samples themselves stay untouched).
final class SampleWorkspace: @unchecked Sendable {
    let directory: TemporaryDirectory
    var root: URL { directory.path("samples") }

    init(images: LoopbackImages, prefix: String = "seedgen-e2e-samples") throws {
        directory = try TemporaryDirectory(prefix: prefix)
        try FileManager.default.copyItem(at: TestPaths.samples, to: root)
        let ansible = root.appendingPathComponent("ansible-vars.yml")
        var text = try String(contentsOf: ansible, encoding: .utf8)
        let imageURL = images.server.url(images.imageName).absoluteString
        let listURL = images.server.url("SHA256SUMS").absoluteString
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("proxmox_vm_cloud_image_url:") { return "proxmox_vm_cloud_image_url: \(imageURL)" }
            if line.hasPrefix("proxmox_vm_cloud_image_checksum:") {
                return "proxmox_vm_cloud_image_checksum: \"sha256:\(listURL)\""
            }
            return String(line)
        }
        text = lines.joined(separator: "\n")
        guard text.contains(imageURL), text.contains(listURL) else {
            throw TestFixtureError("ansible-vars.yml no longer has the image keys this test rewrites")
        }
        try Data(text.utf8).write(to: ansible)
    }

    /// Every sample VM file (top-level samples and the fleet, not its defaults), relative to samples/.
    static let sampleFiles: [String] = {
        let root = TestPaths.samples
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let top = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        let fleet =
            ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("fleet").path)) ?? [])
            .filter { $0.hasSuffix(".yaml") && $0 != "defaults.yaml" }.map { "fleet/" + $0 }
        return (top + fleet).sorted()
    }()

    func path(_ sample: String) -> String { root.appendingPathComponent(sample).path }
}

/// Every file and directory below `root` by relative path: file contents, or nil for a directory.
/// Equal snapshots mean byte-identical trees (names, kinds and contents).
func treeSnapshot(_ root: URL) throws -> [String: Data?] {
    var result: [String: Data?] = [:]
    let manager = FileManager.default
    guard manager.fileExists(atPath: root.path) else { return [:] }
    guard let enumerator = manager.enumerator(atPath: root.path) else { return [:] }
    for case let relative as String in enumerator {
        let url = root.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        _ = manager.fileExists(atPath: url.path, isDirectory: &isDirectory)
        result[relative] = isDirectory.boolValue ? .some(nil) : .some(try Data(contentsOf: url))
    }
    return result
}

/// The names of the differing entries of two snapshots (for readable failures).
func differences(_ left: [String: Data?], _ right: [String: Data?]) -> [String] {
    Set(left.keys).union(right.keys).filter { left[$0] != right[$0] }.sorted()
}

/// The decoded `--json` result of a build.
struct BuildJSON: Decodable {
    struct VM: Decodable {
        var name: String
        var vmid: Int
        var file: String
        var status: String
        var directory: String?
        var files: [String: String]
        var seedISO: String?
        var image: String?
        var imageVerification: String?
        var error: String?
    }

    var outputDirectory: String
    var vms: [VM]
    var built: Int
    var failed: Int

    static func decode(_ result: ProcessResult) throws -> BuildJSON {
        try JSONDecoder().decode(BuildJSON.self, from: result.stdoutData)
    }
}

/// The lines of SHA256SUMS as name → digest.
func checksumList(_ directory: URL) throws -> [String: String] {
    let text = try String(contentsOf: directory.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { continue }
        result[String(parts[1].drop(while: { $0 == " " || $0 == "*" }))] = String(parts[0])
    }
    return result
}

/// Every regular file below `directory`, relative.
func regularFiles(_ directory: URL) throws -> [String] {
    try treeSnapshot(directory).compactMap { $0.value == nil ? nil : $0.key }.sorted()
}
