import Foundation
import SeedgenCore

extension VMSpecDecoding {
    /// `vmid` is nil when the file's own is invalid (that is reported already): MACs are then derived
    /// from 0, only so that the rest of the file is still checked.
    mutating func decodeNetwork(_ node: SpecNode?, vmid: VMID?) -> NetworkSpec {
        let vmid = vmid?.number ?? 0
        var network = NetworkSpec()
        network.interfaces = [defaultInterface(vmid: vmid)]
        guard let node, let map = decoder.map(node, "network", allowed: ["nameservers", "search", "interfaces"]) else {
            return network
        }
        if let servers = decoder.stringList(map["nameservers"], "network.nameservers") {
            for (index, server) in servers.enumerated() where !AddressRules.isIPAddress(server) {
                decoder.error(
                    "'\(server)' is not an IP address", map["nameservers"]?.kind.listItem(index) ?? map["nameservers"],
                    "network.nameservers[\(index)]", allowed: "IPv4 or IPv6 addresses")
            }
            network.nameservers = servers
        }
        if let domains = decoder.stringList(map["search"], "network.search") {
            for (index, domain) in domains.enumerated() where !AddressRules.isDNSName(domain) {
                decoder.error(
                    "'\(domain)' is not a valid DNS domain", map["search"]?.kind.listItem(index) ?? map["search"],
                    "network.search[\(index)]")
            }
            network.search = domains
        }
        if let items = decoder.list(map["interfaces"], "network.interfaces") {
            network.interfaces = []
            for (index, item) in items.enumerated() {
                if let interface = decodeInterface(item, index: index, vmid: vmid) {
                    network.interfaces.append(interface)
                }
            }
            if items.count > 32 {
                decoder.error(
                    "too many interfaces (\(items.count))", map["interfaces"], "network.interfaces",
                    allowed: "at most 32 (net0..net31)")
            }
        }
        var seen: [MACAddress: String] = [:]
        for interface in network.interfaces {
            let path = "network.interfaces[\(interface.index)].mac"
            if let first = seen[interface.mac] {
                decoder.diagnostics.error(
                    "duplicate MAC \(interface.mac), also used by \(first)", at: decoder.locations[path], keyPath: path,
                    allowed: "every NIC needs its own MAC")
            } else {
                seen[interface.mac] = path
            }
        }
        return network
    }

    private func defaultInterface(vmid: Int) -> InterfaceSpec {
        var interface = InterfaceSpec(index: 0, mac: AddressRules.derivedMAC(vmid: vmid, index: 0))
        interface.macDerived = true
        return interface
    }

