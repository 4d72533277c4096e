import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenImage
import SeedgenNoCloud
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// An artifact directory as the build stage writes it, made from a VMSpec and some seed bytes.
struct BundleFixture {
    let directory: URL
    let plan: BundlePlan
    let script: URL
    let imageBytes: Data?

    static func spec(
        mode: CloudInitMode = .iso, node: String? = "pve01", bios: Firmware = .seabios, machine: String = "q35",
        description: String? = "Web frontend"
    ) -> VMSpec {
        var interface = InterfaceSpec(index: 0, mac: "BC:24:11:12:34:56")
        interface.vlan = 20
        interface.mtu = 1500
        interface.ipv4 = .static(address: "192.0.2.10", prefix: 24)
        interface.gateway4 = "192.0.2.1"
        interface.ipv6 = .slaac
        var second = InterfaceSpec(index: 1, mac: "BC:24:11:AB:CD:EF")
        second.bridge = "vmbr1"
        second.firewall = false
        var network = NetworkSpec()
        network.interfaces = [interface, second]
        network.nameservers = ["1.1.1.1", "2606:4700:4700::1111"]
        network.search = ["example.com"]
        var hardware = HardwareSpec()
        hardware.bios = bios
        hardware.machine = machine
        hardware.balloon = .gibibytes(1)
        hardware.extraDisks = [ExtraDiskSpec(size: .gibibytes(100), storage: "local-lvm")]
        var cloudInit = CloudInitSpec()
        cloudInit.mode = mode
        var user = UserSpec(name: "ops")
        user.sshAuthorizedKeys = [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyExampleKeyExampleKeyExample ops@laptop"
        ]
        user.passwordHash =
            "$6$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./abcdefghi"
        if mode == .iso || mode == .snippets {
            user.sudo = "ALL=(ALL) NOPASSWD:ALL"
            user.groups = ["sudo"]
        }
        cloudInit.users = [user]
        return VMSpec(
            sourceFile: "vm.yaml", name: "web01", vmid: 9001, node: node.flatMap(DNSName.init),
            description: description, tags: ["web", "prod"],
            image: ImageSpec(catalogName: "ubuntu-24.04"), hardware: hardware, network: network, cloudInit: cloudInit)
    }

    /// Writes the artifacts for `spec` into `directory` (created), with `seed` as the seed's content.
    static func make(
        spec: VMSpec, in directory: URL, seed: String = "seed-1", imageName: String = "noble-server-cloudimg-amd64.img",
        includeImage: Bool = true, withImage: Bool = true, cachePath: String? = nil, imageURL: String? = nil,
        imageBytes givenImageBytes: Data? = nil
    ) throws -> BundleFixture {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var written: [String: Data] = [:]
        func write(_ name: String, _ data: Data) throws -> BundleFile {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
            written[name] = data
            return BundleFile(name: name, sha256: Digest.sha256Hex(data), size: UInt64(data.count))
        }
        var inputs = BundleInputs()
        let userData = Data("#cloud-config\n# \(seed)\n".utf8)
        let networkData = Data("version: 2\n# \(seed)\n".utf8)
        let metaData = Data("instance-id: iid-9001-\(seed)\nlocal-hostname: web01\n".utf8)
        let userFile = try write("user-data", userData)
        let networkFile = try write("network-config", networkData)
        let metaFile = try write("meta-data", metaData)
        switch spec.cloudInit.mode {
        case .iso:
            let isoBytes = Data("ISO9660 stand-in \(seed)\n".utf8) + Data(repeating: 0, count: 2048)
            let hash8 = String(Digest.sha256Hex(isoBytes).prefix(8))
            inputs.seedISO = try write("seedgen-\(spec.vmid)-\(hash8).iso", isoBytes)
        case .snippets:
            inputs.snippets = [userFile, networkFile, metaFile]
        case .pve:
            if let keys = ProxmoxBundle.pveSSHKeysFile(for: spec) {
                inputs.sshKeysFile = try write(ProxmoxBundle.pveSSHKeysFileName, keys)
            }
        }
        var imageBytes: Data?
        if withImage {
            let bytes = givenImageBytes ?? Data((0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            imageBytes = bytes
            if includeImage { _ = try write("image/\(imageName)", bytes) }
            inputs.image = BundleImage(
                fileName: imageName, sha256: Digest.sha256Hex(bytes), size: UInt64(bytes.count), format: "qcow2",
                virtualSize: UInt64(bytes.count), included: includeImage, cachePath: cachePath, url: imageURL)
        }
        let plan = try ProxmoxBundle.plan(for: spec, inputs: inputs)
        let script = Data(ProxmoxBundle.deployScript(plan).utf8)
        let scriptFile = try write("deploy.sh", script)
        _ = scriptFile
        _ = try write("plan.json", try ProxmoxBundle.planJSON(plan))
        // SHA256SUMS as the build stage writes it: every artifact, by name, GNU format.
        let sums = written.keys.sorted().map { "\(Digest.sha256Hex(written[$0]!))  \($0)\n" }.joined()
        try Data(sums.utf8).write(to: directory.appendingPathComponent("SHA256SUMS"))
        return BundleFixture(
            directory: directory, plan: plan, script: directory.appendingPathComponent("deploy.sh"),
            imageBytes: imageBytes)
    }
}

/// Runs deploy.sh on `node` and checks what every scenario must hold: shellcheck-clean script and
/// only valid qm arguments.
@discardableResult
func deploy(_ fixture: BundleFixture, on node: FakeNode, _ arguments: [String] = [], currentDirectory: URL? = nil)
    throws -> ProcessResult
{
    try requireShellcheckClean(fixture.script)
    let before = try node.calls().count
    let result = try node.deploy(fixture.script, arguments, currentDirectory: currentDirectory)
    let version = node.setup.version.split(separator: ".").compactMap { Int($0) }
    for call in try node.calls().dropFirst(before) {
        let problems = QMOptionChecker.problems(in: call, version: (version[0], version[1]))
        #expect(problems.isEmpty, "\(call): \(problems)")
    }
    return result
}
