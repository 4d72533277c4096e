import Yams

/// The YAML 1.1 type of a scalar (the rules PyYAML and so cloud-init use), decided cheaply.
///
/// Yams' default resolver tries up to seven regular expressions on every plain scalar, and on
/// Linux those ran through Foundation's string bridging: resolving tags cost more than the rest of
/// rendering a VM. Documents are therefore parsed with `Resolver.basic` (no rules, no regexes)
/// and each plain scalar is typed here: every rule of the default resolver matches only text that
/// starts with one of `leadingCharacters` (or is empty); text starting with a letter can only be
/// one of its bool and null `words`; and the rest goes to the default resolver itself, unless it
/// holds a character no number or timestamp has.
enum YAMLScalarTag {
    static let leadingCharacters = Set("yYnNtTfFoO0123456789+-.<~=".unicodeScalars)
    /// The only texts starting with a letter that the default resolver does not type as strings:
    /// its bool and null words.
    static let words: [String: Tag.Name] = {
        var words: [String: Tag.Name] = [:]
        for word in ["yes", "no", "true", "false", "on", "off"] {
            for form in [word, word.prefix(1).uppercased() + word.dropFirst(), word.uppercased()] { words[form] = .bool }
        }
        for form in ["null", "Null", "NULL"] { words[form] = .null }
        return words
    }()
    /// Every character the int, float and timestamp patterns can match (digits, signs, `_.:`,
    /// `0x`/`0o`/`0b` and hex digits, exponents, `.inf`/`.nan`, a timestamp's `T`, `Z` and blanks).
    static let numericLeading = Set("0123456789+-.".unicodeScalars)
    static let numericCharacters = Set("0123456789_.:+-xobabcdefABCDEFinfINFaNtTZ \t".unicodeScalars)

    /// The type a plain scalar `text` without an explicit tag resolves to.
    static func implicitTag(of text: String) -> Tag.Name {
        guard let first = text.unicodeScalars.first else { return Resolver.default.resolveTag(of: Node(text)) }
        if !leadingCharacters.contains(first) { return .str }
        if first.properties.isAlphabetic { return words[text] ?? .str }
        if numericLeading.contains(first), !text.unicodeScalars.allSatisfy(numericCharacters.contains) { return .str }
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
