import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenSpec

/// One VM to apply: its bundle plan and the node it goes to.
public struct ProxmoxApplyTarget: Sendable {
    public var plan: BundlePlan
    public var node: String
    /// pve mode: the `sshkeys` file's text.
    public var sshKeys: String?

    public init(plan: BundlePlan, node: String, sshKeys: String? = nil) {
        self.plan = plan
        self.node = node
        self.sshKeys = sshKeys
    }
}

/// What the preflight found, for every VM at once. Nothing was changed on the node.
public struct ProxmoxPreflightReport: Sendable {
    public enum VMState: String, Sendable {
        /// The VMID is free: a first deployment.
        case new
        /// The VMID holds the VM seedgen made for this vm.yaml (its marker is in the description).
        case ours
    }

    public var version: (major: Int, minor: Int)?
    public var problems: [String]
    /// Privileges the token lacks, per path, and the `pveum` commands that grant them.
    public var missingPrivileges: [ProxmoxPrivilegeNeed]
    public var grantCommands: [String]
    public var states: [Int: VMState]

    public var passed: Bool { problems.isEmpty && missingPrivileges.isEmpty }

    /// The report as a person reads it: every problem, then the grants.
    public var text: String {
        var lines: [String] = []
        if !problems.isEmpty || !missingPrivileges.isEmpty {
            lines.append(
                "the preflight found \(problems.count + missingPrivileges.count) problem(s); nothing was changed:")
        }
        lines += problems.map { "  - \($0)" }
        for need in missingPrivileges {
            lines.append(
                "  - the token lacks \(need.privileges.joined(separator: ", ")) on \(need.path) (to "
                    + "\(need.reasons.joined(separator: "; ")))"
            )
        }
        if !grantCommands.isEmpty {
            lines.append(
                "an administrator can grant exactly these to the token and its user (a privilege-separated token gets "
                    + "the intersection of both):"
            )
            lines += grantCommands.map { "    \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}

/// Read-only checks before `apply` changes anything, every problem of every VM in one report:
/// the node's version, the node, each storage and its content types, each VMID, and the token's
/// effective privileges for every call the plan will make.
public struct ProxmoxPreflight: Sendable {
    public let client: any ProxmoxAPIClient
    /// The token id (`USER@REALM!NAME`) the grant commands are written for; never the secret.
    public let tokenID: String
    public let nodeDownloads: Bool

    public init(client: any ProxmoxAPIClient, tokenID: String, nodeDownloads: Bool = false) {
        self.client = client
        self.tokenID = tokenID
        self.nodeDownloads = nodeDownloads
    }

    public func run(_ targets: [ProxmoxApplyTarget]) async throws -> ProxmoxPreflightReport {
        var report = ProxmoxPreflightReport(
            version: nil, problems: [], missingPrivileges: [], grantCommands: [], states: [:])
        let version = try await nodeVersion()
        report.version = version
        do {
            try ProxmoxAPIPlanner.checkVersion(version)
        } catch let error as SeedgenError {
            report.problems.append(error.description)
            return report
        }

        let nodes = Set(try await listed("/nodes", [:]).compactMap { $0["node"] as? String })
        var needs: [ProxmoxPrivilegeNeed] = []
        var storagesByNode: [String: [String: [String: Any]]] = [:]
        for target in targets {
            let plan = target.plan
            let vmid = plan.vm.vmid
            guard nodes.contains(target.node) else {
                report.problems.append(
                    "VM \(vmid) (\(plan.vm.name)): node '\(target.node)' is not in the cluster (nodes: "
                        + "\(nodes.sorted().joined(separator: ", ")))"
                )
                continue
            }
            let state = try await vmState(plan, node: target.node)
            if let state {
                report.states[vmid] = state
            } else {
                report.problems.append(
                    "VMID \(vmid) is already taken by a VM that seedgen did not create for \(plan.vm.name): choose a "
                        + "free VMID in vm.yaml and rebuild, or remove that VM"
                )
            }
            if storagesByNode[target.node] == nil {
                storagesByNode[target.node] = try await storages(on: target.node)
            }
            report.problems += storageProblems(plan, state: state ?? .new, storages: storagesByNode[target.node] ?? [:])
            do {
                needs += try ProxmoxPrivileges.needs(for: target, version: version, nodeDownloads: nodeDownloads)
            } catch SeedgenError.runtime(let message, let hint, _) {
                report.problems.append(message + (hint.map { " (\($0))" } ?? ""))
            }
        }
        let merged = ProxmoxPrivileges.merged(needs)
        var granted: [String: Set<String>] = [:]
        for need in merged {
            granted[need.path] = try await permissions(need.path)
        }
        // download-url also accepts the older Sys.Audit + Sys.Modify on / in place of Sys.AccessNetwork.
        let downloadNodes = merged.filter {
            $0.path.hasPrefix("/nodes/") && $0.privileges.contains("Sys.AccessNetwork")
        }
        if !downloadNodes.isEmpty, try await permissions("/").isSuperset(of: ["Sys.Audit", "Sys.Modify"]) {
            for need in downloadNodes { granted[need.path, default: []].insert("Sys.AccessNetwork") }
        }
        report.missingPrivileges = ProxmoxPrivileges.missing(merged, granted: granted)
        if !report.missingPrivileges.isEmpty {
            report.grantCommands = ProxmoxPrivileges.grantCommands(merged, tokenID: tokenID)
        }
        return report
    }

    /// The token's effective privileges on `path` (`GET /access/permissions?path=…`).
    private func permissions(_ path: String) async throws -> Set<String> {
        let answer = try await client.get("/access/permissions", [:], [.init("path", path)]) as? [String: Any]
        return Set(((answer?[path] as? [String: Any]) ?? [:]).keys)
    }

    private func nodeVersion() async throws -> (major: Int, minor: Int) {
        let data = try await client.get("/version", [:]) as? [String: Any]
        let text = (data?["release"] as? String) ?? (data?["version"] as? String) ?? ""
        let parts = text.split(separator: ".").prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else {
            throw SeedgenError.runtime(message: "cannot read the Proxmox VE version from GET /version: '\(text)'")
        }
        return (parts[0], parts[1])
    }

    private func listed(_ endpoint: String, _ pathValues: [String: String]) async throws -> [[String: Any]] {
        (try await client.get(endpoint, pathValues) as? [[String: Any]]) ?? []
    }

    /// nil: the VMID holds a VM that is not ours.
    private func vmState(_ plan: BundlePlan, node: String) async throws -> ProxmoxPreflightReport.VMState? {
        let vmid = String(plan.vm.vmid)
        let free = try await client.send(
            ProxmoxAPICall(
                .get, "/cluster/nextid", [:], parameters: [.init("vmid", vmid)], startsTask: false, stepID: "preflight"),
            artifactDirectory: nil)
        if free.status == 200 { return .new }
        let config = try await client.send(
            ProxmoxAPICall(
                .get, "/nodes/{node}/qemu/{vmid}/config", ["node": node, "vmid": vmid], startsTask: false,
                stepID: "preflight"),
            artifactDirectory: nil)
        guard config.status == 200, let values = try config.data() as? [String: Any] else { return nil }
        // The API returns the description as stored (not URL-encoded as `qm config` prints it).
        let description = values["description"] as? String ?? ""
        return description.contains(plan.vm.markerPrefix) ? .ours : nil
    }

    private func storages(on node: String) async throws -> [String: [String: Any]] {
        var byID: [String: [String: Any]] = [:]
        for entry in try await listed("/nodes/{node}/storage", ["node": node]) {
            if let id = entry["storage"] as? String { byID[id] = entry }
        }
        return byID
    }

    /// The plan's storages with the content types the API path needs: `import` for the image (the
    /// API always imports from import storage), the others as the plan says.
    private func storageProblems(
        _ plan: BundlePlan, state: ProxmoxPreflightReport.VMState, storages: [String: [String: Any]]
    ) -> [String] {
        var problems: [String] = []
        for need in plan.storages {
            if state == .ours && !need.neededOnRerun { continue }
            if need.belowPVE != nil { continue }
            guard let entry = storages[need.storage] else {
                problems.append(
                    "storage '\(need.storage)' (for the \(need.purpose) of VM \(plan.vm.vmid)) does not exist on the "
                        + "node, or the token may not see it (Datastore.Audit)"
                )
                continue
            }
            let enabled = (entry["enabled"] as? Int ?? 1) == 1
            let active = (entry["active"] as? Int ?? 1) == 1
            let contents = Set(((entry["content"] as? String) ?? "").split(separator: ",").map(String.init))
            if !enabled {
                problems.append(
                    "storage '\(need.storage)' (for the \(need.purpose)) is disabled: pvesm set \(need.storage) "
                        + "--disable 0"
                )
            } else if !active {
                problems.append(
                    "storage '\(need.storage)' (for the \(need.purpose)) is not active: check that it is mounted and "
                        + "reachable"
                )
            } else if !contents.contains(need.content) {
                let list = (contents.union([need.content])).sorted().joined(separator: ",")
                problems.append(
                    "storage '\(need.storage)' (for the \(need.purpose)) does not allow content '\(need.content)'; "
                        + "allow it, keeping its current types: pvesm set \(need.storage) --content \(list)"
                )
            }
        }
        return problems
    }
}
