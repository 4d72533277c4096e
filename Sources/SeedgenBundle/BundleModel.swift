import Foundation
import SeedgenNoCloud

/// What the build stage produced that the bundle needs to know about.
public struct BundleInputs: Sendable, Hashable {
    /// iso mode: `seedgen-<vmid>-<hash8>.iso` in the artifact directory.
    public var seedISO: BundleFile?
    /// snippets mode: `user-data`, `network-config`, `meta-data` (and `vendor-data`) in the artifact directory.
    public var snippets: [BundleFile]
    /// nil: the boot disk is a new empty disk of `hardware.disk.size`.
    public var image: BundleImage?
    /// pve mode: the keys file passed to `qm --sshkeys` (bytes from `ProxmoxBundle.pveSSHKeysFile(for:)`).
    public var sshKeysFile: BundleFile?

    public init(
        seedISO: BundleFile? = nil, snippets: [BundleFile] = [], image: BundleImage? = nil,
        sshKeysFile: BundleFile? = nil
    ) {
        self.seedISO = seedISO
        self.snippets = snippets
        self.image = image
        self.sshKeysFile = sshKeysFile
    }
}

/// A file in the artifact directory, named relative to it.
public struct BundleFile: Sendable, Codable, Hashable {
    public var name: String
    public var sha256: String
    public var size: UInt64

    public init(name: String, sha256: String, size: UInt64) {
        self.name = name
        self.sha256 = sha256
        self.size = size
    }
}

/// The verified cloud image the boot disk is imported from.
public struct BundleImage: Sendable, Codable, Hashable {
    public var fileName: String
    public var sha256: String
    public var size: UInt64
    /// `qcow2` or `raw` (what `qemu-img info` says, not the file name: Ubuntu's `.img` files are qcow2).
    public var format: String
    public var virtualSize: UInt64
    /// True when the artifact directory holds `image/<fileName>`.
    public var included: Bool
    /// Where the image sits in the build machine's cache (deploy.sh tries it when it exists on the node).
    public var cachePath: String?
    /// The http(s) URL the verified bytes came from (nil for a local file): where `apply
    /// --node-downloads` lets the node fetch it, with the pinned sha256.
    public var url: String?

    public init(
        fileName: String, sha256: String, size: UInt64, format: String, virtualSize: UInt64, included: Bool,
        cachePath: String? = nil, url: String? = nil
    ) {
        self.fileName = fileName
        self.sha256 = sha256
        self.size = size
        self.format = format
        self.virtualSize = virtualSize
        self.included = included
        self.cachePath = cachePath
        self.url = url
    }
}

/// Values deploy.sh only knows on the node; plan.json names them instead of guessing.
public enum BundleVariable: String, Sendable, Codable, Hashable, CaseIterable {
    /// The image's import volume (PVE ≥ 8.3) or the absolute path `pvesm path` gave (older nodes).
    case importSource = "IMPORT_SOURCE"
    /// The absolute path of the artifact directory (where deploy.sh lives).
    case artifactDirectory = "ARTIFACT_DIR"
}

