import Foundation
import SeedgenCore

/// IP address, CIDR and MAC rules, with the same limits Proxmox applies (qm-options.json).
public enum AddressRules {
    /// Parsed IPv4 or IPv6 address bytes (4 or 16).
    public static func addressBytes(_ text: String, family: Int32) -> [UInt8]? {
        var storage = [UInt8](repeating: 0, count: 16)
        let ok = text.withCString { pointer in
            storage.withUnsafeMutableBytes { inet_pton(family, pointer, $0.baseAddress) }
        }
        guard ok == 1 else { return nil }
        return Array(storage.prefix(family == AF_INET ? 4 : 16))
    }

    public static func isIPv4(_ text: String) -> Bool { addressBytes(text, family: AF_INET) != nil }
    public static func isIPv6(_ text: String) -> Bool { addressBytes(text, family: AF_INET6) != nil }
    public static func isIPAddress(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    /// `address/prefix` for the given family; nil when malformed.
    public static func parseCIDR(_ text: String, family: Int32) -> (address: String, prefix: Int, bytes: [UInt8])? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), String(prefix) == parts[1] else { return nil }
        let address = String(parts[0])
        guard let bytes = addressBytes(address, family: family) else { return nil }
        guard (0...(bytes.count * 8)).contains(prefix) else { return nil }
        return (address, prefix, bytes)
    }

    /// True when `a` and `b` share the first `prefix` bits.
    public static func sameSubnet(_ a: [UInt8], _ b: [UInt8], prefix: Int) -> Bool {
        guard a.count == b.count else { return false }
        var remaining = prefix
        for index in 0..<a.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a[index] & mask != b[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// The dotted netmask of an IPv4 prefix (network-config v1 uses it).
    public static func ipv4Netmask(prefix: Int) -> String {
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefix))
        return [24, 16, 8, 0].map { String((mask >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }

    /// A MAC in `AA:BB:CC:DD:EE:FF` form (either case, `:` or `-`), normalised to upper case with `:`.
    public static func normalizeMAC(_ text: String) -> String? {
        let parts = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) else { return nil }
        return parts.joined(separator: ":").uppercased()
    }

    /// Proxmox's default MAC prefix (datacenter `mac_prefix`).
    public static let proxmoxMACPrefix = "BC:24:11"

    /// A MAC that depends only on the vmid and the NIC index, so rebuilding gives the same MAC and
    /// the seed's network-config keeps matching the VM: the PVE prefix plus 3 bytes of
    /// sha256("seedgen-mac:<vmid>:<index>").
    public static func derivedMAC(vmid: Int, index: Int) -> MACAddress {
        let digest = Digest.sha256Hex(Data("seedgen-mac:\(vmid):\(index)".utf8))
        let bytes = stride(from: 0, to: 6, by: 2).map { offset -> String in
            let start = digest.index(digest.startIndex, offsetBy: offset)
            return String(digest[start..<digest.index(start, offsetBy: 2)]).uppercased()
        }
        return MACAddress(known: ([proxmoxMACPrefix] + bytes).joined(separator: ":"))
    }

    /// A DNS name as Proxmox's `dns-name` format accepts it: labels of letters, digits and inner
    /// hyphens, joined by dots; no underscore, no trailing dot.
    public static func isDNSName(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDNSLabel)
    }

    static func isDNSLabel<S: StringProtocol>(_ label: S) -> Bool {
        guard (1...63).contains(label.count), let first = label.first, let last = label.last else { return false }
        guard first.isASCII, first.isLetter || first.isNumber, last.isASCII, last.isLetter || last.isNumber else {
            return false
        }
        return label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
