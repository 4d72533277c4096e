import Foundation
import Yams

/// Reading rendered YAML into a `ConfigValue` tree and writing a tree back out safely.
///
/// Types follow the YAML 1.1 resolver that both Yams and cloud-init's PyYAML use, so what seedgen
/// reads from a template is what cloud-init will read from the emitted file.
enum RenderYAML {
    /// Parses one YAML document; an empty document is `.null`. Throws Yams' `YamlError`.
    static func parse(_ text: String) throws -> ConfigValue {
        // `.basic`: scalars are typed by YAMLScalarTag, without the default resolver's regexes.
        // `.utf8` given, not defaulted: Yams reads the whole environment to pick the default.
        guard let node = try Yams.compose(yaml: text, .basic, .default, .utf8) else { return .null }
        return value(of: node)
    }

    static func value(of node: Node) -> ConfigValue {
        switch node {
        case .scalar(let scalar):
            return value(of: scalar, tag: YAMLScalarTag.tag(of: scalar))
        case .sequence(let sequence):
            return .list(sequence.map(value(of:)))
        case .mapping(let mapping):
            return .map(mapping.map { (key: keyString(of: $0.key), value: value(of: $0.value)) })
        case .alias:
            // Yams resolves aliases while composing; an unresolved one carries no value.
            return .null
        }
    }

    private static func value(of scalar: Node.Scalar, tag: Tag.Name) -> ConfigValue {
        switch tag {
        case .null:
            return .null
        case .bool:
            return Bool.construct(from: scalar).map(ConfigValue.bool) ?? .string(scalar.string)
        case .int:
            return Int.construct(from: scalar).map(ConfigValue.int) ?? .string(scalar.string)
        case .float:
            return Double.construct(from: scalar).map(ConfigValue.double) ?? .string(scalar.string)
        default:
            return .string(scalar.string)
        }
    }

    private static func keyString(of node: Node) -> String {
        if case .scalar(let scalar) = node { return scalar.string }
        return (try? Yams.serialize(node: node).trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
    }

    /// The YAML text of `value`: strings are quoted exactly when a plain scalar would read back as
    /// something else (`yes`, `0755`, `null`, `: #`), multi-line strings become `|` literal blocks
    /// (libyaml falls back to a double-quoted scalar where a block cannot hold the text exactly).
    static func emit(_ value: ConfigValue) throws -> String {
        try Yams.serialize(node: node(of: value), indent: 2, width: -1, allowUnicode: true)
    }

    static func node(of value: ConfigValue) -> Node {
        switch value {
        case .null:
            return .scalar(Node.Scalar("null", Tag(.null)))
        case .bool(let bool):
            return .scalar(Node.Scalar(bool ? "true" : "false", Tag(.bool)))
        case .int(let int):
            return .scalar(Node.Scalar(String(int), Tag(.int)))
        case .double(let double):
            return .scalar(double.represented())
        case .string(let string):
            return .scalar(scalar(of: string))
        case .list(let items):
            return .sequence(Node.Sequence(items.map(node(of:)), Tag(.seq), .block))
        case .map(let pairs):
            return .mapping(
                Node.Mapping(pairs.map { (Node.scalar(scalar(of: $0.key)), node(of: $0.value)) }, Tag(.map), .block))
        }
    }

    private static func scalar(of string: String) -> Node.Scalar {
        // libyaml would write a byte-order mark as itself, and PyYAML drops it on reading; only
        // the double-quoted style escapes it.
        if string.unicodeScalars.contains("\u{FEFF}") { return Node.Scalar(string, Tag(.str), .doubleQuoted) }
        if string.utf8.contains(UInt8(ascii: "\n")) { return Node.Scalar(string, Tag(.str), .literal) }
        // As Yams' `String.represented()`: single-quoted when plain would read as another type.
        return YAMLScalarTag.implicitTag(of: string) == .str
            ? Node.Scalar(string, Tag(.str)) : Node.Scalar(string, Tag(.str), .singleQuoted)
    }
}

extension ConfigValue {
    /// This tree without map entries whose value is null, at any depth. A template line such as
    /// `sudo: {{sudo}}` renders a null when the value is absent, and `extra: {key: null}` removes a
    /// generated key; neither should reach the emitted file.
    func droppingNullEntries() -> ConfigValue {
        switch self {
        case .map(let pairs):
            return .map(pairs.compactMap { pair in
                if case .null = pair.value { return nil }
                return (key: pair.key, value: pair.value.droppingNullEntries())
            })
        case .list(let items):
            return .list(items.map { $0.droppingNullEntries() })
        default:
            return self
        }
    }

    /// This tree with a leading U+FEFF removed from every string. Yams decodes each scalar with
    /// Foundation, which drops a leading byte-order mark (PyYAML, cloud-init's reader, keeps it),
    /// so the read-back check compares without them.
    func ignoringLeadingByteOrderMarks() -> ConfigValue {
        func strip(_ string: String) -> String {
            string.unicodeScalars.first == "\u{FEFF}" ? String(string.unicodeScalars.dropFirst()) : string
        }
        switch self {
        case .string(let string): return .string(strip(string))
        case .list(let items): return .list(items.map { $0.ignoringLeadingByteOrderMarks() })
        case .map(let pairs): return .map(pairs.map { (key: strip($0.key), value: $0.value.ignoringLeadingByteOrderMarks()) })
        default: return self
        }
    }

    /// This tree with `key` set to `value` as the first entry (replacing any existing entry).
    func settingFirst(_ key: String, to value: ConfigValue) -> ConfigValue {
        guard case .map(let pairs) = self else { return .map([(key: key, value: value)]) }
        return .map([(key: key, value: value)] + pairs.filter { $0.key != key })
    }
}