/// One shell word: literal text, possibly joined with values known only on the node.
/// plan.json encodes a purely literal word as a JSON string, anything else as
/// `{"parts": ["text", {"variable": "IMPORT_SOURCE"}, …]}`.
public struct BundleArgument: Sendable, Hashable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case variable(BundleVariable)
    }

    public var parts: [Part]

    public init(_ literal: String) { parts = [.literal(literal)] }

    /// Adjacent literals are joined and empty ones dropped, so equal words compare equal.
    public init(parts: [Part]) {
        var merged: [Part] = []
        for part in parts {
            if case .literal(let text) = part {
                if text.isEmpty { continue }
                if case .literal(let previous)? = merged.last {
                    merged[merged.count - 1] = .literal(previous + text)
                    continue
                }
            }
            merged.append(part)
        }
        self.parts = merged.isEmpty ? [.literal("")] : merged
    }
    public init(stringLiteral value: String) { self.init(value) }

    /// The word with variables shown as `${NAME}`, for people and messages.
    public var description: String {
        parts.map {
            switch $0 {
            case .literal(let text): return text
            case .variable(let variable): return "${\(variable.rawValue)}"
            }
        }.joined()
    }

    /// The text when the word has no variable part.
    public var literalValue: String? {
        var text = ""
        for part in parts {
            guard case .literal(let piece) = part else { return nil }
            text += piece
        }
        return text
    }

    private enum CodingKeys: String, CodingKey { case parts }
    private enum PartKeys: String, CodingKey { case variable }

    public func encode(to encoder: any Encoder) throws {
        if let literal = literalValue {
            var container = encoder.singleValueContainer()
            try container.encode(literal)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        var list = container.nestedUnkeyedContainer(forKey: .parts)
        for part in parts {
            switch part {
            case .literal(let text): try list.encode(text)
            case .variable(let variable):
                var nested = list.nestedContainer(keyedBy: PartKeys.self)
                try nested.encode(variable, forKey: .variable)
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let literal = try? decoder.singleValueContainer().decode(String.self) {
            self.init(literal)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var list = try container.nestedUnkeyedContainer(forKey: .parts)
        var parts: [Part] = []
        while !list.isAtEnd {
            if let text = try? list.decode(String.self) {
                parts.append(.literal(text))
            } else {
                let nested = try list.nestedContainer(keyedBy: PartKeys.self)
                parts.append(.variable(try nested.decode(BundleVariable.self, forKey: .variable)))
            }
        }
        self.init(parts: parts)
    }
}

/// One `--key value` option of `qm create` / `qm set`.
public struct BundleQMOption: Sendable, Codable, Hashable {
    public var key: String
    public var value: BundleArgument
    /// Only passed on nodes running at least this PVE version (`"8.0"`); nil: always.
    public var minimumPVE: String?

    public init(_ key: String, _ value: BundleArgument, minimumPVE: String? = nil) {
        self.key = key
        self.value = value
        self.minimumPVE = minimumPVE
    }
}

/// What a bundle file is for. plan.json and deploy.sh carry the raw value.
public enum BundleFileRole: String, Sendable, Codable, Hashable, CaseIterable {
    case image
    case seedISO = "seed-iso"
    case userSnippet = "snippet-user"
    case networkSnippet = "snippet-network"
    case metaSnippet = "snippet-meta"
    case vendorSnippet = "snippet-vendor"
    case sshKeys = "sshkeys"

    /// The snippet roles in the order `cicustom` lists them, with the key it uses for each.
    static let snippets: [(role: BundleFileRole, cicustomKey: String)] = [
        (.userSnippet, "user"), (.networkSnippet, "network"), (.metaSnippet, "meta"), (.vendorSnippet, "vendor"),
    ]

    /// `cicustom`'s key for a snippet role (`user`, `network`, …); nil for the other roles.
    public var cicustomKey: String? { Self.snippets.first { $0.role == self }?.cicustomKey }
}

/// A file deploy.sh verifies, places on a storage, or passes to qm.
public struct BundlePlanFile: Sendable, Codable, Hashable {
    public var role: BundleFileRole
    /// Path relative to the artifact directory (`image/<file>` for an included image).
    public var source: String
    public var sha256: String
    public var size: UInt64
    /// False for an image that is not in the artifact directory (then `cachePath` / `--image`).
    public var included: Bool
    public var cachePath: String?
    /// Target storage; nil: the file stays in the artifact directory.
    public var storage: String?
    /// Target volume id (`local:iso/seedgen-9001-1a2b3c4d.iso`); for the image, the PVE ≥ 8.3 import volume.
    public var volume: String?
    /// The image's volume on nodes before PVE 8.3, where import-from takes the absolute path of this volume.
    public var legacyVolume: String?
    /// Image only: `qcow2` or `raw`, and the virtual disk size in bytes.
    public var format: String?
    public var virtualSize: UInt64?
    /// Image only: the http(s) URL it was fetched from (nil for a local file), for `apply --node-downloads`.
    public var url: String?

    public init(
        role: BundleFileRole, source: String, sha256: String, size: UInt64, included: Bool = true,
        cachePath: String? = nil,
        storage: String? = nil, volume: String? = nil, legacyVolume: String? = nil, format: String? = nil,
        virtualSize: UInt64? = nil, url: String? = nil
    ) {
        self.url = url
        self.role = role
        self.source = source
        self.sha256 = sha256
        self.size = size
        self.included = included
        self.cachePath = cachePath
        self.storage = storage
        self.volume = volume
        self.legacyVolume = legacyVolume
        self.format = format
        self.virtualSize = virtualSize
    }
}

/// A storage that must exist, be enabled and have a content type on the node.
public struct BundleStorageNeed: Sendable, Codable, Hashable {
    public var storage: String
    public var content: String
    public var purpose: String
    /// Checked only from this PVE version on / only below this version; nil: always.
    public var minimumPVE: String?
    public var belowPVE: String?
    /// False for storages only a new VM needs (boot disk, image); a re-run skips them.
    public var neededOnRerun: Bool

    public init(
        storage: String, content: String, purpose: String, minimumPVE: String? = nil, belowPVE: String? = nil,
        neededOnRerun: Bool
    ) {
        self.storage = storage
        self.content = content
        self.purpose = purpose
        self.minimumPVE = minimumPVE
        self.belowPVE = belowPVE
        self.neededOnRerun = neededOnRerun
    }
}

/// One changing step of a first deployment, in order.
public struct BundleStep: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        /// Copy a file (by role) to `pvesm path <volume>`, skipped when it is there with the right checksum.
        case placeFile = "place-file"
        case createVM = "create-vm"
        /// `qm set` on the existing VM (a re-run's seed swap).
        case updateVM = "update-vm"
        case setPassword = "set-password"
        /// `qm disk resize` (`qm resize` before PVE 7.3) to the absolute size.
        case resizeDisk = "resize-disk"
        /// Reads `qm config` and fails unless the disk has the size (resize's exit code lies).
        case confirmDiskSize = "confirm-disk-size"
        /// Skipped with `--no-start`.
        case startVM = "start-vm"
    }

    public var id: String
    public var kind: Kind
    public var summary: String
    /// The command's fixed words (`qm create 9001`); `options` follow it.
    public var command: [BundleArgument]
    public var options: [BundleQMOption]
    /// place-file: the role of the file in `files`.
    public var fileRole: BundleFileRole?
    /// confirm-disk-size: the disk key and the size as `qm config` prints it (`size=20G`).
    public var disk: String?
    public var expectedSize: String?

    public init(
        id: String, kind: Kind, summary: String, command: [BundleArgument] = [], options: [BundleQMOption] = [],
        fileRole: BundleFileRole? = nil, disk: String? = nil, expectedSize: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.summary = summary
        self.command = command
        self.options = options
        self.fileRole = fileRole
        self.disk = disk
        self.expectedSize = expectedSize
    }
}

/// A `qm config` line a re-run compares with the plan and reports (never applies) when it differs.
public struct BundleDriftCheck: Sendable, Codable, Hashable {
    public enum Match: String, Sendable, Codable, Hashable {
        case equals
        case contains
    }

    public var key: String
    public var expected: String
    public var match: Match

    public init(key: String, expected: String, match: Match = .equals) {
        self.key = key
        self.expected = expected
        self.match = match
    }
}

/// What a re-run does when the VMID holds the VM seedgen created earlier (its marker is in the description).
public struct BundleRerunPlan: Sendable, Codable, Hashable {
    /// The `qm config` key whose value must start with `expectedSeed` (`sata0` + seed ISO volume, or
    /// `cicustom` + the snippet list); nil in pve mode.
    public var seedKey: String?
    public var expectedSeed: String?
    /// Places the new seed files (by role) and runs `seedUpdate` when the seed differs.
    public var seedFileRoles: [BundleFileRole]
    public var seedUpdate: BundleStep?
    public var driftChecks: [BundleDriftCheck]

    public init(
        seedKey: String?, expectedSeed: String?, seedFileRoles: [BundleFileRole], seedUpdate: BundleStep?,
        driftChecks: [BundleDriftCheck]
    ) {
        self.seedKey = seedKey
        self.expectedSeed = expectedSeed
        self.seedFileRoles = seedFileRoles
        self.seedUpdate = seedUpdate
        self.driftChecks = driftChecks
    }
}

/// The VM as the node will see it.
public struct BundleVMPlan: Sendable, Codable, Hashable {
    public var vmid: Int
    public var name: String
    public var node: String?
    public var cloudInitMode: CloudInitMode
    /// The description line that marks the VM as seedgen's; survives `qm config`'s URL-encoding.
    public var marker: String
    /// What a re-run looks for: the marker without the plan hash.
    public var markerPrefix: String
    /// First 16 hex digits of the SHA-256 over the VM options and files (before the marker is added).
    public var planHash: String
    /// All `qm create` options, in order (the create-vm step's options).
    public var options: [BundleQMOption]
    /// Boot disk key, its final size as `qm disk resize` takes it (`20G`) and as `qm config` prints it.
    public var bootDisk: String
    public var bootDiskSize: String
    public var bootDiskConfigSize: String
    /// The bus slot of the seed CD-ROM or of Proxmox's cloud-init drive (`sata0` or `ide2`).
    public var seedDrive: String
}

/// The whole bundle: deploy.sh and plan.json are both generated from this value.
public struct BundlePlan: Sendable, Codable, Hashable {
    public var schemaVersion: Int
    public var generator: String
    public var minimumPVE: String
    public var vm: BundleVMPlan
    public var files: [BundlePlanFile]
    public var storages: [BundleStorageNeed]
    /// Preflight checks, in order; they change nothing (see the README for each one).
    public var preflight: [String]
    public var steps: [BundleStep]
    public var rerun: BundleRerunPlan

    public func file(role: BundleFileRole) -> BundlePlanFile? { files.first { $0.role == role } }
}
