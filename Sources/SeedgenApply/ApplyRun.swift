import Foundation
import SeedgenBuild
import SeedgenCore
import SeedgenHTTP
import SeedgenSpec

/// How `seedgen apply` reaches the node.
public struct ApplyOptions: Sendable {
    /// `https://host:8006`
    public var api: URL
    public var token: ProxmoxAPIToken
    /// SHA-256 of the node's certificate (`pvenode cert info`), instead of a CA.
    public var fingerprint: String?
    public var caFile: String?
    /// For VMs whose vm.yaml names no node.
    public var node: String?
    public var jobs: Int
    public var dryRun: Bool
    public var startVM: Bool
    /// The node fetches each cloud image itself from its URL (`download-url`, sha256 pinned)
    /// instead of this machine uploading it; needs Sys.AccessNetwork on the node.
    public var nodeDownloads = false
    /// Where vm.yaml paths are built first, as `seedgen build` does.
    public var build: BuildOptions

    public init(api: URL, token: ProxmoxAPIToken, build: BuildOptions) {
        self.api = api
        self.token = token
        var build = build
        build.extraChecks.append(Self.apiPathDiagnostics(for:))
        self.build = build
        jobs = build.jobs
        dryRun = false
        startVM = true
    }
}

extension ApplyOptions {
    /// What a vm.yaml asks for that the API path cannot do, positioned: snippets cannot be uploaded
    /// over Proxmox's API.
    public static func apiPathDiagnostics(for spec: VMSpec) -> [Diagnostic] {
        guard spec.cloudInit.mode == .snippets else { return [] }
        return [
            Diagnostic(
                at: spec.location(of: "cloud_init.mode"), keyPath: "cloud_init.mode",
                message: "snippets mode cannot be applied over the API: Proxmox's API cannot upload snippets",
                allowed: "cloud_init.mode: iso (seedgen's NoCloud ISO), or run the bundle's deploy.sh on the node")
        ]
    }
}

/// What `apply` did to one VM: a table row or JSON.
public struct ApplyVMOutcome: Sendable, Codable, Hashable {
    public var name: String
    public var vmid: Int
    public var node: String
    public var status: String
    public var directory: String
    public var tasks: [String]
    public var volumes: [String]
    public var drift: [String]
    public var error: String?
}

public struct ApplyReport: Sendable, Codable, Hashable {
    public var vms: [ApplyVMOutcome]
    /// `--dry-run`: the calls that would be made, secrets redacted.
    public var plannedCalls: [String]

    public var failed: Int { vms.filter { $0.status == "failed" }.count }

