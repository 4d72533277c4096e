import Foundation
import SeedgenBundle
import SeedgenCore

/// What applying one VM did.
public struct ProxmoxApplyOutcome: Sendable {
    public enum Status: String, Sendable {
        case created
        case seedSwapped = "seed-swapped"
        /// It existed but was stopped (a run cut off before the start): started.
        case started
        case unchanged
    }

    public var status: Status
    /// Task ids in the order they ran.
    public var tasks: [String]
    /// Files that were already on the node and not sent again.
    public var skippedUploads: [String]
    /// Hardware that differs from the plan: reported, never applied (as deploy.sh does).
    public var drift: [String]
}

/// Carries out the calls of `ProxmoxAPIPlanner` after a preflight passed: waits for every task and
/// stops at the first that fails, with the task log's last lines. Re-runs are safe: a VM seedgen
/// made for this vm.yaml only gets a changed seed swapped in; a file already on the node with the
/// same name and size is not sent again, so an interrupted run completes on the next one.
public struct ProxmoxApplyExecutor: Sendable {
    public let client: any ProxmoxAPIClient
    /// Between task status polls.
    public let pollInterval: Duration
    public let startVM: Bool
    /// `--node-downloads`: the node fetches the cloud image itself (`download-url`).
    public let nodeDownloads: Bool

    public init(
        client: any ProxmoxAPIClient, pollInterval: Duration = .milliseconds(500), startVM: Bool = true,
        nodeDownloads: Bool = false
    ) {
        self.client = client
        self.pollInterval = pollInterval
        self.startVM = startVM
        self.nodeDownloads = nodeDownloads
    }

    private func planner(_ target: ProxmoxApplyTarget, _ version: (major: Int, minor: Int)) -> ProxmoxAPIPlanner {
        ProxmoxAPIPlanner(
            plan: target.plan, node: target.node, version: version, sshKeys: target.sshKeys,
            nodeDownloads: nodeDownloads)
    }

    public func apply(
        _ target: ProxmoxApplyTarget, state: ProxmoxPreflightReport.VMState, version: (major: Int, minor: Int),
        artifactDirectory: URL
    ) async throws -> ProxmoxApplyOutcome {
        let planner = planner(target, version)
        var outcome = ProxmoxApplyOutcome(status: .created, tasks: [], skippedUploads: [], drift: [])
        switch state {
        case .new:
            try await run(try planner.firstDeploymentCalls(startVM: startVM), target, artifactDirectory, &outcome)
        case .ours:
            let config = try await currentConfig(target)
            outcome.drift = drift(target.plan, config)
            let seedKey = target.plan.rerun.seedKey
            let current = seedKey.flatMap { config[$0] } ?? ""
            let expected = target.plan.rerun.expectedSeed ?? ""
            if seedKey == nil || current == expected || current.hasPrefix(expected + ",") {
                outcome.status = .unchanged
            } else {
                let oldVolume = String(current.prefix { $0 != "," })
                var calls = try planner.seedSwapCalls(oldSeedVolume: oldVolume)
                if oldVolume.isEmpty || oldVolume == expected { calls.removeAll { $0.method == .delete } }
                try await run(calls, target, artifactDirectory, &outcome)
                outcome.status = .seedSwapped
            }
            // A run cut off after the create gets the VM started here.
            if startVM, try await !isRunning(target) {
                let start = ProxmoxAPICall(
                    .post, "/nodes/{node}/qemu/{vmid}/status/start",
                    ["node": target.node, "vmid": String(target.plan.vm.vmid)],
                    startsTask: true, stepID: "start-vm")
                try await run([start], target, artifactDirectory, &outcome)
                if outcome.status == .unchanged { outcome.status = .started }
            }
        }
        return outcome
    }

    /// Puts each distinct cloud image of `targets` that go to new VMs into its node's import storage,
    /// one at a time, before the VMs are applied in parallel: VMs that share an image share one upload.
    public func placeImages(
        _ targets: [(target: ProxmoxApplyTarget, directory: URL)], states: [Int: ProxmoxPreflightReport.VMState],
        version: (major: Int, minor: Int)
    ) async throws {
        var placed: Set<String> = []
        for (target, directory) in targets where (states[target.plan.vm.vmid] ?? .new) == .new {
            for call in try planner(target, version).firstDeploymentCalls() where call.placedFile?.role == .image {
                let key = "\(target.node)|\(call.pathValues["storage"] ?? "")|\(call.placedFile?.storedName ?? "")"
                guard placed.insert(key).inserted else { continue }
                var outcome = ProxmoxApplyOutcome(status: .created, tasks: [], skippedUploads: [], drift: [])
                try await run([call], target, directory, &outcome)
            }
        }
    }

