import Foundation
import SeedgenCore

/// vm.yaml's Proxmox values, each checked once against its format in Proxmox's own code
/// (`shared/reference/qm-options.json`) when the file is decoded. A value of one of these types is
/// valid by construction, so the stages after Spec (Render, Bundle, Apply) use it without checking
/// it again; their own checks are the rules across fields.
public protocol ProxmoxValue: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// What the value is, for errors ("a storage ID").
    static var what: String { get }
    /// What is accepted, in the words of an error's `allowed:`.
    static var allowed: String { get }
    /// The value as vm.yaml wrote it and `qm` takes it.
    var text: String { get }
    /// Nil when `text` is not of this format.
    init?(_ text: String)
}

extension ProxmoxValue {
    public var description: String { text }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.text < rhs.text }

    /// A value the code itself writes (a default, a literal in a test): it must be valid, or the
    /// code has a bug, and the process stops.
    init(known text: String) {
        guard let value = Self(text) else { preconditionFailure("'\(text)' is not \(Self.what)") }
        self = value
    }
}

/// A literal in code is checked like vm.yaml's text: an invalid one stops the process.
extension DNSName: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension StorageID: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension BridgeName: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension MACAddress: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension ProxmoxTag: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension PoolName: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) { self.init(known: text) }
}
extension VMID: ExpressibleByIntegerLiteral {
    public init(integerLiteral number: Int) {
        guard let value = VMID(number) else { preconditionFailure("\(number) is not \(Self.what)") }
        self = value
    }
}

/// A value of a fixed pattern: the text is kept as written.
public protocol PatternedProxmoxValue: ProxmoxValue {
    static var pattern: String { get }
    init(unchecked text: String)
}

extension PatternedProxmoxValue {
    public init?(_ text: String) {
        guard TextPattern.matches(text, Self.pattern) else { return nil }
        self.init(unchecked: text)
    }
}

/// A VM's id: 100..999999999 (`pve-vmid`, `^[1-9][0-9]{2,8}$`).
public struct VMID: ProxmoxValue {
    public static let range = 100...999_999_999
    public static let what = "a Proxmox VMID"
    public static let allowed = "an integer 100..999999999"
    public let number: Int
    public var text: String { String(number) }

    public init?(_ number: Int) {
        guard Self.range.contains(number) else { return nil }
        self.number = number
    }

    public init?(_ text: String) {
        guard let number = Int(text), String(number) == text else { return nil }
        self.init(number)
    }
}

/// A DNS name as Proxmox checks a VM or node name (`dns-name`): labels of letters and digits with
/// inner '-', joined by '.'; no '_', no trailing dot. Labels are also kept to 63 characters (and the
/// name to 253), which Proxmox does not check but a guest's resolver and hostname need.
public struct DNSName: ProxmoxValue {
    public static let what = "a valid DNS name"
    public static let allowed =
        "letters, digits and inner hyphens in dot-separated labels of at most 63 characters; no '_'"
    public let text: String

    public init?(_ text: String) {
        guard AddressRules.isDNSName(text) else { return nil }
        self.text = text
    }

    /// The first label: the guest's hostname.
    public var firstLabel: String { String(text.split(separator: ".").first ?? Substring(text)) }
}

/// A storage ID (`pve-storage-id`): a letter, then letters, digits, '-', '_', '.', ending in a letter
/// or digit; at least 2 characters.
public struct StorageID: PatternedProxmoxValue {
    public static let pattern = #"^[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]$"#
    public static let what = "a valid Proxmox storage id"
    public static let allowed =
        "a letter, then letters, digits, '-', '_', '.'; ending in a letter or digit; at least 2 characters"
    public let text: String
    public init(unchecked text: String) { self.text = text }

    public static let local = StorageID(known: "local")
    public static let localLVM = StorageID(known: "local-lvm")
}

/// A Linux bridge interface name, as `netN`'s `bridge=` takes it (at most 15 characters).
public struct BridgeName: PatternedProxmoxValue {
    public static let pattern = #"^[A-Za-z][A-Za-z0-9_.-]{0,14}$"#
    public static let what = "a valid bridge name"
    public static let allowed = "a Linux interface name such as vmbr0 (at most 15 characters)"
    public let text: String
    public init(unchecked text: String) { self.text = text }

    public static let vmbr0 = BridgeName(known: "vmbr0")
}

/// A unicast MAC address as `netN`'s `macaddr=` takes it (the first octet even), in upper-case colon
/// form (`BC:24:11:12:34:56`): the same string on the VM's NIC and in network-config. vm.yaml may
/// write it in either case, with ':' or '-'.
public struct MACAddress: ProxmoxValue {
    public static let pattern = #"^[A-F0-9][02468ACE](?::[A-F0-9]{2}){5}$"#
    public static let what = "a valid unicast MAC address"
    public static let allowed = "six ':'-separated hex pairs, the first even (unicast), e.g. BC:24:11:00:00:01"
    public let text: String

    public init?(_ text: String) {
        guard let normalized = AddressRules.normalizeMAC(text), TextPattern.matches(normalized, Self.pattern) else {
            return nil
        }
        self.text = normalized
    }
}

/// A Proxmox tag (`pve-tag`): letters, digits, '_', then also '+', '.', '-'.
public struct ProxmoxTag: PatternedProxmoxValue {
    public static let pattern = #"^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$"#
    public static let what = "a valid Proxmox tag"
    public static let allowed = "letters, digits, '_', '+', '.', '-'; not starting with '+', '.', '-'"
    public let text: String
    public init(unchecked text: String) { self.text = text }
}

/// A resource pool name (`verify_poolname`): up to 3 '/'-separated levels.
public struct PoolName: PatternedProxmoxValue {
    public static let pattern = #"^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$"#
    public static let what = "a valid pool name"
    public static let allowed = "letters, digits, '.', '-', '_', up to 3 '/'-separated levels"
    public let text: String
    public init(unchecked text: String) { self.text = text }
}

/// A NIC model `netN` accepts (qemu-server's `$nic_model_list`).
public enum NICModel: String, ProxmoxValue, CaseIterable {
    case virtio
    case e1000
    case e1000_82540em = "e1000-82540em"
    case e1000_82544gc = "e1000-82544gc"
    case e1000_82545em = "e1000-82545em"
    case e1000e
    case i82551
    case i82557b
    case i82559er
    case ne2kISA = "ne2k_isa"
    case ne2kPCI = "ne2k_pci"
    case pcnet
    case rtl8139
    case vmxnet3

    public static let what = "a NIC model"
    public static var allowed: String { allCases.map(\.rawValue).joined(separator: ", ") }
    public var text: String { rawValue }
    public init?(_ text: String) { self.init(rawValue: text) }
}

/// The description Proxmox stores: at most 8192 characters (`$confdesc` description maxLength),
/// which must also hold seedgen's marker line.
public enum ProxmoxDescription {
    public static let proxmoxLimit = 8192
    /// The marker line seedgen appends (`seedgen: <path> <hash>`) with its separator: room kept for it.
    public static let markerAllowance = 120
    public static var userLimit: Int { proxmoxLimit - markerAllowance }
}

/// A NIC's MTU as `netN`'s `mtu=` takes it: 1..65520, where 1 means "the bridge's MTU".
public enum ProxmoxMTU {
    public static let range = 1...65520
}

/// The extra disks vm.yaml can add: scsi0 is the boot disk, Proxmox has scsi0..scsi30.
public enum ProxmoxDiskSlots {
    public static let extraDiskLimit = 30
}