    public var table: String {
        var lines = ["VM               VMID  NODE        STATUS"]
        for vm in vms {
            lines.append(
                vm.name.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
                    + String(vm.vmid).padding(toLength: 5, withPad: " ", startingAt: 0) + " "
                    + vm.node.padding(toLength: 11, withPad: " ", startingAt: 0) + " " + vm.status)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `seedgen apply`: vm.yaml files (built first) and artifact directories, checked, preflighted
/// together, then created over the API with bounded concurrency.
public struct ApplyRun: Sendable {
    public let options: ApplyOptions
    public let log: @Sendable (String) -> Void

    public init(options: ApplyOptions, log: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
    }

    public func run(paths: [String]) async throws -> ApplyReport {
        var transportOptions = HTTPTransportOptions(caFile: options.caFile, pinnedFingerprint: options.fingerprint)
        transportOptions.proxies = try HTTPProxySettings.fromEnvironment(options.build.environment)
        let client = try ProxmoxHTTPClient(
            api: options.api, token: options.token, transport: try HTTPTransport(options: transportOptions),
            progress: options.build.progress)
        // The cluster's nodes are asked for before anything is built, so that a vm.yaml that names
        // no node where several are possible fails validation (positioned, exit 2) like any other
        // error in it. A connection that fails here fails again below, after validation ran.
        let listedNodes: [String]? = options.node == nil ? try? await clusterNodes(client) : nil
        var build = options.build
        if options.node == nil, let listedNodes {
            build.extraChecks.append { spec in Self.nodeDiagnostics(for: spec, clusterNodes: listedNodes) }
        }
        let directories = try await Self.artifactDirectories(paths, build: build, log: log)
        var artifacts = try directories.map { try AppliedArtifacts(directory: $0) }
        for index in artifacts.indices {
            Self.findImageInLocalCache(&artifacts[index], cache: options.build.cacheDirectory)
        }
        if let snippets = artifacts.first(where: { $0.plan.vm.cloudInitMode == .snippets }) {
            throw SeedgenError.runtime(
                message:
                    "\(snippets.plan.vm.name): cloud_init.mode snippets cannot be applied over the API (Proxmox's API "
                    + "cannot upload snippets)",
                hint: "use cloud_init.mode: iso, or run the bundle's deploy.sh on the node")
        }
        let nodes: [String]
        if let listedNodes { nodes = listedNodes } else { nodes = try await clusterNodes(client) }
        var targets: [ProxmoxApplyTarget] = []
        var unplaced: [Diagnostic] = []
        for (artifact, directory) in zip(artifacts, directories) {
            guard let node = artifact.plan.vm.node ?? options.node ?? (nodes.count == 1 ? nodes.first : nil) else {
                // An artifact directory has no vm.yaml to point into: its plan.json is named instead.
                unplaced.append(
                    Diagnostic(
                        at: nil, keyPath: "node",
                        message:
                            "\(directory.appendingPathComponent("plan.json").path) (\(artifact.plan.vm.name)) names no "
                            + "node,"
                            + " and the cluster has \(nodes.count): \(nodes.joined(separator: ", "))",
                        allowed: Self.nodeChoice(nodes)))
                continue
            }
            targets.append(ProxmoxApplyTarget(plan: artifact.plan, node: node, sshKeys: artifact.sshKeys))
        }
        if !unplaced.isEmpty { throw SeedgenError.invalidInput(unplaced) }
        let report = try await ProxmoxPreflight(
            client: client, tokenID: options.token.id, nodeDownloads: options.nodeDownloads
        ).run(targets)
        guard report.passed else { throw SeedgenError.runtime(message: report.text) }
        guard let version = report.version else { throw SeedgenError.runtime(message: "the node's version is unknown") }

        if options.dryRun {
            var planned: [String] = []
            for target in targets {
                let planner = ProxmoxAPIPlanner(
                    plan: target.plan, node: target.node, version: version, sshKeys: target.sshKeys,
                    nodeDownloads: options.nodeDownloads)
                let calls =
                    report.states[target.plan.vm.vmid] == .ours
                    ? [] : try planner.firstDeploymentCalls(startVM: options.startVM)
                planned += calls.map(\.redactedDescription)
            }
            return ApplyReport(vms: [], plannedCalls: planned)
        }

        let executor = ProxmoxApplyExecutor(
            client: client, startVM: options.startVM, nodeDownloads: options.nodeDownloads)
        try await executor.placeImages(Array(zip(targets, directories)), states: report.states, version: version)
        var outcomes: [ApplyVMOutcome?] = Array(repeating: nil, count: targets.count)
        try await withThrowingTaskGroup(of: (Int, ApplyVMOutcome).self) { group in
            var next = 0
            func start() {
                let index = next
                next += 1
                let target = targets[index]
                let directory = directories[index]
                let state = report.states[target.plan.vm.vmid] ?? .new
                group.addTask {
                    var outcome = ApplyVMOutcome(
                        name: target.plan.vm.name, vmid: target.plan.vm.vmid, node: target.node, status: "failed",
                        directory: directory.path, tasks: [], volumes: target.plan.files.compactMap(\.volume),
                        drift: [], error: nil)
                    do {
                        let done = try await executor.apply(
                            target, state: state, version: version, artifactDirectory: directory)
                        outcome.status = done.status.rawValue
                        outcome.tasks = done.tasks
                        outcome.drift = done.drift
                    } catch {
                        outcome.error = "\(error)"
                    }
                    return (index, outcome)
                }
            }
            for _ in 0..<min(max(1, options.jobs), targets.count) { start() }
            while let (index, outcome) = try await group.next() {
                outcomes[index] = outcome
                log("\(outcome.name): \(outcome.status)\(outcome.error.map { ": \($0)" } ?? "")")
                if next < targets.count { start() }
            }
        }
        return ApplyReport(vms: outcomes.compactMap { $0 }, plannedCalls: [])
    }

    /// An image left out of its artifact directory is uploaded from the cache path the build
    /// recorded; when this machine has no file there (the directory was built on another one),
    /// from this machine's own cache, where images are stored by their sha256. Proxmox checks the
    /// sha256 again inside the upload task.
    static func findImageInLocalCache(_ artifacts: inout AppliedArtifacts, cache: URL) {
        guard let index = artifacts.plan.files.firstIndex(where: { $0.role == .image && !$0.included }) else { return }
        let file = artifacts.plan.files[index]
        if let path = file.cachePath, FileManager.default.isReadableFile(atPath: path) { return }
        let local = cache.appendingPathComponent("sha256/\(file.sha256)")
        if FileManager.default.isReadableFile(atPath: local.path) { artifacts.plan.files[index].cachePath = local.path }
    }

    /// A vm.yaml without `node`, and no `--node`, is only valid for a single-node cluster: positioned
    /// where `node` would go (the top-level mapping).
    static func nodeDiagnostics(for spec: VMSpec, clusterNodes nodes: [String]) -> [Diagnostic] {
        guard spec.node == nil, nodes.count != 1 else { return [] }
        return [
            Diagnostic(
                at: spec.location(of: "node"), keyPath: "node",
                message:
                    "no node is named, and the cluster has \(nodes.count) nodes (\(nodes.joined(separator: ", "))): "
                    + "apply cannot choose one",
                allowed: nodeChoice(nodes))
        ]
    }

    private static func nodeChoice(_ nodes: [String]) -> String {
        "set node: to one of \(nodes.joined(separator: ", ")) in the vm.yaml, or pass --node NAME"
    }

    /// Artifact directories as given, and vm.yaml files built with `build` first.
    static func artifactDirectories(
        _ paths: [String], build options: BuildOptions, log: @escaping @Sendable (String) -> Void
    ) async throws -> [URL] {
        var directories: [URL] = []
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                directories.append(URL(fileURLWithPath: path))
            } else {
                files.append(path)
            }
        }
        guard !files.isEmpty else { return directories }
        let build = try await ArtifactPipeline(options: options, log: log).build(files: files)
        if build.failed > 0 {
            throw SeedgenError.runtime(
                message: build.vms.compactMap { vm in vm.error.map { "\(vm.name): \($0)" } }.joined(separator: "\n"))
        }
        return directories + build.vms.compactMap { $0.directory.map { URL(fileURLWithPath: $0) } }
    }

    private func clusterNodes(_ client: any ProxmoxAPIClient) async throws -> [String] {
        let nodes = try await client.get("/nodes", [:]) as? [[String: Any]] ?? []
        return nodes.compactMap { $0["node"] as? String }.sorted()
    }
}

/// `seedgen apply --print-grants`: what the token needs for these VMs, as `pveum` commands, without
/// asking the node anything.
public enum ApplyGrants {
    public static func commands(
        paths: [String], build: BuildOptions, node: String?, tokenID: String, nodeDownloads: Bool = false
    ) async throws -> [String] {
        var build = build
        build.extraChecks.append(ApplyOptions.apiPathDiagnostics(for:))
        let directories = try await ApplyRun.artifactDirectories(paths, build: build, log: { _ in })
        var needs: [ProxmoxPrivilegeNeed] = []
        for directory in directories {
            let artifacts = try AppliedArtifacts(directory: directory)
            let target = ProxmoxApplyTarget(
                plan: artifacts.plan, node: artifacts.plan.vm.node ?? node ?? "NODE", sshKeys: artifacts.sshKeys)
            needs += try ProxmoxPrivileges.needs(
                for: target, version: ProxmoxAPIPlanner.minimumPVE, nodeDownloads: nodeDownloads)
        }
        return ProxmoxPrivileges.grantCommands(ProxmoxPrivileges.merged(needs), tokenID: tokenID)
    }
}

/// Where `apply` takes its connection from: flags, then the environment; the token never from argv.
public enum ApplyCommandInputs {
    public static func token(file: String?, environment: [String: String]) throws -> ProxmoxAPIToken {
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SeedgenError.runtime(
                    message: "cannot read the token file \(file)", hint: "it holds one line: USER@REALM!TOKENID=SECRET")
            }
            return try ProxmoxAPIToken(parsing: text, source: "the token file \(file)")
        }
        guard let text = environment["PVE_API_TOKEN"], !text.isEmpty else {
            throw SeedgenError.usage(
                "no API token: set PVE_API_TOKEN=USER@REALM!TOKENID=SECRET or pass --token-file FILE (never on the "
                    + "command line)"
            )
        }
        return try ProxmoxAPIToken(parsing: text, source: "PVE_API_TOKEN")
    }

    public static func api(_ flag: String?, environment: [String: String]) throws -> URL {
        guard let text = flag ?? environment["PVE_API_URL"], !text.isEmpty else {
            throw SeedgenError.usage("no API address: pass --api https://HOST:8006 or set PVE_API_URL")
        }
        guard let url = URL(string: text) else { throw SeedgenError.usage("--api \(text) is not a URL") }
        return url
    }
}
