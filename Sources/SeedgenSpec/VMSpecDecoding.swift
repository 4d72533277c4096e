import Foundation
import SeedgenCore
import SeedgenImage

/// Turns a merged vm.yaml tree into a validated `VMSpec`, collecting every problem on the way.
struct VMSpecDecoding {
    var decoder = SpecDecoder()
    let environment: [String: String]
    let knownImageNames: [String]?
    /// The site's key for password salts (`--salt-key`), nil when none is given.
    var passwordSaltKey: Data?
    /// A URL in one of these publishers' image directories is verified by the publisher's list.
    var imagePublishers: [ImagePublisher] = []
    var trustOnFirstUse = false
    /// The tree was converted from Ansible variables: hints name the Ansible variable.
    var ansibleOrigin = false
    var sourceFile = ""

    static let topLevelKeys = [
        "version", "name", "vmid", "node", "description", "tags", "pool", "extends", "image", "hardware", "storage",
        "network", "cloud_init",
    ]

    mutating func decode(_ root: SpecNode, sourceFile: String) -> VMSpec? {
        self.sourceFile = sourceFile
        guard let top = decoder.map(root, "", allowed: Self.topLevelKeys) else { return nil }
        decoder.locations[""] = root.location

        if let version = top["version"], let value = decoder.int(version, "version", range: 1...1000), value != 1 {
            decoder.error("unsupported schema version \(value)", version, "version", allowed: "1")
        }
        var name: DNSName?
        if top["name"] == nil || top["name"]?.isNull == true {
            decoder.error("required key is missing", root, "name")
        } else {
            name = decoder.value(top["name"], "name", as: DNSName.self)
        }
        var vmid: VMID?
        if top["vmid"] == nil {
            decoder.error("required key is missing", root, "vmid", allowed: VMID.allowed)
        } else {
            vmid = decoder.int(top["vmid"], "vmid", range: VMID.range).flatMap(VMID.init)
        }
        let node = decoder.value(
            top["node"], "node", as: DNSName.self, what: "a valid node name", allowed: "a DNS name")
        // Its length is checked with seedgen's marker line, which depends on the name and vmid (Bundle).
        let description = decoder.string(top["description"], "description")
        let tags = decodeTags(top["tags"])
        let pool = decoder.value(top["pool"], "pool", as: PoolName.self)
        let image = top["image"].flatMap { decodeImage($0) }
        var hardware = top["hardware"].flatMap { decodeHardware($0) } ?? HardwareSpec()
        if image == nil, top["image"] == nil, hardware.disk.size.bytes == 0 {
            hardware.disk.size = .gibibytes(20)
        }
        let storage = top["storage"].flatMap { decodeStorage($0) } ?? StorageSpec()
        let network = decodeNetwork(top["network"], vmid: vmid)
        let cloudInit = top["cloud_init"].flatMap { decodeCloudInit($0, vmid: vmid?.number ?? 0) } ?? CloudInitSpec()

        guard let name, let vmid, !decoder.diagnostics.hasErrors else { return nil }
        var spec = VMSpec(
            sourceFile: sourceFile, name: name, vmid: vmid, node: node, description: description, tags: tags,
            pool: pool,
            image: image, hardware: hardware, storage: storage, network: network, cloudInit: cloudInit,
            locations: decoder.locations)
        if let hostname = spec.cloudInit.hostname, !AddressRules.isDNSLabel(hostname) {
            decoder.error(
                "'\(hostname)' is not a valid host name", top["cloud_init"]?["hostname"], "cloud_init.hostname",
                allowed: "one DNS label")
        }
        if spec.cloudInit.hostname == nil, !AddressRules.isDNSLabel(spec.hostname) {
            decoder.error(
                "the host name '\(spec.hostname)' taken from name is not a valid DNS label", top["name"], "name")
        }
        spec.locations = decoder.locations
        return decoder.diagnostics.hasErrors ? nil : spec
    }

    // MARK: - Top level

    private mutating func decodeTags(_ node: SpecNode?) -> [ProxmoxTag] {
        guard let tags = decoder.stringList(node, "tags") else { return [] }
        return tags.enumerated().compactMap { index, text in
            guard let tag = ProxmoxTag(text) else {
                let item: SpecNode? = node?.kind.listItem(index) ?? node
                decoder.error(
                    "'\(text)' is not \(ProxmoxTag.what)", item, "tags[\(index)]", allowed: ProxmoxTag.allowed)
                return nil
            }
            return tag
        }
    }

