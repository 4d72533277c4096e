import Yams

/// The YAML 1.1 type of a scalar (the rules PyYAML and so cloud-init use), decided cheaply.
///
/// Yams' default resolver tries up to seven regular expressions on every plain scalar, and on
/// Linux those ran through Foundation's string bridging: resolving tags cost more than the rest of
/// rendering a VM. Documents are therefore parsed with `Resolver.basic` (no rules, no regexes)
/// and each plain scalar is typed here: every rule of the default resolver matches only text that
/// starts with one of `leadingCharacters` (or is empty), so any other text is a string without
/// looking further, and the rest goes to the default resolver itself, whose answer is final.
enum YAMLScalarTag {
    static let leadingCharacters = Set("yYnNtTfFoO0123456789+-.<~=".unicodeScalars)

    /// The type a plain scalar `text` without an explicit tag resolves to.
    static func implicitTag(of text: String) -> Tag.Name {
        guard let first = text.unicodeScalars.first else { return Resolver.default.resolveTag(of: Node(text)) }
        if !leadingCharacters.contains(first) { return .str }
        // A letter can only start a bool or null word (`false` is the longest).
        if first.properties.isAlphabetic, text.utf8.count > 5 { return .str }
        return Resolver.default.resolveTag(of: Node(text))
    }

    /// The type of `scalar` from a document composed with any resolver, as the default resolver
    /// gives it: an explicit tag stands, a quoted or block scalar is a string, a plain one is resolved.
    static func tag(of scalar: Node.Scalar) -> Tag.Name {
        // `rawValue` reads the tag's name without resolving it (`Node.tag` would resolve it with
        // the document's resolver, here the basic one, and keep that answer).
        switch scalar.tag.rawValue {
        case Tag.Name.implicit.rawValue: return implicitTag(of: scalar.string)
        case Tag.Name.nonSpecific.rawValue: return .str
        case let explicit: return Tag.Name(rawValue: explicit)
        }
    }
}
