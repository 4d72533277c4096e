import Mustache

/// The Mustache content type of every template seedgen renders: each `{{value}}` is written as an
/// unforgeable marker that `RenderValueSplicer` then turns into quoted YAML, so no value (quotes,
/// `: #`, newlines, `yes`, `0755`, …) can change the structure or the type of what the template
/// wrote around it.
struct RenderYAMLContentType: MustacheContentType {
    static let name = "SEEDGEN_YAML"

    func escapeText(_ text: String) -> String {
        RenderValueSplicer.marker(for: text)
    }
}

enum RenderYAMLQuoting {
    /// `text` as a YAML double-quoted scalar. Everything outside YAML's printable set, line breaks
    /// and tabs included, is written as an escape, so the scalar is always one line long.
    static func doubleQuoted(_ text: String) -> String {
        var quoted = "\""
        quoted.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: quoted += "\\\""
            case 0x5C: quoted += "\\\\"
            case 0x0A: quoted += "\\n"
            case 0x09: quoted += "\\t"
            case 0x0D: quoted += "\\r"
            case 0x00: quoted += "\\0"
            case 0x85: quoted += "\\N"
            case 0x2028: quoted += "\\L"
            case 0x2029: quoted += "\\P"
            case 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD, 0x10000...0x10FFFF:
                quoted.unicodeScalars.append(scalar)
            default:
                // C0/C1 controls, DEL, the byte-order mark and non-characters.
                quoted +=
                    scalar.value <= 0xFF
                    ? "\\x" + hex(scalar.value, width: 2)
                    : scalar.value <= 0xFFFF ? "\\u" + hex(scalar.value, width: 4) : "\\U" + hex(scalar.value, width: 8)
            }
        }
        quoted += "\""
        return quoted
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