    private mutating func decodeImage(_ node: SpecNode) -> ImageSpec? {
        if case .scalar(let name, _) = node.kind {
            decoder.locations["image"] = node.location
            if let known = knownImageNames, !known.contains(name) {
                var hint = "see `seedgen image list`: \(known.joined(separator: ", "))"
                if let suggestion = NameSuggestion.closest(to: name, in: known) {
                    hint = "did you mean '\(suggestion)'?"
                }
                decoder.error("unknown catalog image '\(name)'", node, "image", allowed: hint)
                return nil
            }
            return ImageSpec(catalogName: name)
        }
        let keys = ["url", "path", "sha256", "sha512", "checksums_url", "signature_url", "keyring", "fingerprints"]
        guard let map = decoder.map(node, "image", allowed: keys) else { return nil }
        var image = ImageSpec()
        image.url = decodeURL(map["url"], "image.url")
        // A file:// URL is a local file: the same ImageSpec as `path:`, so every check on local
        // images (digest recorded, pins verified, size against the disk) applies to it.
        if let url = image.url, url.isFileURL, let urlNode = map["url"] {
            image.url = nil
            if let host = url.host, !host.isEmpty, host != "localhost" {
                decoder.error(
                    "file:// URL names another host '\(host)'", urlNode, "image.url",
                    allowed: "file:///absolute/path (this machine)")
            } else {
                image.path = SpecPaths.resolve(url.path, relativeTo: urlNode.location.file)
                if !FileManager.default.isReadableFile(atPath: image.path!) {
                    decoder.error("image file not found or unreadable: \(image.path!)", urlNode, "image.url")
                }
            }
        }
        if let pathNode = map["path"], let path = decoder.string(pathNode, "image.path") {
            image.path = SpecPaths.resolve(path, relativeTo: pathNode.location.file)
            if !FileManager.default.isReadableFile(atPath: image.path!) {
                decoder.error("image file not found or unreadable: \(image.path!)", pathNode, "image.path")
            }
        }
        if (map["url"] == nil) == (map["path"] == nil) {
            decoder.error(
                "give exactly one of url and path", node, "image",
                allowed: "image: NAME, image: {url: …}, or image: {path: …}")
        }
        image.sha256 = decodeHex(map["sha256"], "image.sha256", length: 64)
        image.sha512 = decodeHex(map["sha512"], "image.sha512", length: 128)
        image.checksumsURL = decodeURL(map["checksums_url"], "image.checksums_url")
        image.signatureURL = decodeURL(map["signature_url"], "image.signature_url")
        if let keyringNode = map["keyring"], let keyring = decoder.string(keyringNode, "image.keyring") {
            image.keyring = SpecPaths.resolve(keyring, relativeTo: keyringNode.location.file)
        }
        for (index, fingerprint) in (decoder.stringList(map["fingerprints"], "image.fingerprints") ?? []).enumerated() {
            let compact = fingerprint.replacingOccurrences(of: " ", with: "").uppercased()
            if compact.count != 40 && compact.count != 64 || !compact.allSatisfy(\.isHexDigit) {
                decoder.error(
                    "'\(fingerprint)' is not an OpenPGP fingerprint", map["fingerprints"],
                    "image.fingerprints[\(index)]", allowed: "40 (v4) or 64 (v6) hex digits, spaces allowed")
            } else {
                image.fingerprints.append(compact)
            }
        }
        if let url = image.url, image.sha256 == nil, image.sha512 == nil, image.checksumsURL == nil,
            !imagePublishers.contains(where: { $0.covers(url) }),
            !trustOnFirstUse, !isLockedInLockfile(url)
        {
            // The file as the user named it, so the command can be pasted where they typed theirs.
            let file = ShellQuoting.quote(sourceFile)
            let pin =
                ansibleOrigin
                ? "add proxmox_vm_cloud_image_checksum (sha256:HEX, sha512:HEX or sha256:URL of a checksum list)"
                : "add image.sha256, image.sha512 or image.checksums_url"
            let publishers = imagePublishers.map(\.root).joined(separator: ", ")
            decoder.error(
                "nothing verifies \(url.absoluteString): no digest, and it is not under a publisher's image "
                    + "directories\(publishers.isEmpty ? "" : " (\(publishers))")",
                map["url"] ?? node, ansibleOrigin ? "proxmox_vm_cloud_image_url" : "image.url",
                allowed: "\(pin), or pin it once with `seedgen image lock \(file) --trust-on-first-use`")
        }
        if image.path != nil, image.url == nil, map["url"] != nil, map["checksums_url"] != nil {
            decoder.error(
                "a local image (file:// URL) is checked by image.sha256 or image.sha512, not by a checksum list",
                map["checksums_url"], "image.checksums_url")
        }
        if image.signatureURL != nil, image.checksumsURL == nil {
            decoder.error(
                "signature_url signs a checksum list: checksums_url is missing", map["signature_url"],
                "image.signature_url")
        }
        if image.signatureURL != nil, image.keyring == nil {
            decoder.error(
                "a signature needs a keyring to check it against", map["signature_url"], "image.signature_url",
                allowed: "keyring: /path/to/keyring.gpg")
        }
        if image.checksumsURL != nil, image.url == nil, map["url"] == nil {
            decoder.error("checksums_url needs url", map["checksums_url"], "image.checksums_url")
        }
        return image
    }

