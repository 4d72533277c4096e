import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenISO
import SeedgenImage
import SeedgenNoCloud
import SeedgenRender
import SeedgenSpec

/// Everything that goes into one VM's output directory (SPEC §4), computed in memory first so a
/// failure leaves nothing behind, then written in one go.
struct ArtifactSet: Sendable {
    struct File: Sendable {
        var name: String
        var contents: Contents
        var permissions: Int
        var sha256: String
    }

    enum Contents: Sendable {
        case bytes(Data)
        /// A large file (the image) linked or copied from the cache.
        case copy(of: URL)
    }

    var files: [File] = []
    var seedISOName: String?
    /// Diagnostics about the content that do not stop the build (e.g. an iso-mode seed over 3 MiB).
    var warnings: [Diagnostic] = []

    /// Artifact name → sha256, as SHA256SUMS lists them.
    var checksums: [String: String] {
        Dictionary(uniqueKeysWithValues: files.filter { $0.name != "SHA256SUMS" }.map { ($0.name, $0.sha256) })
    }

    mutating func add(_ name: String, _ data: Data, permissions: Int = 0o644) {
        files.append(File(name: name, contents: .bytes(data), permissions: permissions, sha256: Digest.sha256Hex(data)))
    }

    static func make(for spec: VMSpec, image: ResolvedImage?, includeImage: Bool, epoch: Int64) throws -> ArtifactSet {
        var set = ArtifactSet()
        let seed = try SeedRenderer.render(spec)
        let seedFiles = seed.files.map { SeedFile(name: $0.name, data: $0.data) }
        set.warnings = SeedSizeLimit.check(
            seedFiles, mode: spec.cloudInit.mode, location: spec.location(of: "cloud_init"))
        if set.warnings.contains(where: { $0.severity == .error }) { throw SeedgenError.invalidInput(set.warnings) }
        for (name, data) in seed.files { set.add(name, data) }
        var inputs = BundleInputs(seedISO: nil, snippets: [], image: nil, sshKeysFile: nil)

        switch spec.cloudInit.mode {
        case .iso:
            let iso = try NoCloudSeed.image(files: seedFiles, epoch: epoch)
            let isoHash = Digest.sha256Hex(iso)
            let name = "seedgen-\(spec.vmid)-\(isoHash.prefix(8)).iso"
            set.files.append(File(name: name, contents: .bytes(iso), permissions: 0o644, sha256: isoHash))
            set.seedISOName = name
            inputs.seedISO = BundleFile(name: name, sha256: isoHash, size: UInt64(iso.count))
        case .snippets:
            // deploy.sh uploads the rendered files under names that carry their hashes.
            for (name, data) in seed.files {
                inputs.snippets.append(BundleFile(name: name, sha256: Digest.sha256Hex(data), size: UInt64(data.count)))
            }
        case .pve:
            if let keys = ProxmoxBundle.pveSSHKeysFile(for: spec) {
                let name = ProxmoxBundle.pveSSHKeysFileName
                set.add(name, keys)
                inputs.sshKeysFile = BundleFile(name: name, sha256: Digest.sha256Hex(keys), size: UInt64(keys.count))
            }
        }

        if let image {
            inputs.image = BundleImage(
                fileName: image.fileName, sha256: image.sha256, size: image.size, format: image.format,
                virtualSize: image.virtualSize, included: includeImage, cachePath: includeImage ? nil : image.path.path,
                url: ["http", "https"].contains(URL(string: image.source)?.scheme?.lowercased() ?? "")
                    ? image.source : nil)
            if includeImage {
                set.files.append(
                    File(
                        name: "image/\(image.fileName)", contents: .copy(of: image.path), permissions: 0o644,
                        sha256: image.sha256))
            }
        }
        let plan = try ProxmoxBundle.plan(for: spec, inputs: inputs)
        set.add("plan.json", try ProxmoxBundle.planJSON(plan))
        set.add("deploy.sh", Data(ProxmoxBundle.deployScript(plan).utf8), permissions: 0o755)
        let sums = set.files.sorted { $0.name < $1.name }.map { "\($0.sha256)  \($0.name)\n" }.joined()
        set.add("SHA256SUMS", Data(sums.utf8))
        return set
    }

    /// Writes every file into `directory` (created, must not exist). No fsync here: the pipeline
    /// flushes the file system once before anything is renamed into place.
    package func write(into directory: URL) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: directory, withIntermediateDirectories: false)
        for file in files {
            let target = directory.appendingPathComponent(file.name)
            if file.name.contains("/") {
                try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            }
            switch file.contents {
            case .bytes(let data):
                try NewFile.write(data, to: target.path, permissions: file.permissions)
            case .copy(let source):
                // A hard link costs nothing and the cache never modifies a file in place; across
                // file systems fall back to a copy.
                if link(source.path, target.path) != 0 {
                    try manager.copyItem(at: source, to: target)
                }
            }
        }
    }
}
