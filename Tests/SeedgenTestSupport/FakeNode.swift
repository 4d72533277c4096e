import Foundation
import SeedgenCore

/// A fake Proxmox VE node (Tests/Fixtures/fake-pve) with its own state directory.
/// Shared by BundleTests (deploy scenarios) and EndToEndTests (deploy.sh from a real build).
public final class FakeNode {
    public struct Storage: Encodable, Sendable {
        public var type = "dir"
        public var status = "active"
        public var content: [String]

        public init(type: String = "dir", status: String = "active", content: [String]) {
            self.type = type
            self.status = status
            self.content = content
        }
    }

    public struct Setup: Encodable, Sendable {
        public var version = "8.4.1"
        public var hostname = "pve01"
        public var uid = 0
        public var storages: [String: Storage] = [
            "local": Storage(content: ["iso", "vztmpl", "backup", "import", "snippets"]),
            "local-lvm": Storage(type: "lvmthin", content: ["images", "rootdir"]),
        ]
        public var remote_vmids: [Int] = []
        public var resize_fails = false
        public var pools: [String] = []

        public init() {}
    }

    public let directory: TemporaryDirectory
    public var setup: Setup

    public init(_ setup: Setup = Setup()) throws {
        directory = try TemporaryDirectory(prefix: "fake-pve")
        self.setup = setup
        try save()
    }

    public var state: URL { directory.url }

    public func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(setup).write(to: state.appendingPathComponent("node.json"))
    }

    public static var fixture: URL { TestPaths.fixtures.appendingPathComponent("fake-pve") }
    public static var qmOptions: URL { TestPaths.sharedReference.appendingPathComponent("qm-options.json") }

    /// Puts a VM on the node the way another tool would have (no seedgen marker).
    public func addForeignVM(_ vmid: Int, description: String = "owned by someone else") throws {
        let vms = state.appendingPathComponent("vms")
        try FileManager.default.createDirectory(at: vms, withIntermediateDirectories: true)
        let vm: [String: Any] = [
            "config": ["name": "other", "description": description, "memory": "1024"], "status": "running",
        ]
        try JSONSerialization.data(withJSONObject: vm).write(to: vms.appendingPathComponent("\(vmid).json"))
    }

    /// Runs `bash deploy.sh ARGS` from `currentDirectory` with the fake tools first on PATH.
    public func deploy(_ script: URL, _ arguments: [String] = [], currentDirectory: URL? = nil) throws -> ProcessResult
    {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = Self.fixture.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["FAKE_PVE_STATE"] = state.path
        environment["FAKE_PVE_QM_OPTIONS"] = Self.qmOptions.path
        return try ProcessRunner.run(
            "/bin/bash", [script.path] + arguments, environment: environment,
            currentDirectory: currentDirectory ?? script.deletingLastPathComponent())
    }

    /// Every call the tools received, in order.
    public func calls() throws -> [[String]] {
        let url = state.appendingPathComponent("calls.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) }
    }

    public func clearCalls() throws {
        try? FileManager.default.removeItem(at: state.appendingPathComponent("calls.jsonl"))
    }

    /// Calls that change the node (anything but reading).
    public func changingCalls() throws -> [[String]] {
        try calls().filter { call in
            guard call.first == "qm", call.count > 1 else { return false }
            return ["create", "set", "start", "disk", "resize", "destroy", "importdisk"].contains(call[1])
        }
    }

    /// The VM's config as the fake stores it (description not encoded), nil when it does not exist.
    public func vmConfig(_ vmid: Int) throws -> [String: String]? {
        let url = state.appendingPathComponent("vms/\(vmid).json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        return object?["config"] as? [String: String]
    }

    public func vmStatus(_ vmid: Int) throws -> String? {
        let url = state.appendingPathComponent("vms/\(vmid).json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        return object?["status"] as? String
    }

    /// Every file under vms/ and storage/ with its content hash: equal snapshots mean nothing changed.
    public func snapshot() throws -> [String: String] {
        var result: [String: String] = [:]
        for top in ["vms", "storage"] {
            let root = state.appendingPathComponent(top)
            guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
                continue
            }
            for case let url as URL in enumerator {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
                if isDirectory.boolValue { continue }
                result[String(url.path.dropFirst(state.path.count))] = Digest.sha256Hex(try Data(contentsOf: url))
            }
        }
        return result
    }

    public func storageFile(_ storage: String, _ relativePath: String) -> URL {
        state.appendingPathComponent("storage/\(storage)/\(relativePath)")
    }
}

/// Checks qm arguments against qm-options.json, the way a real node would parse them.
public enum QMOptionChecker {
    struct Entry: Decodable { var regex: String }

    public static let entries: [String: NSRegularExpression] = {
        let data = (try? Data(contentsOf: FakeNode.qmOptions)) ?? Data()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var result: [String: NSRegularExpression] = [:]
        for (key, value) in object {
            guard let entry = value as? [String: Any], let pattern = entry["regex"] as? String,
                let regex = try? NSRegularExpression(pattern: pattern)
            else { continue }
            result[key] = regex
        }
        return result
    }()

    public static func schemaKey(_ key: String, version: (Int, Int)) -> String {
        for family in ["scsi", "virtio", "sata", "ide", "net", "ipconfig", "serial"] where key.hasPrefix(family) {
            let rest = key.dropFirst(family.count)
            if !rest.isEmpty, rest.allSatisfy(\.isNumber) { return family + "N" }
        }
        if key == "memory", version < (8, 1) { return "memory_pre_8.1" }
        return key
    }

    /// Problems with one `qm create|set` or resize call (empty: every argument valid).
    public static func problems(in call: [String], version: (Int, Int) = (9, 2)) -> [String] {
        guard call.first == "qm", call.count >= 3 else { return [] }
        var problems: [String] = []
        func check(_ schema: String, _ value: String, _ label: String) {
            guard let regex = entries[schema] else {
                problems.append("\(label): no entry '\(schema)' in qm-options.json")
                return
            }
            let range = NSRange(value.startIndex..., in: value)
            if regex.firstMatch(in: value, range: range) == nil {
                problems.append("\(label) '\(value)' does not match \(schema)")
            }
        }
        switch call[1] {
        case "create", "set":
            check("vmid", call[2], "vmid")
            var index = 3
            while index < call.count {
                let key = String(call[index].drop(while: { $0 == "-" }))
                guard call[index].hasPrefix("--"), index + 1 < call.count else {
                    problems.append("malformed option list at '\(call[index])'")
                    break
                }
                let value = call[index + 1]
                if key == "sshkeys" {
                    // The CLI takes a file path here; its contents are checked by the node.
                    if !value.hasPrefix("/") { problems.append("--sshkeys must be an absolute file path") }
                } else {
                    check(schemaKey(key, version: version), value, "--\(key)")
                }
                index += 2
            }
        case "disk" where call.count == 6 && call[2] == "resize":
            check("vmid", call[3], "vmid")
            check("qm disk resize <size>", call[5], "size")
        case "resize" where call.count == 5:
            check("vmid", call[2], "vmid")
            check("qm disk resize <size>", call[4], "size")
        case "start", "config", "status":
            check("vmid", call[2], "vmid")
        default:
            break
        }
        return problems
    }
}
