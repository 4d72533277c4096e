import Foundation

/// A size in bytes, parsed from vm.yaml's `512M`, `2G`, `2GiB`, `1.5T` or a bare integer in a
/// default unit (MiB for memory, GiB for disks). Units are binary: `G` and `GiB` both mean 2^30.
public struct ByteSize: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }
    public static func mebibytes(_ value: UInt64) -> ByteSize { ByteSize(bytes: value << 20) }
    public static func gibibytes(_ value: UInt64) -> ByteSize { ByteSize(bytes: value << 30) }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public enum DefaultUnit: Sendable {
        case mebibytes
        case gibibytes

        var shift: UInt64 { self == .mebibytes ? 20 : 30 }
    }

    /// Parses `text`; nil when it is not a size. A bare number takes `defaultUnit`.
    public static func parse(_ text: String, defaultUnit: DefaultUnit) -> ByteSize? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let firstUnit = trimmed.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? trimmed.endIndex
        let number = String(trimmed[..<firstUnit])
        let unit = trimmed[firstUnit...].lowercased()
        guard !number.isEmpty, let value = Decimal(string: number), value >= 0 else { return nil }
        let shift: UInt64
        switch unit {
        case "": shift = defaultUnit.shift
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        default: return nil
        }
        let scaled = value * Decimal(sign: .plus, exponent: 0, significand: Decimal(UInt64(1) << shift))
        var rounded = Decimal()
        var input = scaled
        NSDecimalRound(&rounded, &input, 0, .plain)
        guard rounded == scaled, let bytes = UInt64(exactly: NSDecimalNumber(decimal: rounded).uint64Value),
            Decimal(bytes) == rounded
        else {
            return nil
        }
        return ByteSize(bytes: bytes)
    }

    public var mebibytes: UInt64 { bytes >> 20 }
    public var isWholeMebibytes: Bool { bytes & ((1 << 20) - 1) == 0 }
    public var isWholeGibibytes: Bool { bytes & ((1 << 30) - 1) == 0 }

    /// The form `qm disk resize` takes: `20G`, else `20480M`, else `K`.
    public var qmSize: String {
        if isWholeGibibytes { return "\(bytes >> 30)G" }
        if isWholeMebibytes { return "\(bytes >> 20)M" }
        return "\((bytes + 1023) >> 10)K"
    }

    /// The one way seedgen shows a byte count to a person: `512 B`, else binary units with
    /// `decimals` digits (`1.5 MiB`, `3.00 MiB`).
    public static func readable(_ bytes: UInt64, decimals: Int = 1) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.\(decimals)f %@", value, units[unit])
    }

    public var description: String {
        if bytes >= 1 << 30, isWholeGibibytes { return "\(bytes >> 30)G" }
        if isWholeMebibytes { return "\(bytes >> 20)M" }
        return "\(bytes)B"
    }
}
