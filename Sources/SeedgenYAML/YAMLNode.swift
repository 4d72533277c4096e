import Foundation

/// Where a node starts in its YAML text, 1-based as editors count.
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// The tags PyYAML's safe loader (cloud-init's reader) constructs; every other tag is refused, as
/// it refuses them.
public enum YAMLTag: String, Sendable, Hashable {
    case null, bool, int, float, str, binary, timestamp
    case seq, map, set, omap, pairs

    static let prefix = "tag:yaml.org,2002:"

    public var fullName: String { Self.prefix + rawValue }

    init?(fullName: String) {
        guard fullName.hasPrefix(Self.prefix) else { return nil }
        self.init(rawValue: String(fullName.dropFirst(Self.prefix.count)))
    }

    var isScalar: Bool {
        switch self {
        case .null, .bool, .int, .float, .str, .binary, .timestamp: return true
        case .seq, .map, .set, .omap, .pairs: return false
        }
    }
}

/// A scalar's value as PyYAML constructs it. `int` holds what fits in 64 bits; larger integers keep
/// their digits (`bigInt`, normalised text), which is all seedgen needs of them: it never computes
/// with user values, it only compares and writes them.
public enum YAMLScalarValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case bigInt(String)
    case float(Double)
    case string(String)
    case binary(Data)
    /// A date or date-time, by its text (seedgen writes it back as written).
    case timestamp(String)

    public static func == (lhs: YAMLScalarValue, rhs: YAMLScalarValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.bigInt(let a), .bigInt(let b)): return a == b
        // Identical, not numerically equal: NaN equals NaN and -0.0 differs from 0.0.
        case (.float(let a), .float(let b)): return a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): return a == b
        case (.binary(let a), .binary(let b)): return a == b
        case (.timestamp(let a), .timestamp(let b)): return a == b
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v): hasher.combine(1); hasher.combine(v)
        case .int(let v): hasher.combine(2); hasher.combine(v)
        case .bigInt(let v): hasher.combine(3); hasher.combine(v)
        case .float(let v): hasher.combine(4); hasher.combine(v.isNaN ? 0 : v.bitPattern)
        case .string(let v): hasher.combine(5); hasher.combine(v)
        case .binary(let v): hasher.combine(6); hasher.combine(v)
        case .timestamp(let v): hasher.combine(7); hasher.combine(v)
        }
    }
}

/// One scalar: its text as written, the tag it resolved to and the value PyYAML makes of it.
public struct YAMLScalar: Sendable, Hashable {
    public var text: String
    public var tag: YAMLTag
    public var value: YAMLScalarValue

    public static func == (lhs: YAMLScalar, rhs: YAMLScalar) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    /// A scalar of `tag` written as `text`; nil when PyYAML could not construct it.
    public init?(text: String, tag: YAMLTag) {
        guard let value = YAMLConstructor.construct(text, tag: tag) else { return nil }
        self.text = text
        self.tag = tag
        self.value = value
    }

    init(text: String, tag: YAMLTag, value: YAMLScalarValue) {
        self.text = text
        self.tag = tag
        self.value = value
    }

    public static func string(_ text: String) -> YAMLScalar { YAMLScalar(text: text, tag: .str, value: .string(text)) }
}

