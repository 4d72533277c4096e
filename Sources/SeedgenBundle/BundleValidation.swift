import Foundation
import SeedgenCore
import SeedgenSpec

/// Checks on the values the bundle hands to qm/pvesm, so a bad value stops the build instead of
/// failing on the node hours later. Formats follow qm-options.json.
enum BundleValidation {
    static let dnsName = #"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)$"#
    static let storageID = #"^[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]$"#
    static let tag = #"^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$"#
    static let pool = #"^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$"#
    static let mac = #"^[a-fA-F0-9][02468aceACE](?::[a-fA-F0-9]{2}){5}$"#
    static let bridge = #"^[A-Za-z][A-Za-z0-9_.-]{0,14}$"#
    static let posixUser = #"^[a-z_][a-z0-9_-]*$"#
    static let cpuModel = #"^[A-Za-z0-9][A-Za-z0-9._+-]*$"#
    static let machine = #"^[A-Za-z0-9][A-Za-z0-9._+-]*$"#
    static let seedISOName = #"^seedgen-[0-9]+-[0-9a-f]{8}\.iso$"#
    static let sha256 = #"^[0-9a-f]{64}$"#
    static let nicModels: Set<String> = [
        "e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er",
        "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3",
    ]

    package static func matches(_ text: String, _ pattern: String) -> Bool {
        TextPattern.matches(text, pattern)
    }

    static func diagnostics(for spec: VMSpec, inputs: BundleInputs) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        func error(_ keyPath: String, _ message: String, allowed: String? = nil) {
            collector.error(message, at: spec.location(of: keyPath), keyPath: keyPath, allowed: allowed)
        }

