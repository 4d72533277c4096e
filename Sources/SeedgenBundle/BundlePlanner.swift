import Foundation
import SeedgenCore
import SeedgenSpec

/// Turns a validated VMSpec and the build outputs into a BundlePlan.
struct BundlePlanner {
    let spec: VMSpec
    let inputs: BundleInputs

    private var vmid: String { spec.vmid.text }
    private var hardware: HardwareSpec { spec.hardware }

    /// Seed CD-ROM / cloud-init drive slot: OVMF and q35 guests do not reliably see IDE CD-ROMs.
    private var seedDrive: String {
        hardware.bios == .ovmf || hardware.machine.contains("q35") ? "sata0" : "ide2"
    }

    func makePlan() throws -> BundlePlan {
        let files = try planFiles()
        var options = vmOptions(files: files)
        let planHash = try Self.planHash(options: options, files: files)
        let markerPrefix = Self.markerPrefix(for: spec)
        let marker = markerPrefix + "plan=\(planHash)"
        let description = Self.description(spec.description, marker: marker)
        options.insert(BundleQMOption("description", BundleArgument(description)), at: 1)

        let bootDiskSize = hardware.disk.size
        let vm = BundleVMPlan(
            vmid: spec.vmid.number, name: spec.name.text, node: spec.node?.text, cloudInitMode: spec.cloudInit.mode,
            marker: marker, markerPrefix: markerPrefix, planHash: planHash, options: options, bootDisk: "scsi0",
            bootDiskSize: bootDiskSize.qmSize, bootDiskConfigSize: Self.pveConfigSize(bootDiskSize.bytes),
            seedDrive: seedDrive)
        return BundlePlan(
            schemaVersion: ProxmoxBundle.schemaVersion, generator: "seedgen \(SeedgenVersion.current)",
            minimumPVE: ProxmoxBundle.minimumPVE, vm: vm, files: files, storages: storageNeeds(),
            preflight: preflightChecks(files: files), steps: steps(vm: vm, files: files),
            rerun: rerunPlan(vm: vm, files: files, description: description))
    }

    /// The start of the marker line that identifies seedgen's VMs on the node.
    static func markerPrefix(for spec: VMSpec) -> String { "seedgen vm=\(spec.name) vmid=\(spec.vmid) " }

    /// The VM's description: the user's text, a blank line, seedgen's marker.
    static func description(_ text: String?, marker: String) -> String {
        [text, marker].compactMap { $0 }.joined(separator: "\n\n")
    }

    /// The description as it will be, for checking its length before the plan hash is known.
    static func description(for spec: VMSpec) -> String {
        description(
            spec.description, marker: markerPrefix(for: spec) + "plan=" + String(repeating: "0", count: planHashLength))
    }

    static let planHashLength = 16

    // MARK: files

    private func planFiles() throws -> [BundlePlanFile] {
        var files: [BundlePlanFile] = []
        if let image = inputs.image {
            let stem = Self.importStem(image.fileName) + "-" + image.sha256.prefix(8)
            let storage = spec.storage.import
            files.append(
                BundlePlanFile(
                    role: .image, source: "image/" + image.fileName, sha256: image.sha256, size: image.size,
                    included: image.included, cachePath: image.cachePath, storage: storage.text,
                    volume: "\(storage):import/\(stem).\(image.format)", legacyVolume: "\(storage):iso/\(stem).img",
                    format: image.format, virtualSize: image.virtualSize, url: image.url))
        }
        switch spec.cloudInit.mode {
        case .iso:
            guard let seed = inputs.seedISO else {
                throw SeedgenError.runtime(
                    message: "bundle: cloud_init.mode iso needs the seed ISO, and the build produced none")
            }
            files.append(
                BundlePlanFile(
                    role: .seedISO, source: seed.name, sha256: seed.sha256, size: seed.size,
                    storage: spec.storage.iso.text,
                    volume: "\(spec.storage.iso):iso/\(seed.name)"))
        case .snippets:
            for (role, kind) in BundleFileRole.snippets {
                guard
                    let file = inputs.snippets.first(where: {
                        $0.name == "\(kind)-data" || ($0.name == "network-config" && kind == "network")
                    })
                else {
                    if role == .vendorSnippet { continue }
                    throw SeedgenError.runtime(
                        message: "bundle: cloud_init.mode snippets needs the \(kind) file, and the build produced none")
                }
                let target = "seedgen-\(spec.vmid)-\(kind)-\(file.sha256.prefix(8)).yaml"
                files.append(
                    BundlePlanFile(
                        role: role, source: file.name, sha256: file.sha256, size: file.size,
                        storage: spec.storage.snippets.text, volume: "\(spec.storage.snippets):snippets/\(target)"))
            }
        case .pve:
            if let keys = inputs.sshKeysFile {
                files.append(BundlePlanFile(role: .sshKeys, source: keys.name, sha256: keys.sha256, size: keys.size))
            }
        }
        return files
    }

