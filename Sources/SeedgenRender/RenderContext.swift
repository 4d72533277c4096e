import Foundation
import SeedgenSpec

/// The values every template sees (documented in README.md, "Template variables"). Absent optionals are left
/// out rather than stored as nil, so `key: {{value}}` renders an empty value that is then dropped.
/// Keys that are optional inside list entries (`sudo`, `mtu`, `gateway4`, …) never exist at the top
/// level, because Mustache looks a missing key up in the enclosing context.
enum RenderContextBuilder {
    static func context(for spec: VMSpec) -> [String: Any] {
        let cloudInit = spec.cloudInit
        var context: [String: Any] = [
            "name": spec.name,
            "vmid": spec.vmid,
            "hostname": spec.hostname,
            "keep_default_user": cloudInit.keepDefaultUser,
            "users": cloudInit.users.map(userContext),
            "user_entries_present": cloudInit.keepDefaultUser || !cloudInit.users.isEmpty,
            "ssh_pwauth": cloudInit.sshPwauth,
            "package_upgrade": cloudInit.packageUpgrade,
            "packages": cloudInit.packages,
            "write_files": cloudInit.writeFiles.map(writeFileContext),
            "bootcmd": cloudInit.bootcmd.map(commandContext),
            "runcmd": cloudInit.runcmd.map(commandContext),
            "network_config_version": cloudInit.networkConfigVersion,
            "nameservers": spec.network.nameservers,
            "search": spec.network.search,
            "dns_present": !spec.network.nameservers.isEmpty || !spec.network.search.isEmpty,
            "interfaces": interfacesContext(spec.network),
            "local_hostname": spec.hostname,
        ]
        context["fqdn"] = spec.fqdn
        context["description"] = spec.description
        context["node"] = spec.node
        context["timezone"] = cloudInit.timezone
        context["locale"] = cloudInit.locale
        context["package_update"] = cloudInit.packageUpdate
        return context
    }

    private static func userContext(_ user: UserSpec) -> [String: Any] {
        var context: [String: Any] = [
            "name": user.name,
            "ssh_authorized_keys": user.sshAuthorizedKeys,
            "groups": user.groups,
        ]
        context["password_hash"] = user.passwordHash
        context["sudo"] = user.sudo
        context["shell"] = user.shell
        return context
    }

    private static func writeFileContext(_ file: WriteFileSpec) -> [String: Any] {
        var context: [String: Any] = ["path": file.path, "append": file.append, "defer": file.deferred]
        if let text = textContent(of: file) {
            context["content"] = text
        } else {
            context["base64"] = file.content.base64EncodedString()
        }
        context["permissions"] = file.permissions
        context["owner"] = file.owner
        return context
    }

    /// The file's content as text, or nil when it must travel as base64: binary sources, bytes
    /// that are not UTF-8, and control characters that a YAML document cannot carry as themselves.
    static func textContent(of file: WriteFileSpec) -> String? {
        guard !file.binary, let text = String(data: file.content, encoding: .utf8) else { return nil }
        let carriesAsText = text.unicodeScalars.allSatisfy { scalar in
            scalar == "\n" || scalar == "\t"
                || (scalar.value >= 0x20 && scalar.value != 0x7F
                    && !(0x80...0x9F).contains(scalar.value) && scalar.value != 0xFEFF)
        }
        return carriesAsText ? text : nil
    }

    private static func commandContext(_ command: CommandSpec) -> [String: Any] {
        switch command {
        case .shell(let line): return ["shell": line]
        case .argv(let arguments): return ["argv": arguments]
        }
    }

    private static func interfacesContext(_ network: NetworkSpec) -> [[String: Any]] {
        let isStatic: (InterfaceSpec) -> Bool = { interface in
            if case .static = interface.ipv4 { return true }
            if case .static = interface.ipv6 { return true }
            return false
        }
        let dnsConfigured = !network.nameservers.isEmpty || !network.search.isEmpty
        // v2 has only per-interface nameservers: give them to the statically addressed NICs (DHCP
        // brings its own), or to the first NIC when every NIC uses DHCP.
        let anyStatic = network.interfaces.contains(where: isStatic)
        return network.interfaces.enumerated().map { position, interface in
            var context: [String: Any] = [
                "index": interface.index,
                "name": interface.deviceName,
                // cloud-init writes the match into a udev rule that compares case-sensitively
                // with the kernel's lower-case address.
                "mac": interface.mac.text.lowercased(),
                "bridge": interface.bridge,
                "dhcp4": interface.ipv4 == .dhcp,
                "dhcp6": interface.ipv6 == .dhcp,
                "slaac": interface.ipv6 == .slaac,
                "dns": dnsConfigured && (anyStatic ? isStatic(interface) : position == 0),
            ]
            var addresses: [String] = []
            if case .static(let address, let prefix) = interface.ipv4 {
                context["ipv4_address"] = "\(address)/\(prefix)"
                context["ipv4_prefix"] = prefix
                context["ipv4_netmask"] = dottedNetmask(prefix: prefix)
                addresses.append("\(address)/\(prefix)")
            }
            if case .static(let address, let prefix) = interface.ipv6 {
                context["ipv6_address"] = "\(address)/\(prefix)"
                context["ipv6_prefix"] = prefix
                addresses.append("\(address)/\(prefix)")
            }
            context["addresses"] = addresses
            context["gateway4"] = interface.gateway4
            context["gateway6"] = interface.gateway6
            // mtu 1 is Proxmox's "the bridge's MTU", which the virtio driver learns from the host;
            // the guest must not be told to set an MTU of 1.
            context["mtu"] = interface.mtu.flatMap { $0 > 1 ? $0 : nil }
            context["vlan"] = interface.vlan
            return context
        }
    }

    static func dottedNetmask(prefix: Int) -> String {
        let clamped = min(max(prefix, 0), 32)
        let mask: UInt32 = clamped == 0 ? 0 : ~UInt32(0) << UInt32(32 - clamped)
        return [24, 16, 8, 0].map { String((mask >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }
}