    /// seedgen.lock beside the VM's file pins `url` (by `seedgen image lock`, first-use trust or not).
    private func isLockedInLockfile(_ url: URL) -> Bool {
        guard !sourceFile.isEmpty,
            let lockfile = try? ImageLockfile.read(ImageLockfile.url(besides: URL(fileURLWithPath: sourceFile)))
        else {
            return false
        }
        return lockfile.images[url.absoluteString] != nil
    }

    private mutating func decodeURL(_ node: SpecNode?, _ path: String) -> URL? {
        guard let text = decoder.string(node, path) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            ["http", "https", "file"].contains(scheme), url.host != nil || scheme == "file"
        else {
            decoder.error("'\(text)' is not a valid URL", node, path, allowed: "http://, https:// or file:// URL")
            return nil
        }
        return url
    }

    private mutating func decodeHex(_ node: SpecNode?, _ path: String, length: Int) -> String? {
        guard let text = decoder.string(node, path) else { return nil }
        let lower = text.lowercased()
        guard lower.count == length, lower.allSatisfy(\.isHexDigit) else {
            decoder.error("not a valid digest", node, path, allowed: "\(length) hex digits")
            return nil
        }
        return lower
    }

    // MARK: - Hardware and storage

    static let cpuModels = [
        "x86-64-v2", "x86-64-v2-AES", "x86-64-v3", "x86-64-v4", "host", "max", "kvm64", "kvm32", "qemu64", "qemu32",
        "EPYC", "EPYC-IBPB", "EPYC-Rome", "EPYC-Milan", "EPYC-Genoa", "Skylake-Server", "Skylake-Client",
        "Cascadelake-Server",
        "Icelake-Server", "SapphireRapids", "Haswell", "Broadwell", "IvyBridge", "SandyBridge", "Nehalem", "Westmere",
        "Conroe", "Penryn", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5",
    ]