    private func run(
        _ calls: [ProxmoxAPICall], _ target: ProxmoxApplyTarget, _ artifactDirectory: URL,
        _ outcome: inout ProxmoxApplyOutcome
    ) async throws {
        for call in calls {
            if let file = call.placedFile, try await alreadyStored(call, file) {
                outcome.skippedUploads.append(file.storedName)
                continue
            }
            if let upload = call.upload {
                let location = upload.location(in: artifactDirectory)
                guard FileManager.default.isReadableFile(atPath: location.path) else {
                    throw SeedgenError.runtime(
                        message:
                            "VM \(target.plan.vm.vmid): \(upload.source) is neither in \(artifactDirectory.path), nor "
                            + "in this machine's image cache, nor on the node",
                        hint: upload.role == .image
                            ? Self.imageSourceHint(target.plan) : "copy the artifact directory again")
                }
            }
            let response: ProxmoxAPIResponse
            do {
                response = try await client.send(call, artifactDirectory: artifactDirectory)
            } catch {
                // The network failed under this call: say which step of which VM, and that a re-run resumes.
                throw SeedgenError.runtime(
                    message:
                        "VM \(target.plan.vm.vmid): \(call.method.rawValue) \(call.path) (\(call.stepID)) failed: "
                        + "\(error)",
                    hint:
                        "nothing after this step was done; run seedgen apply again to complete it (finished steps are "
                        + "not repeated)"
                )
            }
            guard response.status == 200 else {
                throw SeedgenError.runtime(
                    message: "VM \(target.plan.vm.vmid): \(call.redactedDescription): \(response.errorMessage)",
                    hint: ProxmoxAPIHints.hint(for: response.status))
            }
            if call.stepID == "confirm-disk-size" {
                try confirmDiskSize(target.plan, try response.data() as? [String: Any] ?? [:])
            }
            guard call.startsTask, let upid = try response.data() as? String else { continue }
            outcome.tasks.append(upid)
            try await wait(for: upid, node: target.node, call: call, vmid: target.plan.vm.vmid)
        }
    }

    /// Which command provides an image that is nowhere apply can take it from.
    static func imageSourceHint(_ plan: BundlePlan) -> String {
        var ways = [
            "rebuild the directory with seedgen build --include-image",
            "fetch the image into this machine's cache with seedgen image fetch (or seedgen image import FILE)",
        ]
        if let url = plan.file(role: .image)?.url {
            ways.append("let the node download it from \(url) with seedgen apply --node-downloads")
        }
        return ways.joined(separator: "; or ")
    }

    /// A file of the stored name and the same size is already in the storage (the API lists no
    /// checksums; names carry the content's hash, so the name and size identify it).
    private func alreadyStored(_ call: ProxmoxAPICall, _ upload: ProxmoxAPICall.Upload) async throws -> Bool {
        guard let storage = call.pathValues["storage"],
            let content = call.parameters.first(where: { $0.name == "content" })?.value
        else {
            return false
        }
        let entries =
            try await client.get(
                "/nodes/{node}/storage/{storage}/content", ["node": call.pathValues["node"] ?? "", "storage": storage],
                [.init("content", content)]) as? [[String: Any]] ?? []
        let volume = "\(storage):\(content)/\(upload.storedName)"
        return entries.contains {
            ($0["volid"] as? String) == volume && ($0["size"] as? Int).map(UInt64.init) == upload.size
        }
    }

    private func wait(for upid: String, node: String, call: ProxmoxAPICall, vmid: Int) async throws {
        // The task runs on the node its UPID names.
        let taskNode =
            upid.split(separator: ":", omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? node
        while true {
            let status =
                try await client.get("/nodes/{node}/tasks/{upid}/status", ["node": taskNode, "upid": upid])
                as? [String: Any] ?? [:]
            guard (status["status"] as? String) == "stopped" else {
                try await Task.sleep(for: pollInterval)
                continue
            }
            let exit = status["exitstatus"] as? String ?? ""
            if exit == "OK" || exit.hasPrefix("WARNINGS") { return }
            let log =
                try await client.get("/nodes/{node}/tasks/{upid}/log", ["node": taskNode, "upid": upid])
                as? [[String: Any]] ?? []
            let tail = log.suffix(5).compactMap { $0["t"] as? String }
            throw SeedgenError.runtime(
                message: "VM \(vmid): the task of \(call.method.rawValue) \(call.path) failed: \(exit)",
                hint: "task \(upid); its log ends: \(tail.joined(separator: " | "))",
                cause: nil)
        }
    }

    private func isRunning(_ target: ProxmoxApplyTarget) async throws -> Bool {
        let status =
            try await client.get(
                "/nodes/{node}/qemu/{vmid}/status/current", ["node": target.node, "vmid": String(target.plan.vm.vmid)])
            as? [String: Any]
        return (status?["status"] as? String) == "running"
    }

    private func currentConfig(_ target: ProxmoxApplyTarget) async throws -> [String: String] {
        let data =
            try await client.get(
                "/nodes/{node}/qemu/{vmid}/config", ["node": target.node, "vmid": String(target.plan.vm.vmid)])
            as? [String: Any] ?? [:]
        return data.compactMapValues { value in
            if let text = value as? String { return text }
            if let number = value as? NSNumber { return number.stringValue }
            return nil
        }
    }

    /// The resize task can succeed without the disk growing (deploy.sh checks the same): read it back.
    private func confirmDiskSize(_ plan: BundlePlan, _ config: [String: Any]) throws {
        let disk = plan.vm.bootDisk
        let value = config[disk] as? String ?? ""
        guard value.split(separator: ",").contains(Substring("size=\(plan.vm.bootDiskConfigSize)")) else {
            throw SeedgenError.runtime(
                message: "VM \(plan.vm.vmid): disk \(disk) is '\(value)', expected size=\(plan.vm.bootDiskConfigSize)",
                hint: "the VM exists but was not started; resize the disk in the web interface, then start the VM")
        }
    }

    private func drift(_ plan: BundlePlan, _ config: [String: String]) -> [String] {
        plan.rerun.driftChecks.compactMap { check in
            let actual = config[check.key] ?? ""
            let matches = check.match == .contains ? actual.contains(check.expected) : actual == check.expected
            return matches
                ? nil : "\(check.key) is '\(actual)' on the node, the plan has '\(check.expected)' (not applied)"
        }
    }
}