    private mutating func decodeInterface(_ node: SpecNode, index: Int, vmid: Int) -> InterfaceSpec? {
        let path = "network.interfaces[\(index)]"
        let keys = ["bridge", "model", "mac", "vlan", "firewall", "mtu", "ipv4", "gateway4", "ipv6", "gateway6"]
        guard let map = decoder.map(node, path, allowed: keys) else { return nil }
        var interface = InterfaceSpec(index: index, mac: AddressRules.derivedMAC(vmid: vmid, index: index))
        interface.macDerived = true
        interface.bridge = decoder.value(map["bridge"], "\(path).bridge", as: BridgeName.self) ?? interface.bridge
        if let model = decoder.choice(map["model"], "\(path).model", from: NICModel.allCases.map(\.rawValue)).flatMap({
            NICModel(rawValue: $0)
        }) {
            interface.model = model
        }
        if let macNode = map["mac"], let text = decoder.string(macNode, "\(path).mac") {
            if let normalized = AddressRules.normalizeMAC(text) {
                if let mac = MACAddress(normalized) {
                    interface.mac = mac
                    interface.macDerived = false
                } else {
                    decoder.error(
                        "\(normalized) is a multicast MAC", macNode, "\(path).mac",
                        allowed: "a unicast MAC: the first octet's lowest bit must be 0, e.g. BC:24:11:…")
                }
            } else {
                decoder.error(
                    "'\(text)' is not a MAC address", macNode, "\(path).mac",
                    allowed: "six hex octets like BC:24:11:12:34:56")
            }
        }
        decoder.locations["\(path).mac"] = map["mac"]?.location ?? node.location
        interface.vlan = decoder.int(map["vlan"], "\(path).vlan", range: 1...4094)
        interface.firewall = decoder.bool(map["firewall"], "\(path).firewall") ?? interface.firewall
        interface.mtu = decoder.int(map["mtu"], "\(path).mtu", range: ProxmoxMTU.range)
        if interface.mtu != nil, interface.model != .virtio {
            decoder.error("Proxmox sets mtu only on virtio NICs", map["mtu"], "\(path).mtu", allowed: "model: virtio")
        }

        var ipv4Network: (bytes: [UInt8], prefix: Int)?
        if let ipv4Node = map["ipv4"], let text = decoder.string(ipv4Node, "\(path).ipv4") {
            if text == "dhcp" {
                interface.ipv4 = .dhcp
            } else if let cidr = AddressRules.parseCIDR(text, family: AF_INET), cidr.prefix >= 1 {
                interface.ipv4 = .static(address: cidr.address, prefix: cidr.prefix)
                ipv4Network = (cidr.bytes, cidr.prefix)
            } else {
                decoder.error(
                    "'\(text)' is not an IPv4 address with prefix", ipv4Node, "\(path).ipv4",
                    allowed: "dhcp, or a CIDR such as 192.0.2.10/24")
            }
        } else {
            // SPEC §2: an omitted ipv4 means no IPv4 configuration on this NIC.
            interface.ipv4 = .none
        }
        if let gatewayNode = map["gateway4"], let gateway = decoder.string(gatewayNode, "\(path).gateway4") {
            if let bytes = AddressRules.addressBytes(gateway, family: AF_INET) {
                if let ipv4Network {
                    if !AddressRules.sameSubnet(bytes, ipv4Network.bytes, prefix: ipv4Network.prefix) {
                        decoder.error(
                            "gateway \(gateway) is outside the interface's ipv4 subnet", gatewayNode,
                            "\(path).gateway4", allowed: "an address inside the interface's ipv4 subnet")
                    }
                } else {
                    decoder.error(
                        "gateway4 needs a static ipv4 address on this interface", gatewayNode, "\(path).gateway4",
                        allowed: "set ipv4: ADDRESS/PREFIX, or remove gateway4 (DHCP brings its own gateway)")
                }
                interface.gateway4 = gateway
            } else {
                decoder.error("'\(gateway)' is not an IPv4 address", gatewayNode, "\(path).gateway4")
            }
        }

        var ipv6Network: (bytes: [UInt8], prefix: Int)?
        if let ipv6Node = map["ipv6"], let text = decoder.string(ipv6Node, "\(path).ipv6") {
            switch text {
            case "dhcp": interface.ipv6 = .dhcp
            case "slaac", "auto": interface.ipv6 = .slaac
            default:
                if let cidr = AddressRules.parseCIDR(text, family: AF_INET6), cidr.prefix >= 1 {
                    interface.ipv6 = .static(address: cidr.address, prefix: cidr.prefix)
                    ipv6Network = (cidr.bytes, cidr.prefix)
                } else {
                    decoder.error(
                        "'\(text)' is not an IPv6 address with prefix", ipv6Node, "\(path).ipv6",
                        allowed: "dhcp, slaac, or a CIDR such as 2001:db8::10/64")
                }
            }
        }
        if let gatewayNode = map["gateway6"], let gateway = decoder.string(gatewayNode, "\(path).gateway6") {
            if let bytes = AddressRules.addressBytes(gateway, family: AF_INET6) {
                if let ipv6Network {
                    // A link-local gateway (fe80::/10) is valid whatever the prefix.
                    let linkLocal = bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80
                    if !linkLocal, !AddressRules.sameSubnet(bytes, ipv6Network.bytes, prefix: ipv6Network.prefix) {
                        decoder.error(
                            "gateway \(gateway) is outside the interface's ipv6 subnet", gatewayNode,
                            "\(path).gateway6",
                            allowed: "an address inside the ipv6 subnet, or a link-local fe80:: address")
                    }
                } else {
                    decoder.error(
                        "gateway6 needs a static ipv6 address on this interface", gatewayNode, "\(path).gateway6",
                        allowed: "set ipv6: ADDRESS/PREFIX, or remove gateway6")
                }
                interface.gateway6 = gateway
            } else {
                decoder.error("'\(gateway)' is not an IPv6 address", gatewayNode, "\(path).gateway6")
            }
        }
        if interface.ipv4 == .none, interface.ipv6 == .none {
            decoder.warning(
                "no ipv4 or ipv6: cloud-init leaves this NIC unconfigured", node, path,
                allowed: "add ipv4: dhcp (or a static address) if the guest should use it")
        }
        return interface
    }
}
