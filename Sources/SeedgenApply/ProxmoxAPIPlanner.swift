import Foundation
import SeedgenBundle
import SeedgenCore

/// Turns the bundle plan (the one deploy.sh is written from) into the Proxmox API calls of a first
/// deployment, step by step, so that both executors create the same VM: the same options, marker,
/// seed file name and MACs.
public struct ProxmoxAPIPlanner: Sendable {
    /// Image import by volume id from `import` storage with a qcow2/raw/vmdk file needs PVE 8.4;
    /// before it, only root@pam could import (an absolute path), which no API token is.
    public static let minimumPVE = (major: 8, minor: 4)

    public let plan: BundlePlan
    public let node: String
    /// The node's Proxmox VE version (`GET /version`), for options the plan adds from a version on.
    public let version: (major: Int, minor: Int)
    /// pve mode: the keys file's text (`sshkeys` in the artifact directory).
    public let sshKeys: String?
    /// `--node-downloads`: the node fetches the cloud image from its URL (`download-url`, with the
    /// pinned sha256) instead of this machine uploading it.
    public let nodeDownloads: Bool

    public init(
        plan: BundlePlan, node: String, version: (major: Int, minor: Int), sshKeys: String? = nil,
        nodeDownloads: Bool = false
    ) {
        self.plan = plan
        self.node = node
        self.version = version
        self.sshKeys = sshKeys
        self.nodeDownloads = nodeDownloads
    }

    /// The calls of a first deployment, in plan order. `startVM: false` leaves out the start (as
    /// deploy.sh's `--no-start`).
    public func firstDeploymentCalls(startVM: Bool = true) throws -> [ProxmoxAPICall] {
        try Self.checkVersion(version)
        var calls: [ProxmoxAPICall] = []
        for step in plan.steps {
            switch step.kind {
            case .placeFile:
                guard let role = step.fileRole, let file = plan.file(role: role) else {
                    throw SeedgenError.runtime(message: "apply: plan step \(step.id) names no file of the plan")
                }
                calls.append(try upload(file, stepID: step.id))
            case .createVM:
                calls.append(
                    ProxmoxAPICall(
                        .post, "/nodes/{node}/qemu", ["node": node],
                        parameters: [.init("vmid", String(plan.vm.vmid))] + (try parameters(of: step)),
                        startsTask: true, stepID: step.id))
            case .updateVM, .setPassword:
                calls.append(configUpdate(step, parameters: try parameters(of: step)))
            case .resizeDisk:
                // `qm disk resize VMID DISK SIZE`: the last two words.
                let words = step.command.compactMap(\.literalValue)
                guard words.count >= 2 else {
                    throw SeedgenError.runtime(message: "apply: plan step \(step.id) has no disk and size")
                }
                calls.append(
                    ProxmoxAPICall(
                        .put, "/nodes/{node}/qemu/{vmid}/resize", vmPath,
                        parameters: [.init("disk", words[words.count - 2]), .init("size", words[words.count - 1])],
                        startsTask: true, stepID: step.id))
            case .confirmDiskSize:
                calls.append(
                    ProxmoxAPICall(.get, "/nodes/{node}/qemu/{vmid}/config", vmPath, startsTask: false, stepID: step.id)
                )
            case .startVM:
                guard startVM else { continue }
                calls.append(
                    ProxmoxAPICall(
                        .post, "/nodes/{node}/qemu/{vmid}/status/start", vmPath, startsTask: true, stepID: step.id))
            }
        }
        return calls
    }

    /// A re-run whose seed changed from `oldSeedVolume` (what the VM's seed drive holds): upload the
    /// new seed, attach it (the plan's seed update), then remove the old one.
    public func seedSwapCalls(oldSeedVolume: String) throws -> [ProxmoxAPICall] {
        try Self.checkVersion(version)
        guard let update = plan.rerun.seedUpdate else { return [] }
        var calls: [ProxmoxAPICall] = []
        for role in plan.rerun.seedFileRoles {
            guard let file = plan.file(role: role) else { continue }
            calls.append(try upload(file, stepID: "place-\(role.rawValue)"))
        }
        calls.append(configUpdate(update, parameters: try parameters(of: update)))
        let oldStorage = String(oldSeedVolume.prefix { $0 != ":" })
        calls.append(
            ProxmoxAPICall(
                .delete, "/nodes/{node}/storage/{storage}/content/{volume}",
                ["node": node, "storage": oldStorage, "volume": oldSeedVolume], startsTask: true,
                stepID: "remove-old-seed"))
        return calls
    }

    static func checkVersion(_ version: (major: Int, minor: Int)) throws {
        let minimum = minimumPVE
        guard version.major > minimum.major || (version.major == minimum.major && version.minor >= minimum.minor) else {
            throw SeedgenError.runtime(
                message: "Proxmox VE \(version.major).\(version.minor) cannot import a cloud image over the API"
                    + " (that needs \(minimum.major).\(minimum.minor) or newer: before it only root@pam could import,"
                    + " and an API token is never root@pam)",
                hint: "upgrade the node, or run the bundle's deploy.sh on the node as root")
        }
    }

    private var vmPath: [String: String] { ["node": node, "vmid": String(plan.vm.vmid)] }