        if !(100...999_999_999).contains(spec.vmid) { error("vmid", "\(spec.vmid) is not a Proxmox VMID", allowed: "100..999999999") }
        if !matches(spec.name, dnsName) {
            error("name", "'\(spec.name)' is not a DNS name qm accepts", allowed: "letters, digits and inner '-', labels joined by '.'")
        }
        if let node = spec.node, !matches(node, dnsName) { error("node", "'\(node)' is not a node name", allowed: "a DNS name") }
        for (index, tag) in spec.tags.enumerated() where !matches(tag, BundleValidation.tag) {
            error("tags[\(index)]", "'\(tag)' is not a Proxmox tag", allowed: "letters, digits, '_', then also '+', '.', '-'")
        }
        if let pool = spec.pool, !matches(pool, BundleValidation.pool) {
            error("pool", "'\(pool)' is not a pool name", allowed: "letters, digits, '.', '-', '_', up to 3 '/'-separated levels")
        }
        let descriptionLength = (spec.description ?? "").count + 120
        if descriptionLength > 8192 {
            error("description", "is too long for Proxmox (with seedgen's marker line)", allowed: "at most 8000 characters")
        }
        if !matches(spec.hardware.cpu, cpuModel) { error("hardware.cpu", "'\(spec.hardware.cpu)' is not a CPU model name") }
        if !matches(spec.hardware.machine, machine) { error("hardware.machine", "'\(spec.hardware.machine)' is not a machine type") }
        if spec.hardware.cores < 1 { error("hardware.cores", "must be at least 1") }
        if spec.hardware.sockets < 1 { error("hardware.sockets", "must be at least 1") }
        if spec.hardware.memory.mebibytes < 16 || !spec.hardware.memory.isWholeMebibytes {
            error("hardware.memory", "\(spec.hardware.memory) is not a whole number of MiB ≥ 16", allowed: "e.g. 2G, 512M")
        }
        if let balloon = spec.hardware.balloon {
            if !balloon.isWholeMebibytes { error("hardware.balloon", "must be a whole number of MiB") }
            if balloon > spec.hardware.memory { error("hardware.balloon", "\(balloon) exceeds memory \(spec.hardware.memory)", allowed: "0..memory") }
        }
        if spec.hardware.disk.size.bytes == 0 || spec.hardware.disk.size.bytes & 1023 != 0 {
            error("hardware.disk.size", "must be a positive whole number of KiB")
        }
        if let image = inputs.image, image.virtualSize > spec.hardware.disk.size.bytes {
            error("hardware.disk.size", "\(spec.hardware.disk.size) is smaller than the image's virtual size \(ByteSize(bytes: image.virtualSize))",
                  allowed: "at least the image's virtual size")
        }
        for (index, disk) in spec.hardware.extraDisks.enumerated() {
            if disk.size.bytes == 0 || !disk.size.isWholeMebibytes {
                error("hardware.extra_disks[\(index)].size", "must be a positive whole number of MiB")
            }
            if !matches(disk.storage, storageID) { error("hardware.extra_disks[\(index)].storage", "'\(disk.storage)' is not a storage ID") }
        }
        if spec.hardware.extraDisks.count > 30 { error("hardware.extra_disks", "too many disks", allowed: "at most 30 (scsi1..scsi30)") }
        var storages = [("hardware.disk.storage", spec.hardware.disk.storage)]
        switch spec.cloudInit.mode {
        case .iso: storages.append(("storage.iso", spec.storage.iso))
        case .snippets: storages.append(("storage.snippets", spec.storage.snippets))
        case .pve: break
        }
        if spec.image != nil || inputs.image != nil { storages.append(("storage.import", spec.storage.import)) }
        for (keyPath, storage) in storages where !matches(storage, storageID) {
            error(keyPath, "'\(storage)' is not a storage ID", allowed: "a letter, then letters, digits, '-', '_', '.'")
        }
        if spec.network.interfaces.count > 32 { error("network.interfaces", "too many NICs", allowed: "at most 32") }
        for interface in spec.network.interfaces {
            let base = "network.interfaces[\(interface.index)]"
            if !matches(interface.mac, mac) { error("\(base).mac", "'\(interface.mac)' is not a unicast MAC address") }
            if !matches(interface.bridge, bridge) { error("\(base).bridge", "'\(interface.bridge)' is not a bridge name") }
            if !nicModels.contains(interface.model) {
                error("\(base).model", "'\(interface.model)' is not a NIC model", allowed: nicModels.sorted().joined(separator: ", "))
            }
            if let vlan = interface.vlan, !(1...4094).contains(vlan) { error("\(base).vlan", "\(vlan) is out of range", allowed: "1..4094") }
            if let mtu = interface.mtu {
                if interface.model != "virtio" { error("\(base).mtu", "Proxmox sets the MTU only on virtio NICs") }
                if !(1...65520).contains(mtu) { error("\(base).mtu", "\(mtu) is out of range", allowed: "1..65520") }
            }
        }
        if let image = inputs.image {
            if !["qcow2", "raw"].contains(image.format) {
                error("image", "image format '\(image.format)' cannot be imported by seedgen's bundle", allowed: "qcow2, raw")
            }
            if !matches(image.sha256, sha256) { error("image", "the image's sha256 is not 64 lower-case hex digits") }
        }
        if spec.cloudInit.mode == .iso, let seed = inputs.seedISO {
            if !matches(seed.name, seedISOName) || seed.name.contains("vm-\(spec.vmid)-cloudinit") {
                error("cloud_init", "seed ISO name '\(seed.name)' is not seedgen-<vmid>-<hash8>.iso")
            }
        }
        if spec.cloudInit.mode == .snippets {
            let oneMiB: UInt64 = 1 << 20
            for file in inputs.snippets where file.size > oneMiB {
                error("cloud_init", "\(file.name) is \(file.size) bytes; Proxmox refuses snippets over 1 MiB", allowed: "use mode: iso")
            }
            if inputs.snippets.reduce(0, { $0 + $1.size }) > 3 * oneMiB {
                error("cloud_init", "the snippets add up to more than 3 MiB, Proxmox's limit", allowed: "use mode: iso")
            }
        }
        return collector.diagnostics
    }

    static func modeDiagnostics(for spec: VMSpec) -> [Diagnostic] {
        let cloudInit = spec.cloudInit
        guard cloudInit.mode == .pve else { return [] }
        var collector = DiagnosticCollector()
        let alternative = "use cloud_init.mode: iso (or snippets)"
        func unsupported(_ keyPath: String, _ what: String) {
            collector.error(
                "\(what) cannot be expressed in cloud_init.mode: pve (Proxmox's own cloud-init drive)",
                at: spec.location(of: keyPath), keyPath: keyPath, allowed: alternative)
        }
        if cloudInit.users.count > 1 { unsupported("cloud_init.users[1]", "a second user") }
        if let user = cloudInit.users.first {
            if !matches(user.name, posixUser) {
                collector.error("'\(user.name)' is not a POSIX user name (Proxmox writes ciuser unquoted)",
                                at: spec.location(of: "cloud_init.users[0].name"), keyPath: "cloud_init.users[0].name",
                                allowed: "lower-case letters, digits, '_', '-'")
            }
            if user.sudo != nil { unsupported("cloud_init.users[0].sudo", "sudo rules") }
            if !user.groups.isEmpty { unsupported("cloud_init.users[0].groups", "groups") }
            if user.shell != nil { unsupported("cloud_init.users[0].shell", "a login shell") }
            if let hash = user.passwordHash, !(hash.hasPrefix("$6$") || hash.hasPrefix("$5$")) {
                collector.error(
                    "qm set --cipassword would hash this password hash again (it only recognises $1$, $5$, $6$, $2a$, $2y$)",
                    at: spec.location(of: "cloud_init.users[0].password_hash"), keyPath: "cloud_init.users[0].password_hash",
                    allowed: "a SHA-512 crypt hash ($6$…, e.g. openssl passwd -6), or use cloud_init.mode: iso")
            }
        }
        if !cloudInit.keepDefaultUser && cloudInit.users.isEmpty { unsupported("cloud_init.keep_default_user", "removing the default user") }
        if cloudInit.sshPwauth { unsupported("cloud_init.ssh_pwauth", "ssh_pwauth") }
        if cloudInit.timezone != nil { unsupported("cloud_init.timezone", "timezone") }
        if cloudInit.locale != nil { unsupported("cloud_init.locale", "locale") }
        if cloudInit.packageUpdate == true { unsupported("cloud_init.package_update", "package_update") }
        if !cloudInit.packages.isEmpty { unsupported("cloud_init.packages", "packages") }
        if !cloudInit.writeFiles.isEmpty { unsupported("cloud_init.write_files", "write_files") }
        if !cloudInit.bootcmd.isEmpty { unsupported("cloud_init.bootcmd", "bootcmd") }
        if !cloudInit.runcmd.isEmpty { unsupported("cloud_init.runcmd", "runcmd") }
        if cloudInit.extra != nil { unsupported("cloud_init.extra", "extra cloud-config keys") }
        if !cloudInit.parts.isEmpty { unsupported("cloud_init.parts", "extra MIME parts") }
        if cloudInit.vendorData != nil { unsupported("cloud_init.vendor_data", "vendor data") }
        if cloudInit.templates.userData != nil { unsupported("cloud_init.templates.user_data", "a user-data template") }
        if cloudInit.templates.networkConfig != nil { unsupported("cloud_init.templates.network_config", "a network-config template") }
        if cloudInit.templates.metaData != nil { unsupported("cloud_init.templates.meta_data", "a meta-data template") }
        if let hostname = cloudInit.hostname, hostname != String(spec.name.split(separator: ".").first ?? "") {
            unsupported("cloud_init.hostname", "a hostname other than the VM name's first label")
        }
        if !spec.name.contains("."), spec.network.search.count > 1 {
            unsupported("network.search", "several search domains with a dot-less name (Proxmox would build the fqdn from all of them)")
        }
        return collector.diagnostics
    }
}
