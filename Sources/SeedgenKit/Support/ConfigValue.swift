import Foundation

/// A YAML/JSON value tree that keeps map key order, used for cloud-config documents and for the
/// user's raw `extra:` keys. Scalars keep their resolved type so emitting never turns the string
/// `"yes"` into the boolean `yes`.
public indirect enum ConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case map([(key: String, value: ConfigValue)])

    public static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v): hasher.combine(1); hasher.combine(v)
        case .int(let v): hasher.combine(2); hasher.combine(v)
        case .double(let v): hasher.combine(3); hasher.combine(v)
        case .string(let v): hasher.combine(4); hasher.combine(v)
        case .list(let v): hasher.combine(5); hasher.combine(v)
        case .map(let pairs):
            hasher.combine(6)
            for pair in pairs {
                hasher.combine(pair.key)
                hasher.combine(pair.value)
            }
        }
    }

    /// The value under `key` when this is a map.
    public subscript(key: String) -> ConfigValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// Deep merge: maps merge key by key (`other` wins, new keys appended in order),
    /// everything else — lists included — is replaced by `other`.
    public func merging(_ other: ConfigValue) -> ConfigValue {
        guard case .map(var pairs) = self, case .map(let otherPairs) = other else { return other }
        for (key, value) in otherPairs {
            if let index = pairs.firstIndex(where: { $0.key == key }) {
                pairs[index].value = pairs[index].value.merging(value)
            } else {
                pairs.append((key, value))
            }
        }
        return .map(pairs)
    }
}
