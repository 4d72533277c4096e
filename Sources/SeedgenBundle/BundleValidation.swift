import Foundation
import SeedgenCore
import SeedgenNoCloud
import SeedgenSpec

/// The bundle's own rules: those across fields and those on what other stages hand over (the image,
/// the seed ISO). Every single value of a `VMSpec` was checked when vm.yaml was decoded (its Proxmox
/// values are typed: `VMID`, `StorageID`, `MACAddress`, …), so nothing here checks one again.
enum BundleValidation {
    static let seedISOName = #"^seedgen-[0-9]+-[0-9a-f]{8}\.iso$"#
    static let sha256 = #"^[0-9a-f]{64}$"#
    static let posixUser = #"^[a-z_][a-z0-9_-]*$"#

    /// The rules that need only the VM file (run by `validate` too): the description beside the marker.
    static func specDiagnostics(for spec: VMSpec, description: String) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        func error(_ keyPath: String, _ message: String, allowed: String? = nil) {
            collector.error(message, at: spec.location(of: keyPath), keyPath: keyPath, allowed: allowed)
        }

        // Proxmox counts characters (Perl's length of the decoded text), and the VM's description is
        // the user's text, a blank line and seedgen's marker, whose length depends on name and vmid.
        let length = description.unicodeScalars.count
        if length > ProxmoxDescription.proxmoxLimit, let own = spec.description {
            let room = ProxmoxDescription.proxmoxLimit - (length - own.unicodeScalars.count)
            error(
                "description",
                "is \(own.unicodeScalars.count) characters long; with seedgen's marker line Proxmox's limit of "
                    + "\(ProxmoxDescription.proxmoxLimit) leaves room for \(room)",
                allowed: "at most \(room) characters for this VM")
        }
        return collector.diagnostics
    }

    /// The rules on what the other stages hand over: the image against the disk, its format and
    /// digest, the seed ISO's name, the snippets' sizes.
    static func diagnostics(for spec: VMSpec, inputs: BundleInputs) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        func error(_ keyPath: String, _ message: String, allowed: String? = nil) {
            collector.error(message, at: spec.location(of: keyPath), keyPath: keyPath, allowed: allowed)
        }

        if let image = inputs.image, image.virtualSize > spec.hardware.disk.size.bytes {
            error(
                "hardware.disk.size",
                "\(spec.hardware.disk.size) is smaller than the image's virtual size "
                    + "\(ByteSize(bytes: image.virtualSize))",
                allowed: "at least the image's virtual size")
        }
        if let image = inputs.image {
            if !["qcow2", "raw"].contains(image.format) {
                error(
                    "image", "image format '\(image.format)' cannot be imported by seedgen's bundle",
                    allowed: "qcow2, raw")
            }
            if !TextPattern.matches(image.sha256, sha256) {
                error("image", "the image's sha256 is not 64 lower-case hex digits")
            }
        }
        if spec.cloudInit.mode == .iso, let seed = inputs.seedISO {
            if !TextPattern.matches(seed.name, seedISOName) || seed.name.contains("vm-\(spec.vmid)-cloudinit") {
                error("cloud_init", "seed ISO name '\(seed.name)' is not seedgen-<vmid>-<hash8>.iso")
            }
        }
        if spec.cloudInit.mode == .snippets {
            let oneMiB = UInt64(SeedSizeLimit.proxmoxFileBytes)
            for file in inputs.snippets where file.size > oneMiB {
                error(
                    "cloud_init", "\(file.name) is \(file.size) bytes; Proxmox refuses snippets over 1 MiB",
                    allowed: "use mode: iso")
            }
            if inputs.snippets.reduce(0, { $0 + $1.size }) > UInt64(SeedSizeLimit.proxmoxTotalBytes) {
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
            if !TextPattern.matches(user.name, posixUser) {
                collector.error(
                    "'\(user.name)' is not a POSIX user name (Proxmox writes ciuser unquoted)",
                    at: spec.location(of: "cloud_init.users[0].name"), keyPath: "cloud_init.users[0].name",
                    allowed: "lower-case letters, digits, '_', '-'")
            }
            if user.sudo != nil { unsupported("cloud_init.users[0].sudo", "sudo rules") }
            if !user.groups.isEmpty { unsupported("cloud_init.users[0].groups", "groups") }
            if user.shell != nil { unsupported("cloud_init.users[0].shell", "a login shell") }
            if let hash = user.passwordHash, !(hash.hasPrefix("$6$") || hash.hasPrefix("$5$")) {
                collector.error(
                    "qm set --cipassword would hash this password hash again (it only recognises $1$, $5$, $6$, $2a$, "
                        + "$2y$)",
                    at: spec.location(of: "cloud_init.users[0].password_hash"),
                    keyPath: "cloud_init.users[0].password_hash",
                    allowed: "a SHA-512 crypt hash ($6$…, e.g. openssl passwd -6), or use cloud_init.mode: iso")
            }
        }
        if !cloudInit.keepDefaultUser && cloudInit.users.isEmpty {
            unsupported("cloud_init.keep_default_user", "removing the default user")
        }
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
        if cloudInit.templates.networkConfig != nil {
            unsupported("cloud_init.templates.network_config", "a network-config template")
        }
        if cloudInit.templates.metaData != nil { unsupported("cloud_init.templates.meta_data", "a meta-data template") }
        if let hostname = cloudInit.hostname, hostname != spec.name.firstLabel {
            unsupported("cloud_init.hostname", "a hostname other than the VM name's first label")
        }
        if !spec.name.text.contains("."), spec.network.search.count > 1 {
            unsupported(
                "network.search",
                "several search domains with a dot-less name (Proxmox would build the fqdn from all of them)")
        }
        return collector.diagnostics
    }
}
