import Foundation
import SeedgenApply
import SeedgenCore

#if canImport(Glibc)
    import Glibc
#endif

/// A Proxmox VE node's API in memory, for `apply`'s tests. It follows Proxmox's own rules as its
/// code has them, written here independently of seedgen's planner so that a wrong plan fails:
/// - ACLs (pve-access-control `AccessControl.pm roles`): the deepest ACL entry on a path replaces the
///   inherited one; a privilege-separated token gets the intersection of its and its user's privileges;
/// - permission checks of qemu-server `API2/Qemu.pm` (create/config/resize/start), pve-storage
///   `API2/Storage/Status.pm` (upload) and `Storage.pm check_volume_access`, pve-guest-common
///   `check_vnet_access`;
/// - uploads: the fields `content`, `checksum-algorithm`, `checksum` in that order, names normalized to
///   `[A-Za-z0-9_.-]`, `.img` refused for `import` (PVE 8.4+ takes qcow2/raw/vmdk/ova), the checksum
///   verified inside the task;
/// - create: `media=cdrom` required on an ISO drive from PVE 8.4, `import-from` an import or images
///   volume (an absolute path is root@pam only, and a token never is), a taken VMID failing in the task;
/// - every long call answers with a UPID whose task status says `OK` or the error.
public actor FakeProxmoxAPI: ProxmoxAPIClient {
    public struct Storage: Sendable {
        public var type: String
        public var content: Set<String>
        public var enabled = true
        /// volid → (sha256, size)
        public var volumes: [String: (sha256: String, size: UInt64)] = [:]

        public init(type: String, content: Set<String>, enabled: Bool = true) {
            self.type = type
            self.content = content
            self.enabled = enabled
        }
    }

    public struct Setup: Sendable {
        public var release = "8.4"
        public var version = "8.4.1"
        public var nodes = ["pve01"]
        public var storages: [String: Storage] = [
            "local": Storage(type: "dir", content: ["iso", "vztmpl", "backup", "import"]),
            "local-lvm": Storage(type: "lvmthin", content: ["images", "rootdir"]),
        ]
        public var user = "ci@pve"
        public var token = "ci@pve!deploy"
        public var privilegeSeparated = true
        /// path → privileges, propagated to paths below.
        public var userACL: [String: Set<String>] = [:]
        public var tokenACL: [String: Set<String>] = [:]
        /// Existing VMs: vmid → config.
        public var vms: [Int: [String: String]] = [:]
        /// Task types that fail, with the exit status their task reports (`qmstart`: "start failed: …").
        public var failingTasks: [String: String] = [:]

        public init() {}

        /// Everything on `/` for both the user and the token.
        public mutating func grantEverything() {
            let all: Set<String> = FakeProxmoxAPI.allPrivileges
            userACL = ["/": all]
            tokenACL = ["/": all]
        }
    }

    public struct Task: Sendable {
        public var type: String
        public var exitStatus: String
        public var log: [String]
        /// A worker still running (a node's download): its status is `running` until it ends.
        public var running = false
    }

    public static let allPrivileges: Set<String> = [
        "VM.Allocate", "VM.Audit", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Disk", "VM.Config.CDROM",
        "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options", "VM.Config.Cloudinit", "VM.PowerMgmt",
        "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
        "SDN.Use", "Sys.AccessNetwork", "Sys.Audit", "Sys.Modify", "Mapping.Use",
    ]

    public private(set) var setup: Setup
    public private(set) var tasks: [String: Task] = [:]
    /// Every call received, as `METHOD path`, in order.
    public private(set) var received: [String] = []
    public private(set) var running: Set<Int> = []
    /// Every URL a `download-url` task fetched, in order.
    public private(set) var fetchedURLs: [String] = []
    private var taskCounter = 0

    /// The actor runs on a queue of its own, not on Swift's cooperative threads: tests that block
    /// those threads (waiting for a child process) cannot starve the node's answers.
    private let executor = QueueExecutor(label: "fake-proxmox-api")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(_ setup: Setup) { self.setup = setup }

    /// `respond(to:uploaded:)` from a thread outside Swift concurrency (the HTTPS front end's event loop).
    public nonisolated func respondBlocking(to call: ProxmoxAPICall, uploaded: Data?) throws -> ProxmoxAPIResponse {
        try executor.queue.sync { try self.assumeIsolated { try $0.respond(to: call, uploaded: uploaded) } }
    }

    public func vmConfig(_ vmid: Int) -> [String: String]? { setup.vms[vmid] }
    public func volumes(on storage: String) -> [String: (sha256: String, size: UInt64)] {
        setup.storages[storage]?.volumes ?? [:]
    }
    public func changingCalls() -> [String] { received.filter { !$0.hasPrefix("GET ") } }
    public func isRunning(_ vmid: Int) -> Bool { running.contains(vmid) }
    public func setFailingTasks(_ failing: [String: String]) { setup.failingTasks = failing }

    // MARK: privileges

    private func acl(_ table: [String: Set<String>], _ path: String) -> Set<String> {
        var privileges: Set<String> = []
        var prefix = ""
        for component in [""] + path.split(separator: "/").map(String.init) {
            prefix = component.isEmpty ? "/" : (prefix == "/" ? "/" : prefix + "/") + component
            if let entry = table[prefix] { privileges = entry }
        }
        return privileges
    }

    private func releaseIsAtLeast(_ major: Int, _ minor: Int) -> Bool {
        let parts = setup.release.split(separator: ".").compactMap { Int($0) }
        return parts.count == 2 && (parts[0] > major || (parts[0] == major && parts[1] >= minor))
    }

    /// What `pveum acl modify PATH --roles R --users U [--tokens T]` does, with R's privileges.
    public func grant(_ path: String, _ privileges: Set<String>, user: Bool, token: Bool) {
        if user { setup.userACL[path] = (setup.userACL[path] ?? []).union(privileges) }
        if token { setup.tokenACL[path] = (setup.tokenACL[path] ?? []).union(privileges) }
    }

    /// What an administrator running these `pveum role add ROLE --privs …` and
    /// `pveum acl modify PATH --roles ROLE --users U [--tokens T]` lines does to this node's ACLs.
    /// An ACL line naming a role no line added is an error, as it is for pveum.
    public func runPveum(_ commands: [String]) throws {
        var roles: [String: Set<String>] = [:]
        for command in commands {
            let words = command.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
            func value(_ flag: String) -> String? {
                words.firstIndex(of: flag).flatMap { $0 + 1 < words.count ? words[$0 + 1] : nil }
            }
            if words.starts(with: ["pveum", "role", "add"]), words.count > 3, let privileges = value("--privs") {
                roles[words[3]] = Set(privileges.split(separator: ",").map(String.init))
            } else if words.starts(with: ["pveum", "acl", "modify"]), words.count > 3 {
                guard let name = value("--roles"), let role = roles[name] else {
                    throw Refusal(status: 400, message: "\(command): role does not exist")
                }
                grant(words[3], role, user: value("--users") == setup.user, token: value("--tokens") == setup.token)
            } else {
                throw Refusal(status: 400, message: "\(command): not a pveum role add or acl modify command")
            }
        }
    }

    public func effectivePrivileges(_ path: String) -> Set<String> {
        let user = acl(setup.userACL, path)
        return setup.privilegeSeparated ? user.intersection(acl(setup.tokenACL, path)) : user
    }

    private struct Refusal: Error {
        var status: Int
        var message: String
        var errors: [String: String] = [:]
    }

    private func require(_ path: String, _ privileges: [String], any: Bool = false) throws {
        let have = effectivePrivileges(path)
        let ok = any ? privileges.contains(where: have.contains) : privileges.allSatisfy(have.contains)
        if !ok {
            throw Refusal(
                status: 403,
                message: "Permission check failed (\(path), \(privileges.joined(separator: any ? " | " : ", ")))")
        }
    }

    // MARK: the API

    public func send(_ call: ProxmoxAPICall, artifactDirectory: URL?) async throws -> ProxmoxAPIResponse {
        // The schema check the HTTPS front end makes on the wire, made here on the call itself.
        let violations = PublishedAPISchema.violations(call)
        if !violations.isEmpty {
            received.append("\(call.method.rawValue) \(call.path)")
            let (status, body) =
                violations[""] != nil
                ? (
                    501,
                    try JSONSerialization.data(withJSONObject: [
                        "data": NSNull(), "message": "\(violations[""] ?? "")\n",
                    ])
                )
                : FakeProxmoxAPIServer.parameterError(violations)
            return ProxmoxAPIResponse(status: status, body: body)
        }
        let uploaded = call.upload.flatMap { upload in
            artifactDirectory.flatMap { try? Data(contentsOf: upload.location(in: $0)) }
        }
        return try respond(to: call, uploaded: uploaded)
    }

    /// `call` as the node's API handles it; `uploaded`: the bytes of the upload's file part.
    public func respond(to call: ProxmoxAPICall, uploaded: Data?) throws -> ProxmoxAPIResponse {
        received.append("\(call.method.rawValue) \(call.path)")
        do {
            let data = try handle(call, uploaded: uploaded)
            return try Self.response(200, ["data": data ?? NSNull()])
        } catch let refusal as Refusal {
            var body: [String: Any] = ["data": NSNull(), "message": refusal.message + "\n"]
            if !refusal.errors.isEmpty { body["errors"] = refusal.errors }
            return try Self.response(refusal.status, body)
        }
    }

    private static func response(_ status: Int, _ body: [String: Any]) throws -> ProxmoxAPIResponse {
        ProxmoxAPIResponse(
            status: status, body: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
    }

    private func handle(_ call: ProxmoxAPICall, uploaded: Data?) throws -> Any? {
        let values = call.pathValues
        let parameters = Dictionary(
            call.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        if let node = values["node"], !setup.nodes.contains(node) {
            throw Refusal(
                status: 500,
                message:
                    "hostname lookup '\(node)' failed - failed to get address info for: \(node): Name or service not "
                    + "known"
            )
        }
        let vmid = values["vmid"].flatMap { Int($0) }
        switch (call.method, call.endpoint) {
        case (.get, "/version"):
            return ["version": setup.version, "release": setup.release, "repoid": "fake"]
        case (.get, "/nodes"):
            return setup.nodes.map { ["node": $0, "status": "online", "type": "node"] }
        case (.get, "/cluster/nextid"):
            let wanted = Int(parameters["vmid"] ?? "") ?? 100
            if setup.vms[wanted] != nil {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.",
                    errors: ["vmid": "VM \(wanted) already exists"])
            }
            return String(wanted)
        case (.get, "/access/permissions"):
            let path = parameters["path"] ?? "/"
            return [path: Dictionary(uniqueKeysWithValues: effectivePrivileges(path).map { ($0, 1) })]
        case (.get, "/nodes/{node}/storage"):
            return setup.storages.keys.sorted().compactMap { id -> [String: Any]? in
                let have = effectivePrivileges("/storage/\(id)")
                guard have.contains("Datastore.Audit") || have.contains("Datastore.AllocateSpace") else { return nil }
                let storage = setup.storages[id]!
                return [
                    "storage": id, "type": storage.type, "content": storage.content.sorted().joined(separator: ","),
                    "enabled": storage.enabled ? 1 : 0, "active": storage.enabled ? 1 : 0,
                ]
            }
        case (.get, "/nodes/{node}/storage/{storage}/content"):
            let storageID = values["storage"] ?? ""
            try require("/storage/\(storageID)", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true)
            let wanted = parameters["content"]
            return (setup.storages[storageID]?.volumes ?? [:]).keys.sorted().compactMap { volid -> [String: Any]? in
                let content = volid.contains(":iso/") ? "iso" : "import"
                if let wanted, wanted != content { return nil }
                let volume = setup.storages[storageID]!.volumes[volid]!
                return ["volid": volid, "size": Int(volume.size), "content": content]
            }
        case (.post, "/nodes/{node}/storage/{storage}/upload"):
            return try upload(call, parameters, uploaded: uploaded)
        case (.post, "/nodes/{node}/storage/{storage}/download-url"):
            return try downloadURL(call, parameters)
        case (.delete, "/nodes/{node}/storage/{storage}/content/{volume}"):
            let volume = values["volume"] ?? ""
            let storage = String(volume.prefix { $0 != ":" })
            try require("/storage/\(storage)", ["Datastore.Allocate"])
            guard setup.storages[storage]?.volumes.removeValue(forKey: volume) != nil else {
                throw Refusal(status: 500, message: "volume '\(volume)' does not exist")
            }
            return task("imgdel", vmid: nil)
        case (.post, "/nodes/{node}/qemu"):
            return try create(parameters, call.parameters.map(\.name))
        case (.get, "/nodes/{node}/qemu/{vmid}/config"):
            guard let vmid, let config = setup.vms[vmid] else {
                throw Refusal(
                    status: 500,
                    message: "Configuration file 'nodes/pve01/qemu-server/\(values["vmid"] ?? "").conf' does not exist")
            }
            try require("/vms/\(vmid)", ["VM.Audit"])
            return config
        case (.post, "/nodes/{node}/qemu/{vmid}/config"):
            guard let vmid, setup.vms[vmid] != nil else {
                throw Refusal(status: 500, message: "VM \(values["vmid"] ?? "") does not exist")
            }
            for (key, value) in parameters {
                try checkOption(key, value, vmid: vmid, creating: false)
            }
            for (key, value) in parameters { setup.vms[vmid]?[key] = value }
            return task("qmconfig", vmid: vmid)
        case (.put, "/nodes/{node}/qemu/{vmid}/resize"):
            guard let vmid, let config = setup.vms[vmid] else {
                throw Refusal(status: 500, message: "VM does not exist")
            }
            try require("/vms/\(vmid)", ["VM.Config.Disk"])
            let disk = parameters["disk"] ?? ""
            guard let drive = config[disk] else { throw Refusal(status: 500, message: "disk '\(disk)' does not exist") }
            try require("/storage/\(drive.prefix { $0 != ":" })", ["Datastore.AllocateSpace"])
            let size = parameters["size"] ?? ""
            setup.vms[vmid]?[disk] = drive.replacingOccurrences(
                of: "size=[^,]*", with: "size=\(size)", options: .regularExpression)
            return task("resize", vmid: vmid)
        case (.post, "/nodes/{node}/qemu/{vmid}/status/start"):
            guard let vmid, setup.vms[vmid] != nil else { throw Refusal(status: 500, message: "VM does not exist") }
            try require("/vms/\(vmid)", ["VM.PowerMgmt"])
            if setup.failingTasks["qmstart"] == nil { running.insert(vmid) }
            return task("qmstart", vmid: vmid, log: ["kvm: -drive file=…: Could not open: No such file or directory"])
        case (.get, "/nodes/{node}/qemu/{vmid}/status/current"):
            guard let vmid, setup.vms[vmid] != nil else { throw Refusal(status: 500, message: "VM does not exist") }
            try require("/vms/\(vmid)", ["VM.Audit"])
            return ["status": running.contains(vmid) ? "running" : "stopped", "vmid": vmid]
        case (.get, "/nodes/{node}/tasks/{upid}/status"):
            guard let task = tasks[values["upid"] ?? ""] else { throw Refusal(status: 500, message: "no such task") }
            if task.running { return ["status": "running", "type": task.type, "upid": values["upid"] ?? ""] }
            return [
                "status": "stopped", "exitstatus": task.exitStatus, "type": task.type, "upid": values["upid"] ?? "",
            ]
        case (.get, "/nodes/{node}/tasks/{upid}/log"):
            guard let task = tasks[values["upid"] ?? ""] else { throw Refusal(status: 500, message: "no such task") }
            return task.log.enumerated().map { ["n": $0.offset + 1, "t": $0.element] }
        default:
            throw Refusal(status: 501, message: "Method '\(call.method.rawValue) \(call.endpoint)' not implemented")
        }
    }

    private func task(_ type: String, vmid: Int?, exitStatus: String = "OK", log: [String] = [], id: String? = nil)
        -> String
    {
        let exitStatus = setup.failingTasks[type] ?? exitStatus
        taskCounter += 1
        let upid =
            "UPID:\(setup.nodes[0]):\(String(format: "%08X", 0x1000 + taskCounter)):00000001:6747A0F1:\(type):\(id ?? vmid.map(String.init) ?? ""):\(setup.token):"
        tasks[upid] = Task(type: type, exitStatus: exitStatus, log: log + ["TASK \(exitStatus)"])
        return upid
    }

    private func upload(_ call: ProxmoxAPICall, _ parameters: [String: String], uploaded: Data?) throws -> Any? {
        let storageID = call.pathValues["storage"] ?? ""
        try require("/storage/\(storageID)", ["Datastore.AllocateTemplate"])
        // The multipart parser reads the non-file fields in this fixed order, then `filename`.
        let order = call.parameters.map(\.name)
        guard order == ["content", "checksum-algorithm", "checksum"] || order == ["content"],
            let upload = call.upload
        else {
            throw Refusal(status: 400, message: "unexpected multipart fields \(order)")
        }
        guard var storage = setup.storages[storageID] else {
            throw Refusal(status: 500, message: "storage '\(storageID)' does not exist")
        }
        let content = parameters["content"] ?? ""
        guard storage.content.contains(content) else {
            throw Refusal(status: 500, message: "storage '\(storageID)' does not support '\(content)' content")
        }
        let name = ProxmoxAPIEncoding.normalizedUploadName(upload.storedName)
        let allowed: [String]
        switch content {
        case "iso": allowed = [".iso", ".img"]
        case "import": allowed = releaseIsAtLeast(8, 4) ? [".ova", ".qcow2", ".raw", ".vmdk"] : [".ova"]
        default: allowed = []
        }
        guard allowed.contains(where: name.hasSuffix) else {
            throw Refusal(
                status: 400, message: "Parameter verification failed.", errors: ["filename": "wrong file extension"])
        }
        guard let bytes = uploaded else { throw Refusal(status: 400, message: "no file part") }
        let digest = Digest.sha256Hex(bytes)
        let directory = content == "iso" ? "iso" : "import"
        if let expected = parameters["checksum"], expected != digest {
            return task("imgcopy", vmid: nil, exitStatus: "checksum mismatch: got '\(digest)' != expect '\(expected)'")
        }
        storage.volumes["\(storageID):\(directory)/\(name)"] = (digest, UInt64(bytes.count))
        setup.storages[storageID] = storage
        return task("imgcopy", vmid: nil)
    }

    /// `POST /nodes/{node}/storage/{storage}/download-url` as pve-storage `API2/Storage/Status.pm`
    /// handles it: parameter checks (400), `Datastore.AllocateTemplate` on the storage and
    /// `Sys.AccessNetwork` on the node (or `Sys.Audit` + `Sys.Modify` on /), the storage enabled and
    /// configured for the content, the name normalized and its extension checked (`import`: ova,
    /// qcow2, raw, vmdk: `.img` is refused), then a `download` worker that fetches the URL (as
    /// PVE::Tools::download_file_from_url: a file already there with the pinned checksum is kept,
    /// another one is not overwritten), verifies the checksum and the format, and only then keeps it.
    /// This fake fetches plain http from 127.0.0.1 only.
    private func downloadURL(_ call: ProxmoxAPICall, _ parameters: [String: String]) throws -> Any? {
        let storageID = call.pathValues["storage"] ?? ""
        let node = call.pathValues["node"] ?? ""
        var errors: [String: String] = [:]
        for name in ["url", "content", "filename"] where parameters[name] == nil {
            errors[name] = "property is missing and it is not optional"
        }
        if let url = parameters["url"], url.range(of: "^https?://.*$", options: .regularExpression) == nil {
            errors["url"] = "value does not match the regex pattern"
        }
        let algorithms = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]
        if let algorithm = parameters["checksum-algorithm"], !algorithms.contains(algorithm) {
            errors["checksum-algorithm"] =
                "value '\(algorithm)' does not have a value in the enumeration '\(algorithms.joined(separator: ", "))'"
        }
        if parameters["checksum"] != nil && parameters["checksum-algorithm"] == nil {
            errors["checksum-algorithm"] = "parameter is required by 'checksum'"
        }
        if parameters["checksum-algorithm"] != nil && parameters["checksum"] == nil {
            errors["checksum"] = "parameter is required by 'checksum-algorithm'"
        }
        if !errors.isEmpty { throw Refusal(status: 400, message: "Parameter verification failed.", errors: errors) }

        try require("/storage/\(storageID)", ["Datastore.AllocateTemplate"])
        let root = effectivePrivileges("/")
        guard
            (root.contains("Sys.Audit") && root.contains("Sys.Modify"))
                || effectivePrivileges("/nodes/\(node)").contains("Sys.AccessNetwork")
        else {
            throw Refusal(status: 403, message: "Permission check failed (/nodes/\(node), Sys.AccessNetwork)")
        }
        guard let storage = setup.storages[storageID] else {
            throw Refusal(status: 500, message: "storage '\(storageID)' does not exist")
        }
        guard storage.enabled else { throw Refusal(status: 500, message: "storage '\(storageID)' is disabled") }
        let content = parameters["content"] ?? ""
        guard storage.content.contains(content) else {
            throw Refusal(
                status: 500, message: "storage '\(storageID)' is not configured for content-type '\(content)'")
        }
        // normalize_content_filename: the path stripped, then every character outside [A-Za-z0-9_.-] as `_`.
        let given = parameters["filename"] ?? ""
        let name = ProxmoxAPIEncoding.normalizedUploadName(
            String(given.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? ""))
        let format: String?
        switch content {
        case "iso":
            guard name.range(of: "[^/]+\\.(iso|img)$", options: [.regularExpression, .caseInsensitive]) != nil else {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.", errors: ["filename": "wrong file extension"]
                )
            }
            format = nil
        case "import":
            guard let match = name.range(of: "^[a-zA-Z0-9.+=_-]+\\.(ova|qcow2|raw|vmdk)$", options: .regularExpression)
            else {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.",
                    errors: ["filename": "invalid filename or wrong extension"])
            }
            format = String(name[match].split(separator: ".").last ?? "")
        default:
            throw Refusal(
                status: 400, message: "Parameter verification failed.",
                errors: ["content": "upload content-type '\(content)' is not allowed"])
        }
        let url = parameters["url"] ?? ""
        let volume = "\(storageID):\(content)/\(name)"
        let expected = parameters["checksum"]?.lowercased()
        let algorithm = parameters["checksum-algorithm"]
        if parameters["compression"] != nil && content != "iso" {
            return task("download", vmid: nil, exitStatus: "decompression not supported for \(content)", id: name)
        }
        if let existing = storage.volumes[volume] {
            guard let expected, algorithm == "sha256" else {
                return task("download", vmid: nil, exitStatus: "refusing to override existing file '\(name)'", id: name)
            }
            if existing.sha256 == expected {
                return task(
                    "download", vmid: nil,
                    log: [
                        "downloading \(url) to \(name)",
                        "calculating checksum of existing file...OK, got correct file already, no need to download",
                    ], id: name)
            }
            return task(
                "download", vmid: nil,
                exitStatus: "checksum mismatch: got '\(existing.sha256)' != expect '\(expected)', aborting", id: name)
        }
        let upid = task("download", vmid: nil, log: ["downloading \(url) to \(name)"], id: name)
        tasks[upid]?.running = true
        fetchedURLs.append(url)
        // The worker runs apart from the API, as a forked Proxmox worker does: the task stays
        // `running` until the file is fetched and checked.
        let executor = self.executor
        Thread.detachNewThread { [self] in
            let result: Result<(Int, Data), FetchError>
            do { result = .success(try Self.loopbackGet(url)) } catch {
                result = .failure(FetchError(description: "\(error)"))
            }
            executor.queue.async {
                self.assumeIsolated { api in
                    api.finishDownload(
                        upid, result: result, volume: volume, storage: storageID, expected: expected,
                        algorithm: algorithm, format: format, url: url)
                }
            }
        }
        return upid
    }

    private func finishDownload(
        _ upid: String, result: Result<(Int, Data), FetchError>, volume: String, storage: String, expected: String?,
        algorithm: String?,
        format: String?, url: String
    ) {
        func end(_ exitStatus: String, _ lines: [String]) {
            guard var task = tasks[upid] else { return }
            task.running = false
            task.exitStatus = exitStatus
            task.log += lines + [exitStatus == "OK" ? "TASK OK" : "TASK ERROR: \(exitStatus)"]
            tasks[upid] = task
        }
        let bytes: Data
        switch result {
        case .failure(let error):
            return end("download failed: \(error)", [])
        case .success((let status, let body)):
            guard status == 200 else {
                return end("download failed: wget: server returned error: HTTP/1.0 \(status)", [])
            }
            bytes = body
        }
        if let expected {
            // seedgen pins sha256; the fake computes no other digest.
            guard algorithm == "sha256" else {
                return end("the fake verifies sha256 only (asked for \(algorithm ?? "?"))", [])
            }
            let got = Digest.sha256Hex(bytes)
            guard got == expected else {
                return end("checksum mismatch: got '\(got)' != expect '\(expected)'", ["calculating checksum..."])
            }
        }
        // file_size_info with the extension's format, untrusted: a qcow2 must be one.
        if format == "qcow2", !bytes.starts(with: [0x51, 0x46, 0x49, 0xFB]) {
            return end(
                "failed to query file information with qemu-img", ["calculating checksum...OK, checksum verified"])
        }
        setup.storages[storage]?.volumes[volume] = (Digest.sha256Hex(bytes), UInt64(bytes.count))
        end("OK", ["calculating checksum...OK, checksum verified", "download of '\(url)' to '\(volume)' finished"])
    }

    struct FetchError: Error, CustomStringConvertible {
        var description: String
    }

    /// `GET url` as the node's wget would, over plain HTTP/1.0, and only to 127.0.0.1: the tests
    /// never reach another address. Blocking: call it off the fake's queue.
    static func loopbackGet(_ text: String) throws -> (Int, Data) {
        guard let url = URL(string: text), url.scheme == "http", url.host == "127.0.0.1", let port = url.port else {
            throw FetchError(description: "this fake node fetches only http://127.0.0.1:PORT/… URLs, not \(text)")
        }
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw FetchError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw FetchError(description: "Connecting to 127.0.0.1:\(port)... failed: Connection refused.")
        }
        let path = url.path.isEmpty ? "/" : url.path + (url.query.map { "?\($0)" } ?? "")
        let request = Array(
            "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { Glibc.send(socketFD, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { throw FetchError(description: "send: \(String(cString: strerror(errno)))") }
            sent += written
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if count < 0 { throw FetchError(description: "recv: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)) else {
            throw FetchError(description: "no HTTP response from 127.0.0.1:\(port)")
        }
        let statusLine =
            String(decoding: response[..<split.lowerBound], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, Data(response[split.upperBound...]))
    }

    private func create(_ parameters: [String: String], _ order: [String]) throws -> Any? {
        guard let vmid = Int(parameters["vmid"] ?? "") else {
            throw Refusal(
                status: 400, message: "Parameter verification failed.",
                errors: ["vmid": "property is missing and it is not optional"])
        }
        try require("/vms/\(vmid)", ["VM.Allocate"])
        for key in order where key != "vmid" {
            try checkOption(key, parameters[key] ?? "", vmid: vmid, creating: true)
        }
        if setup.vms[vmid] != nil {
            return task(
                "qmcreate", vmid: vmid,
                exitStatus: "unable to create VM \(vmid) - VM \(vmid) already exists on node '\(setup.nodes[0])'")
        }
        var config = parameters
        config["vmid"] = nil
        if let tags = config["tags"] {
            // pve-guest-common get_unique_tags: lower case, sorted, without repeats (the default tag-style).
            let unique = Set(tags.split(whereSeparator: { ";, ".contains($0) }).map { $0.lowercased() })
            config["tags"] = unique.sorted().joined(separator: ";")
        }
        for (key, value) in parameters where isDrive(key) {
            config[key] = try allocate(key, value, vmid: vmid)
        }
        setup.vms[vmid] = config
        return task("qmcreate", vmid: vmid)
    }

    /// What a drive becomes in the config: new disks get a volume and a size.
    private func allocate(_ key: String, _ value: String, vmid: Int) throws -> String {
        let fields = value.split(separator: ",").map(String.init)
        let volume = fields.first ?? ""
        let storage = String(volume.prefix { $0 != ":" })
        let rest = fields.dropFirst().filter { !$0.hasPrefix("import-from=") }
        if let source = fields.first(where: { $0.hasPrefix("import-from=") })?.dropFirst("import-from=".count) {
            let size = setup.storages[String(source.prefix { $0 != ":" })]?.volumes[String(source)]?.size ?? 0
            return (["\(storage):vm-\(vmid)-disk-0"] + rest + ["size=\(size)"]).joined(separator: ",")
        }
        let amount = volume.split(separator: ":").last.map(String.init) ?? ""
        if key == "efidisk0" {
            // The requested size is ignored: the EFI vars disk has the size of its OVMF template.
            let size = fields.contains("efitype=4m") ? "4M" : "528K"
            return (["\(storage):vm-\(vmid)-disk-efi"] + rest + ["size=\(size)"]).joined(separator: ",")
        }
        if amount.allSatisfy({ $0.isNumber || $0 == "." }) && !amount.isEmpty {
            return (["\(storage):vm-\(vmid)-\(key)"] + rest + ["size=\(amount)G"]).joined(separator: ",")
        }
        return value
    }

    private func isDrive(_ key: String) -> Bool {
        key.range(of: "^(scsi|sata|ide|virtio)[0-9]+$|^efidisk0$|^tpmstate0$", options: .regularExpression) != nil
    }

    /// qemu-server's checks for one option, by its groups (`check_vm_modify_config_perm` and the
    /// drive, serial and bridge checks next to it).
    private func checkOption(_ key: String, _ value: String, vmid: Int, creating: Bool) throws {
        let vm = "/vms/\(vmid)"
        let cpu: Set = ["cores", "cpu", "sockets", "numa", "vcpus", "cpulimit", "cpuunits"]
        let memory: Set = ["memory", "balloon", "shares"]
        let hardware: Set = ["machine", "scsihw", "vga", "acpi", "kvm", "tablet", "hotplug", "smbios1", "watchdog"]
        let general: Set = [
            "agent", "bios", "description", "name", "onboot", "ostype", "protection", "startup", "tags",
        ]
        let cloudInit: Set = [
            "cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys",
        ]
        if cpu.contains(key) {
            try require(vm, ["VM.Config.CPU"])
        } else if memory.contains(key) {
            try require(vm, ["VM.Config.Memory"])
        } else if hardware.contains(key) {
            try require(vm, ["VM.Config.HWType"])
        } else if general.contains(key) {
            try require(vm, ["VM.Config.Options"])
        } else if key == "boot" {
            try require(vm, ["VM.Config.Disk"])
        } else if cloudInit.contains(key) || key.hasPrefix("ipconfig") {
            try require(vm, ["VM.Config.Cloudinit", "VM.Config.Network"], any: true)
            if key == "sshkeys", value.removingPercentEncoding == nil {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.",
                    errors: ["sshkeys": "invalid urlencoded string"])
            }
        } else if key.hasPrefix("serial") {
            guard value == "socket" else {
                throw Refusal(status: 500, message: "only root can set '\(key)' config for real devices")
            }
            try require(vm, ["VM.Config.HWType"])
        } else if key.hasPrefix("net") {
            try require(vm, ["VM.Config.Network"])
            let fields = Dictionary(
                value.split(separator: ",").compactMap { part -> (String, String)? in
                    let pair = part.split(separator: "=", maxSplits: 1)
                    return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
                }, uniquingKeysWith: { first, _ in first })
            if let bridge = fields["bridge"] {
                try require(
                    fields["tag"].map { "/sdn/zones/localnetwork/\(bridge)/\($0)" }
                        ?? "/sdn/zones/localnetwork/\(bridge)", ["SDN.Use"])
            }
        } else if isDrive(key) {
            try checkDrive(key, value, vmid: vmid, creating: creating)
        } else {
            throw Refusal(status: 500, message: "only root can set '\(key)' config")
        }
    }

    private func checkDrive(_ key: String, _ value: String, vmid: Int, creating: Bool) throws {
        let fields = value.split(separator: ",").map(String.init)
        let volume = fields.first ?? ""
        let storage = String(volume.prefix { $0 != ":" })
        let name = String(volume.drop { $0 != ":" }.dropFirst())
        let cdrom = fields.contains("media=cdrom")
        if !creating { try require("/vms/\(vmid)", [cdrom ? "VM.Config.CDROM" : "VM.Config.Disk"]) }
        if name == "cloudinit" { return }
        if name.hasPrefix("iso/") {
            if releaseIsAtLeast(8, 4) && !cdrom {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.",
                    errors: [key: "an ISO image needs media=cdrom"])
            }
            guard setup.storages[storage]?.volumes[volume] != nil else {
                throw Refusal(status: 500, message: "volume '\(volume)' does not exist")
            }
            try require(
                "/storage/\(storage)", ["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"], any: true)
            return
        }
        guard setup.storages[storage]?.content.contains("images") == true else {
            throw Refusal(
                status: 400, message: "Parameter verification failed.",
                errors: ["storage": "storage '\(storage)' does not support vm images"])
        }
        try require("/storage/\(storage)", ["Datastore.AllocateSpace"])
        if let source = fields.first(where: { $0.hasPrefix("import-from=") })?.dropFirst("import-from=".count) {
            if source.hasPrefix("/") {
                throw Refusal(status: 500, message: "Only root can pass arbitrary filesystem paths.")
            }
            let sourceStorage = String(source.prefix { $0 != ":" })
            guard source.contains(":import/") || source.contains(":images/") || source.contains(":vm-") else {
                throw Refusal(
                    status: 400, message: "Parameter verification failed.",
                    errors: [key: "\(source) has wrong type - needs to be 'images' or 'import'"])
            }
            guard setup.storages[sourceStorage]?.volumes[String(source)] != nil else {
                throw Refusal(status: 500, message: "volume '\(source)' does not exist")
            }
            try require(
                "/storage/\(sourceStorage)", ["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"],
                any: true)
        }
    }
}

/// A serial executor on a dispatch queue of its own.
final class QueueExecutor: SerialExecutor, @unchecked Sendable {
    let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Lets `assumeIsolated` accept code that runs on the queue outside Swift concurrency.
    func checkIsolated() { dispatchPrecondition(condition: .onQueue(queue)) }
}