public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A YAML node with its position: the one tree seedgen reads every YAML file into (vm.yaml,
/// templates, `extra`, catalogs, Ansible variables) and writes cloud-init files from.
///
/// Aliases are expanded and merge keys (`<<`) applied while reading, exactly as PyYAML does before
/// it hands the document to cloud-init, so a tree is always the plain value cloud-init sees.
public struct YAMLNode: Sendable {
    public enum Kind: Sendable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public var kind: Kind
    /// `seq` or `map` unless the document tagged the collection `!!set`, `!!omap` or `!!pairs`;
    /// for scalars, the scalar's own tag.
    public var tag: YAMLTag
    public var mark: YAMLMark

    public init(_ kind: Kind, tag: YAMLTag? = nil, mark: YAMLMark = YAMLMark(line: 1, column: 1)) {
        self.kind = kind
        switch kind {
        case .scalar(let scalar): self.tag = scalar.tag
        case .sequence: self.tag = tag ?? .seq
        case .mapping: self.tag = tag ?? .map
        }
        self.mark = mark
    }

    // MARK: Building values

    public static let null = YAMLNode(.scalar(YAMLScalar(text: "null", tag: .null, value: .null)))

    public static func string(_ text: String) -> YAMLNode { YAMLNode(.scalar(.string(text))) }

    public static func bool(_ value: Bool) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: value ? "true" : "false", tag: .bool, value: .bool(value))))
    }

    public static func int(_ value: Int) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: String(value), tag: .int, value: .int(value))))
    }

    public static func list(_ items: [YAMLNode]) -> YAMLNode { YAMLNode(.sequence(items)) }

    /// A mapping with string keys.
    public static func map(_ pairs: [(key: String, value: YAMLNode)]) -> YAMLNode {
        YAMLNode(.mapping(pairs.map { YAMLPair(key: .string($0.key), value: $0.value) }))
    }

    // MARK: Reading values

    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = kind { return scalar }
        return nil
    }

    public var isNull: Bool { scalar?.value == .null }

    /// The text of a string scalar.
    public var string: String? {
        if case .scalar(let scalar) = kind, case .string(let text) = scalar.value { return text }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// The value under the string key `key` when this is a mapping.
    public subscript(key: String) -> YAMLNode? {
        pairs?.first { $0.key.string == key }?.value
    }

    /// The key written as text, for messages and for key paths (`1`, `true`, `name`).
    public var keyText: String {
        switch kind {
        case .scalar(let scalar): return scalar.text
        case .sequence: return "[…]"
        case .mapping: return "{…}"
        }
    }

    // MARK: Comparing and merging

    /// True when PyYAML reads both as the same value of the same types (NaN equals NaN here).
    public func isIdentical(to other: YAMLNode) -> Bool {
        guard tag == other.tag || (kind.isScalar && other.kind.isScalar) else { return false }
        switch (kind, other.kind) {
        case (.scalar(let a), .scalar(let b)): return a.value == b.value
        case (.sequence(let a), .sequence(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isIdentical(to: $1) }
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count
                && zip(a, b).allSatisfy { $0.key.isIdentical(to: $1.key) && $0.value.isIdentical(to: $1.value) }
        default: return false
        }
    }

    /// Deep merge: mappings merge key by key (`other` wins, new keys appended in order, keys equal
    /// as Python compares dict keys), everything else — lists included — is replaced by `other`.
    public func merging(_ other: YAMLNode) -> YAMLNode {
        guard case .mapping(var mine) = kind, case .mapping(let theirs) = other.kind, tag == .map, other.tag == .map
        else {
            return other
        }
        var index: [YAMLKeyIdentity: Int] = [:]
        for (position, pair) in mine.enumerated() { index[pair.key.keyIdentity] = position }
        for pair in theirs {
            let identity = pair.key.keyIdentity
            if let position = index[identity] {
                mine[position].value = mine[position].value.merging(pair.value)
            } else {
                index[identity] = mine.count
                mine.append(pair)
            }
        }
        return YAMLNode(.mapping(mine), tag: .map, mark: mark)
    }

    /// This tree without mapping entries whose value is null, at any depth.
    public func droppingNullEntries() -> YAMLNode {
        switch kind {
        case .scalar: return self
        // The entries of `!!omap` and `!!pairs` are ordered pairs, not mappings: a null is a value.
        case .sequence where tag != .seq: return self
        case .sequence(let items):
            return YAMLNode(.sequence(items.map { $0.droppingNullEntries() }), tag: tag, mark: mark)
        case .mapping(let pairs):
            // A `!!set` is a mapping of keys to nulls: its nulls are its content.
            if tag == .set { return self }
            return YAMLNode(
                .mapping(
                    pairs.compactMap {
                        $0.value.isNull ? nil : YAMLPair(key: $0.key, value: $0.value.droppingNullEntries())
                    }),
                tag: tag, mark: mark)
        }
    }

    /// This mapping with the string key `key` set to `value` as its first entry.
    public func settingFirst(_ key: String, to value: YAMLNode) -> YAMLNode {
        guard case .mapping(let pairs) = kind else { return .map([(key: key, value: value)]) }
        return YAMLNode(
            .mapping([YAMLPair(key: .string(key), value: value)] + pairs.filter { $0.key.string != key }), tag: tag,
            mark: mark)
    }

    var keyIdentity: YAMLKeyIdentity {
        guard case .scalar(let scalar) = kind else { return .unhashable }
        return YAMLKeyIdentity(scalar.value)
    }
}

extension YAMLNode.Kind {
    var isScalar: Bool {
        if case .scalar = self { return true }
        return false
    }
}

/// Dict-key equality as Python has it: `1`, `1.0` and `true` are one key; NaN is never equal.
enum YAMLKeyIdentity: Hashable {
    case null
    case int(Int)
    case bigInt(String)
    case float(UInt64)
    case string(String)
    case binary(Data)
    case timestamp(String)
    case never(UUID)
    case unhashable

    init(_ value: YAMLScalarValue) {
        switch value {
        case .null: self = .null
        case .bool(let bool): self = .int(bool ? 1 : 0)
        case .int(let int): self = .int(int)
        case .bigInt(let digits): self = .bigInt(digits)
        case .float(let double):
            if double.isNaN {
                self = .never(UUID())
            } else if double == double.rounded(), let int = Int(exactly: double) {
                self = .int(int)
            } else {
                self = .float(double.bitPattern)
            }
        case .string(let text): self = .string(text)
        case .binary(let data): self = .binary(data)
        case .timestamp(let text): self = .timestamp(text)
        }
    }
}

extension YAMLNode: Hashable {
    /// Equal when PyYAML reads both as the same value of the same types (`isIdentical(to:)`).
    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool { lhs.isIdentical(to: rhs) }

    public func hash(into hasher: inout Hasher) {
        switch kind {
        case .scalar(let scalar):
            hasher.combine(scalar.value)
        case .sequence(let items):
            hasher.combine(tag)
            hasher.combine(items)
        case .mapping(let pairs):
            hasher.combine(tag)
            for pair in pairs {
                hasher.combine(pair.key)
                hasher.combine(pair.value)
            }
        }
    }
}