    /// The image's name on the node: PVE import volumes allow `[a-zA-Z0-9-.+=_ ]` and need the
    /// format's extension, so the publisher's extension is dropped and other characters become `-`.
    static func importStem(_ fileName: String) -> String {
        var stem = fileName
        for suffix in [".img", ".qcow2", ".raw", ".qcow", ".disk"] where stem.lowercased().hasSuffix(suffix) {
            stem = String(stem.dropLast(suffix.count))
            break
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.+=_")
        let cleaned = String(stem.map { allowed.contains($0) ? $0 : "-" })
        let trimmed = cleaned.trimmingCharacters(in: CharacterSet(charactersIn: ".-"))
        return trimmed.isEmpty ? "image" : String(trimmed.prefix(100))
    }

    // MARK: qm options

    private func diskOptions(_ volume: [BundleArgument.Part], discard: Bool, ssd: Bool, iothread: Bool)
        -> BundleArgument
    {
        var suffix = ""
        if discard { suffix += ",discard=on" }
        if ssd { suffix += ",ssd=1" }
        if iothread { suffix += ",iothread=1" }
        return BundleArgument(parts: volume + (suffix.isEmpty ? [] : [.literal(suffix)]))
    }

    private func vmOptions(files: [BundlePlanFile]) -> [BundleQMOption] {
        var options: [BundleQMOption] = [BundleQMOption("name", BundleArgument(spec.name.text))]
        if !spec.tags.isEmpty {
            options.append(BundleQMOption("tags", BundleArgument(spec.tags.map(\.text).joined(separator: ";"))))
        }
        if let pool = spec.pool { options.append(BundleQMOption("pool", BundleArgument(pool.text))) }
        options.append(BundleQMOption("ostype", "l26"))
        options.append(BundleQMOption("machine", BundleArgument(hardware.machine)))
        options.append(BundleQMOption("bios", BundleArgument(hardware.bios.rawValue)))
        if hardware.bios == .ovmf {
            // 4m vars are what Secure Boot needs; keys are not pre-enrolled so any image boots.
            options.append(
                BundleQMOption("efidisk0", BundleArgument("\(hardware.disk.storage):1,efitype=4m,pre-enrolled-keys=0")))
        }
        options.append(BundleQMOption("cpu", BundleArgument(hardware.cpu)))
        options.append(BundleQMOption("sockets", BundleArgument(String(hardware.sockets))))
        options.append(BundleQMOption("cores", BundleArgument(String(hardware.cores))))
        options.append(BundleQMOption("memory", BundleArgument(String(hardware.memory.mebibytes))))
        if let balloon = hardware.balloon {
            options.append(BundleQMOption("balloon", BundleArgument(String(balloon.mebibytes))))
        }
        options.append(BundleQMOption("agent", hardware.agent ? "1" : "0"))
        options.append(BundleQMOption("onboot", hardware.onboot ? "1" : "0"))
        options.append(BundleQMOption("scsihw", "virtio-scsi-single"))

        let disk = hardware.disk
        let bootVolume: [BundleArgument.Part] =
            inputs.image != nil
            ? [.literal("\(disk.storage):0,import-from="), .variable(.importSource)]
            : [.literal("\(disk.storage):\(Self.gibibytes(disk.size.bytes))")]
        options.append(
            BundleQMOption(
                "scsi0", diskOptions(bootVolume, discard: disk.discard, ssd: disk.ssd, iothread: disk.iothread)))
        for (index, extra) in hardware.extraDisks.enumerated() {
            let volume: [BundleArgument.Part] = [.literal("\(extra.storage):\(Self.gibibytes(extra.size.bytes))")]
            options.append(
                BundleQMOption(
                    "scsi\(index + 1)",
                    diskOptions(volume, discard: extra.discard, ssd: extra.ssd, iothread: extra.iothread)))
        }

        switch spec.cloudInit.mode {
        case .iso:
            if let seed = files.first(where: { $0.role == .seedISO }), let volume = seed.volume {
                options.append(BundleQMOption(seedDrive, BundleArgument("\(volume),media=cdrom")))
            }
        case .snippets:
            options.append(BundleQMOption(seedDrive, BundleArgument("\(disk.storage):cloudinit")))
            options.append(BundleQMOption("cicustom", BundleArgument(cicustom(files: files))))
        case .pve:
            options.append(BundleQMOption(seedDrive, BundleArgument("\(disk.storage):cloudinit")))
            options.append(contentsOf: pveCloudInitOptions(files: files))
        }

        for interface in spec.network.interfaces {
            var value =
                "\(interface.model)=\(interface.mac.text.lowercased()),bridge=\(interface.bridge),firewall=\(interface.firewall ? 1 : 0)"
            if let vlan = interface.vlan { value += ",tag=\(vlan)" }
            if let mtu = interface.mtu { value += ",mtu=\(mtu)" }
            options.append(BundleQMOption(interface.proxmoxKey, BundleArgument(value)))
        }
        options.append(BundleQMOption("boot", "order=scsi0"))
        options.append(BundleQMOption("serial0", "socket"))
        options.append(BundleQMOption("vga", "serial0"))
        return options
    }

    private func cicustom(files: [BundlePlanFile]) -> String {
        files.compactMap { file -> String? in
            guard let key = file.role.cicustomKey, let volume = file.volume else { return nil }
            return "\(key)=\(volume)"
        }.joined(separator: ",")
    }

    private func pveCloudInitOptions(files: [BundlePlanFile]) -> [BundleQMOption] {
        var options: [BundleQMOption] = []
        if let user = spec.cloudInit.users.first {
            options.append(BundleQMOption("ciuser", BundleArgument(user.name)))
        }
        if let keys = files.first(where: { $0.role == .sshKeys }) {
            options.append(
                BundleQMOption(
                    "sshkeys", BundleArgument(parts: [.variable(.artifactDirectory), .literal("/" + keys.source)])))
        }
        for interface in spec.network.interfaces {
            var parts: [String] = []
            switch interface.ipv4 {
            case .none: break
            case .dhcp: parts.append("ip=dhcp")
            case .static(let address, let prefix):
                parts.append("ip=\(address)/\(prefix)")
                if let gateway = interface.gateway4 { parts.append("gw=\(gateway)") }
            }
            switch interface.ipv6 {
            case .none: break
            case .dhcp: parts.append("ip6=dhcp")
            case .slaac: parts.append("ip6=auto")
            case .static(let address, let prefix):
                parts.append("ip6=\(address)/\(prefix)")
                if let gateway = interface.gateway6 { parts.append("gw6=\(gateway)") }
            }
            if !parts.isEmpty {
                options.append(
                    BundleQMOption("ipconfig\(interface.index)", BundleArgument(parts.joined(separator: ","))))
            }
        }
        // Proxmox's generator splits nameserver on whitespace only.
        if !spec.network.nameservers.isEmpty {
            options.append(
                BundleQMOption("nameserver", BundleArgument(spec.network.nameservers.joined(separator: " "))))
        }
        if !spec.network.search.isEmpty {
            options.append(BundleQMOption("searchdomain", BundleArgument(spec.network.search.joined(separator: " "))))
        }
        options.append(BundleQMOption("ciupgrade", spec.cloudInit.packageUpgrade ? "1" : "0", minimumPVE: "8.0"))
        return options
    }

    // MARK: storages, checks, steps

    private func storageNeeds() -> [BundleStorageNeed] {
        var needs: [BundleStorageNeed] = [
            BundleStorageNeed(
                storage: hardware.disk.storage.text, content: "images", purpose: "boot disk", neededOnRerun: false)
        ]
        for (index, extra) in hardware.extraDisks.enumerated() {
            needs.append(
                BundleStorageNeed(
                    storage: extra.storage.text, content: "images", purpose: "disk scsi\(index + 1)",
                    neededOnRerun: false))
        }
        if inputs.image != nil {
            needs.append(
                BundleStorageNeed(
                    storage: spec.storage.import.text, content: "import", purpose: "cloud image import",
                    minimumPVE: "8.3", neededOnRerun: false))
            needs.append(
                BundleStorageNeed(
                    storage: spec.storage.import.text, content: "iso", purpose: "cloud image import (absolute path)",
                    belowPVE: "8.3",
                    neededOnRerun: false))
        }
        switch spec.cloudInit.mode {
        case .iso:
            needs.append(
                BundleStorageNeed(
                    storage: spec.storage.iso.text, content: "iso", purpose: "seed ISO", neededOnRerun: true))
        case .snippets:
            needs.append(
                BundleStorageNeed(
                    storage: spec.storage.snippets.text, content: "snippets", purpose: "cloud-init snippets",
                    neededOnRerun: true))
        case .pve: break
        }
        var seen = Set<String>()
        return needs.filter {
            seen.insert("\($0.storage)|\($0.content)|\($0.minimumPVE ?? "")|\($0.belowPVE ?? "")").inserted
        }
    }

    private func preflightChecks(files: [BundlePlanFile]) -> [String] {
        var checks = ["root: id -u is 0"]
        if let node = spec.node { checks.append("node: hostname is \(node)") }
        checks.append("version: pveversion reports Proxmox VE \(ProxmoxBundle.minimumPVE) or newer")
        checks.append(
            "vmid: pvesh get /cluster/nextid --vmid \(spec.vmid) succeeds, or qm config \(spec.vmid) carries the "
                + "marker (re-run)"
        )
        checks.append("storages: pvesm status shows each storage active with its content type")
        checks.append("artifacts: sha256sum -c SHA256SUMS, and every file matches the plan's sha256")
        checks.append("targets: pvesm path of every file to place holds nothing or the same file")
        if inputs.image != nil {
            checks.append(
                "image: found on the node, via --image, image/<file> or the cache path, with the plan's sha256")
        }
        return checks
    }

    private func steps(vm: BundleVMPlan, files: [BundlePlanFile]) -> [BundleStep] {
        var steps: [BundleStep] = []
        for file in files where file.volume != nil {
            steps.append(
                BundleStep(
                    id: "place-\(file.role.rawValue)", kind: .placeFile,
                    summary:
                        "copy \(file.source) to pvesm path \(file.volume!) unless it is there with the same sha256",
                    fileRole: file.role))
        }
        steps.append(
            BundleStep(
                id: "create-vm", kind: .createVM,
                summary: "create VM \(vm.vmid) (\(vm.name)) with the boot disk imported",
                command: ["qm", "create", BundleArgument(vmid)], options: vm.options))
        if spec.cloudInit.mode == .pve, let hash = spec.cloudInit.users.first?.passwordHash {
            // Only qm set recognises a crypt hash; qm create would store it as a plaintext password.
            steps.append(
                BundleStep(
                    id: "set-password", kind: .setPassword, summary: "set the cloud-init password hash",
                    command: ["qm", "set", BundleArgument(vmid)],
                    options: [BundleQMOption("cipassword", BundleArgument(hash))]))
        }
        if inputs.image != nil {
            steps.append(
                BundleStep(
                    id: "resize-disk", kind: .resizeDisk, summary: "grow scsi0 to \(vm.bootDiskSize)",
                    command: ["qm", "disk", "resize", BundleArgument(vmid), "scsi0", BundleArgument(vm.bootDiskSize)]))
        }
        steps.append(
            BundleStep(
                id: "confirm-disk-size", kind: .confirmDiskSize,
                summary: "qm config \(vm.vmid) shows scsi0 with size=\(vm.bootDiskConfigSize)",
                command: ["qm", "config", BundleArgument(vmid)], disk: "scsi0", expectedSize: vm.bootDiskConfigSize))
        steps.append(
            BundleStep(
                id: "start-vm", kind: .startVM, summary: "start the VM (skipped with --no-start)",
                command: ["qm", "start", BundleArgument(vmid)]))
        return steps
    }

    private func rerunPlan(vm: BundleVMPlan, files: [BundlePlanFile], description: String) -> BundleRerunPlan {
        var drift: [BundleDriftCheck] = []
        for key in [
            "name", "ostype", "machine", "bios", "cpu", "sockets", "cores", "memory", "balloon", "agent", "onboot",
            "scsihw",
        ] {
            if let option = vm.options.first(where: { $0.key == key }), let value = option.value.literalValue {
                drift.append(BundleDriftCheck(key: key, expected: value))
            }
        }
        drift.append(BundleDriftCheck(key: "scsi0", expected: "size=\(vm.bootDiskConfigSize)", match: .contains))
        for interface in spec.network.interfaces {
            drift.append(
                BundleDriftCheck(
                    key: interface.proxmoxKey, expected: "=\(interface.mac.text.lowercased())", match: .contains))
            drift.append(
                BundleDriftCheck(key: interface.proxmoxKey, expected: "bridge=\(interface.bridge)", match: .contains))
        }
        for option in vm.options
        where ["ciuser", "nameserver", "searchdomain"].contains(option.key) || option.key.hasPrefix("ipconfig") {
            if let value = option.value.literalValue {
                drift.append(BundleDriftCheck(key: option.key, expected: value))
            }
        }

        switch spec.cloudInit.mode {
        case .iso:
            guard let seed = files.first(where: { $0.role == .seedISO }), let volume = seed.volume else { break }
            let update = BundleStep(
                id: "swap-seed", kind: .updateVM, summary: "attach the changed seed ISO and update the marker",
                command: ["qm", "set", BundleArgument(vmid)],
                options: [
                    BundleQMOption(seedDrive, BundleArgument("\(volume),media=cdrom")),
                    BundleQMOption("description", BundleArgument(description)),
                ])
            return BundleRerunPlan(
                seedKey: seedDrive, expectedSeed: volume, seedFileRoles: [seed.role], seedUpdate: update,
                driftChecks: drift)
        case .snippets:
            let value = cicustom(files: files)
            let update = BundleStep(
                id: "swap-seed", kind: .updateVM,
                summary: "point cicustom at the changed snippets and update the marker",
                command: ["qm", "set", BundleArgument(vmid)],
                options: [
                    BundleQMOption("cicustom", BundleArgument(value)),
                    BundleQMOption("description", BundleArgument(description)),
                ])
            return BundleRerunPlan(
                seedKey: "cicustom", expectedSeed: value,
                seedFileRoles: files.filter { $0.role.cicustomKey != nil }.map(\.role),
                seedUpdate: update, driftChecks: drift)
        case .pve:
            break
        }
        return BundleRerunPlan(seedKey: nil, expectedSeed: nil, seedFileRoles: [], seedUpdate: nil, driftChecks: drift)
    }

    // MARK: helpers

    static func planHash(options: [BundleQMOption], files: [BundlePlanFile]) throws -> String {
        struct Hashed: Encodable {
            var options: [BundleQMOption]
            var files: [BundlePlanFile]
        }
        return String(
            Digest.sha256Hex(try JSONOutput.canonicalData(Hashed(options: options, files: files))).prefix(
                planHashLength))
    }

    /// A size in GiB as `<storage>:<GiB>` takes it: an integer, or an exact decimal fraction.
    static func gibibytes(_ bytes: UInt64) -> String {
        let whole = bytes >> 30
        var remainder = bytes & ((1 << 30) - 1)
        if remainder == 0 { return String(whole) }
        var digits = ""
        while remainder != 0 {
            remainder *= 10
            digits.append(String(remainder >> 30))
            remainder &= (1 << 30) - 1
        }
        return "\(whole).\(digits)"
    }

    /// How `qm config` prints a disk size (PVE::JSONSchema::format_size): the largest exact unit.
    static func pveConfigSize(_ bytes: UInt64) -> String {
        guard bytes % 1024 == 0 else { return String(bytes) }
        let kib = bytes / 1024
        guard kib % 1024 == 0 else { return "\(kib)K" }
        let mib = kib / 1024
        guard mib % 1024 == 0 else { return "\(mib)M" }
        let gib = mib / 1024
        guard gib % 1024 == 0 else { return "\(gib)G" }
        return "\(gib / 1024)T"
    }
}