    private mutating func decodeHardware(_ node: SpecNode) -> HardwareSpec? {
        let keys = [
            "cores", "sockets", "memory", "balloon", "cpu", "machine", "bios", "agent", "onboot", "disk", "extra_disks",
        ]
        guard let map = decoder.map(node, "hardware", allowed: keys) else { return nil }
        var hardware = HardwareSpec()
        hardware.cores = decoder.int(map["cores"], "hardware.cores", range: 1...1024) ?? hardware.cores
        hardware.sockets = decoder.int(map["sockets"], "hardware.sockets", range: 1...16) ?? hardware.sockets
        if let memory = decoder.size(map["memory"], "hardware.memory", defaultUnit: .mebibytes) {
            if memory < .mebibytes(16) || !memory.isWholeMebibytes {
                decoder.error("memory must be a whole number of MiB, at least 16 MiB", map["memory"], "hardware.memory")
            }
            hardware.memory = memory
        }
        if let balloon = decoder.size(map["balloon"], "hardware.balloon", defaultUnit: .mebibytes) {
            if balloon > hardware.memory {
                decoder.error(
                    "balloon (\(balloon)) is larger than memory (\(hardware.memory))", map["balloon"],
                    "hardware.balloon", allowed: "0 to disable, or at most memory")
            }
            hardware.balloon = balloon
        }
        if let cpuNode = map["cpu"], let cpu = decoder.string(cpuNode, "hardware.cpu") {
            if !Self.cpuModels.contains(cpu), !cpu.hasPrefix("custom-") {
                var hint =
                    "a Proxmox CPU type such as \(Self.cpuModels.prefix(6).joined(separator: ", ")), or custom-<name>"
                if let suggestion = NameSuggestion.closest(to: cpu, in: Self.cpuModels) {
                    hint = "did you mean '\(suggestion)'?"
                }
                decoder.error("unknown CPU type '\(cpu)'", cpuNode, "hardware.cpu", allowed: hint)
            }
            hardware.cpu = cpu
        }
        if let machineNode = map["machine"], let machine = decoder.string(machineNode, "hardware.machine") {
            let pattern = #"^(pc|q35|pc-(i440fx|q35)-\d+\.\d+(\+pve\d+)?)$"#
            if !TextPattern.matches(machine, pattern) {
                decoder.error(
                    "unknown machine type '\(machine)'", machineNode, "hardware.machine",
                    allowed: "q35, pc, pc-q35-X.Y or pc-i440fx-X.Y")
            }
            hardware.machine = machine
        }
        if let bios = decoder.choice(map["bios"], "hardware.bios", from: Firmware.allCases.map(\.rawValue)) {
            hardware.bios = Firmware(rawValue: bios) ?? .seabios
        }
        hardware.agent = decoder.bool(map["agent"], "hardware.agent") ?? hardware.agent
        hardware.onboot = decoder.bool(map["onboot"], "hardware.onboot") ?? hardware.onboot
        if let diskNode = map["disk"],
            let diskMap = decoder.map(
                diskNode, "hardware.disk", allowed: ["size", "storage", "discard", "ssd", "iothread"])
        {
            if let size = decoder.size(diskMap["size"], "hardware.disk.size", defaultUnit: .gibibytes) {
                checkDiskSize(size, diskMap["size"], "hardware.disk.size")
                hardware.disk.size = size
            }
            hardware.disk.storage =
                decodeStorageID(diskMap["storage"], "hardware.disk.storage") ?? hardware.disk.storage
            hardware.disk.discard = decoder.bool(diskMap["discard"], "hardware.disk.discard") ?? hardware.disk.discard
            hardware.disk.ssd = decoder.bool(diskMap["ssd"], "hardware.disk.ssd") ?? hardware.disk.ssd
            hardware.disk.iothread =
                decoder.bool(diskMap["iothread"], "hardware.disk.iothread") ?? hardware.disk.iothread
        }
        for (index, item) in (decoder.list(map["extra_disks"], "hardware.extra_disks") ?? []).enumerated() {
            let path = "hardware.extra_disks[\(index)]"
            guard let diskMap = decoder.map(item, path, allowed: ["size", "storage", "discard", "ssd", "iothread"])
            else { continue }
            guard diskMap["size"] != nil else {
                decoder.error("required key is missing", item, "\(path).size", allowed: "e.g. 100G")
                continue
            }
            guard let size = decoder.size(diskMap["size"], "\(path).size", defaultUnit: .gibibytes) else { continue }
            checkDiskSize(size, diskMap["size"], "\(path).size")
            var disk = ExtraDiskSpec(
                size: size, storage: decodeStorageID(diskMap["storage"], "\(path).storage") ?? hardware.disk.storage)
            disk.discard = decoder.bool(diskMap["discard"], "\(path).discard") ?? disk.discard
            disk.ssd = decoder.bool(diskMap["ssd"], "\(path).ssd") ?? disk.ssd
            disk.iothread = decoder.bool(diskMap["iothread"], "\(path).iothread") ?? disk.iothread
            hardware.extraDisks.append(disk)
        }
        // scsi0 is the boot disk; scsi1.. the extra disks; Proxmox has scsi0..scsi30.
        if hardware.extraDisks.count > ProxmoxDiskSlots.extraDiskLimit {
            decoder.error(
                "too many extra disks (\(hardware.extraDisks.count))", map["extra_disks"], "hardware.extra_disks",
                allowed: "at most \(ProxmoxDiskSlots.extraDiskLimit): scsi1..scsi\(ProxmoxDiskSlots.extraDiskLimit)")
        }
        return hardware
    }

    private mutating func checkDiskSize(_ size: ByteSize, _ node: SpecNode?, _ path: String) {
        if size < .mebibytes(1) || !size.isWholeMebibytes {
            decoder.error("disk size must be a whole number of MiB, at least 1 MiB", node, path)
        }
    }

    private mutating func decodeStorageID(_ node: SpecNode?, _ path: String) -> StorageID? {
        decoder.value(node, path, as: StorageID.self)
    }

    private mutating func decodeStorage(_ node: SpecNode) -> StorageSpec? {
        guard let map = decoder.map(node, "storage", allowed: ["iso", "import", "snippets"]) else { return nil }
        var storage = StorageSpec()
        storage.iso = decodeStorageID(map["iso"], "storage.iso") ?? storage.iso
        storage.import = decodeStorageID(map["import"], "storage.import") ?? storage.import
        storage.snippets = decodeStorageID(map["snippets"], "storage.snippets") ?? storage.snippets
        return storage
    }
}

extension SpecNode.Kind {
    func listItem(_ index: Int) -> SpecNode? {
        if case .list(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }
}