    private func configUpdate(_ step: BundleStep, parameters: [ProxmoxAPICall.Parameter]) -> ProxmoxAPICall {
        // POST is the asynchronous form of the config update: it returns a task for disk changes.
        ProxmoxAPICall(
            .post, "/nodes/{node}/qemu/{vmid}/config", vmPath, parameters: parameters, startsTask: true, stepID: step.id
        )
    }

    private func upload(_ file: BundlePlanFile, stepID: String) throws -> ProxmoxAPICall {
        guard let storage = file.storage, let volume = file.volume else {
            throw SeedgenError.runtime(message: "apply: \(file.source) has no target storage in the plan")
        }
        let content: String
        switch file.role {
        case .image: content = "import"
        case .seedISO: content = "iso"
        case .userSnippet, .networkSnippet, .metaSnippet, .vendorSnippet:
            throw SeedgenError.runtime(
                message:
                    "cloud_init.mode snippets cannot be applied over the API: Proxmox's API cannot upload snippets",
                hint: "use cloud_init.mode: iso (seedgen's NoCloud ISO) or pve, or run deploy.sh on the node")
        case .sshKeys:
            throw SeedgenError.runtime(message: "apply: the sshkeys file is passed as an option, not uploaded")
        }
        // The volume is `<storage>:<content dir>/<name>`; its name is already Proxmox-safe.
        let storedName = String(volume.split(separator: "/", maxSplits: 1).last ?? "")
        guard storedName == ProxmoxAPIEncoding.normalizedUploadName(storedName) else {
            throw SeedgenError.runtime(message: "apply: \(storedName) would be renamed by Proxmox's upload")
        }
        if file.role == .image && nodeDownloads {
            return try download(file, storage: storage, storedName: storedName, stepID: stepID)
        }
        return ProxmoxAPICall(
            .post, "/nodes/{node}/storage/{storage}/upload", ["node": node, "storage": storage],
            parameters: [
                .init("content", content), .init("checksum-algorithm", "sha256"), .init("checksum", file.sha256),
            ],
            // An image left out of the directory (no --include-image) is sent from the build machine's cache.
            upload: .init(
                role: file.role, source: file.included ? file.source : (file.cachePath ?? file.source),
                storedName: storedName,
                sha256: file.sha256, size: file.size),
            startsTask: true, stepID: stepID)
    }

    /// `POST …/download-url` (pve-storage `API2/Storage/Status.pm`): the node fetches `url` itself
    /// into the import storage under the same content-addressed name an upload would use, and its
    /// task verifies the pinned sha256 before the file is kept.
    private func download(_ file: BundlePlanFile, storage: String, storedName: String, stepID: String) throws
        -> ProxmoxAPICall
    {
        guard let url = file.url else {
            throw SeedgenError.runtime(
                message:
                    "VM \(plan.vm.vmid) (\(plan.vm.name)): --node-downloads needs the image's URL, and this image came "
                    + "from a local file",
                hint:
                    "drop --node-downloads for this VM (its image is uploaded from here), or give the vm.yaml a "
                    + "catalog image or image.url"
            )
        }
        return ProxmoxAPICall(
            .post, "/nodes/{node}/storage/{storage}/download-url", ["node": node, "storage": storage],
            parameters: [
                .init("url", url), .init("content", "import"), .init("filename", storedName),
                .init("checksum-algorithm", "sha256"), .init("checksum", file.sha256),
            ],
            download: .init(role: file.role, source: url, storedName: storedName, sha256: file.sha256, size: file.size),
            startsTask: true, stepID: stepID)
    }

    /// The step's options as API parameters: the options the node's version takes, with the values
    /// deploy.sh finds on the node filled in from the plan.
    private func parameters(of step: BundleStep) throws -> [ProxmoxAPICall.Parameter] {
        var parameters: [ProxmoxAPICall.Parameter] = []
        for option in step.options {
            if let minimum = option.minimumPVE, !Self.version(version, isAtLeast: minimum) { continue }
            let value = try resolve(option.value, key: option.key)
            parameters.append(.init(option.key, value, secret: option.key == "cipassword"))
        }
        return parameters
    }

    private func resolve(_ argument: BundleArgument, key: String) throws -> String {
        if let literal = argument.literalValue { return literal }
        if key == "sshkeys" {
            // qm reads the keys file and sends it URL-encoded; the API takes the encoded text.
            guard let sshKeys else {
                throw SeedgenError.runtime(message: "apply: the plan passes sshkeys, and no keys file was read")
            }
            return ProxmoxAPIEncoding.percentEncoded(sshKeys)
        }
        return try argument.parts.map { part -> String in
            switch part {
            case .literal(let text): return text
            case .variable(.importSource):
                // From PVE 8.3 on deploy.sh imports from the import volume; the API always does.
                guard let volume = plan.file(role: .image)?.volume else {
                    throw SeedgenError.runtime(message: "apply: \(key) imports an image, and the plan has none")
                }
                return volume
            case .variable(.artifactDirectory):
                throw SeedgenError.runtime(
                    message: "apply: \(key) names a file in the artifact directory, which the node cannot read")
            }
        }.joined()
    }

    static func version(_ version: (major: Int, minor: Int), isAtLeast text: String) -> Bool {
        let parts = text.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return version.major > parts[0] || (version.major == parts[0] && version.minor >= parts[1])
    }
}
