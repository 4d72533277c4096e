import Foundation

/// Places rendered values into a template's YAML so that each becomes (part of) one scalar.
///
/// While rendering, every `{{value}}` is written as a marker (a noncharacter, the value's UTF-8 in
/// base64, another noncharacter), which no template and no value can forge. This pass then looks
/// at where each marker stands and writes the value in the one form that keeps it data:
/// - alone, or joined with plain text (`{{hostname}}.example.com`): the whole plain scalar becomes
///   one double-quoted scalar with every value escaped;
/// - inside the template's own double quotes (`"{{name}}@{{hostname}}"`): escaped in place;
/// - inside a `|` or `>` block scalar: written as itself, continuation lines indented like the
///   template line, when that cannot end the block (no line of it starts with a blank and every
///   character is one a block can hold); otherwise as a double-quoted scalar;
/// - anywhere else (single quotes, comments): as a double-quoted scalar, and the YAML check that
///   follows reports the template line if that is not valid there.
enum RenderValueSplicer {
    static let open = Unicode.Scalar(0xFDD0 as UInt32)!
    static let close = Unicode.Scalar(0xFDD1 as UInt32)!

    static func marker(for value: String) -> String {
        String(open) + Data(value.utf8).base64EncodedString() + String(close)
    }

    static func containsMarkers(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 == open || $0 == close }
    }

    static func splice(_ rendered: String) -> String {
        guard rendered.unicodeScalars.contains(open) else { return rendered }
        var lines = rendered.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blockParentColumn: Int?
        for index in lines.indices {
            let line = Array(lines[index].unicodeScalars)
            let indentation = line.prefix { $0 == " " }.count
            let isBlank = line.allSatisfy { $0 == " " || $0 == "\t" }
            if let parent = blockParentColumn, isBlank || indentation > parent {
                lines[index] = spliceBlockLine(line, indentation: indentation)
                continue
            }
            blockParentColumn = nil
            let spliced = spliceStructuredLine(line)
            lines[index] = String(String.UnicodeScalarView(spliced))
            blockParentColumn = blockScalarParentColumn(spliced)
        }
        return lines.joined(separator: "\n")
    }

    // MARK: Values

    private static func value(of base64: ArraySlice<Unicode.Scalar>) -> String {
        let text = String(String.UnicodeScalarView(base64))
        return Data(base64Encoded: text).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Index of the matching close marker at or after `start`, or nil.
    private static func closeIndex(in line: [Unicode.Scalar], from start: Int) -> Int? {
        line[start...].firstIndex(of: close)
    }

    private static func innerEscaped(_ value: String) -> String {
        String(RenderYAMLQuoting.doubleQuoted(value).dropFirst().dropLast())
    }

    // MARK: Lines outside block scalars

    private static func spliceStructuredLine(_ line: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        var index = 0
        var flowDepth = 0
        let count = line.count
        func isBlank(_ position: Int) -> Bool { position >= count || line[position] == " " || line[position] == "\t" }
        func isFlowIndicator(_ scalar: Unicode.Scalar) -> Bool { "[]{},".unicodeScalars.contains(scalar) }

        while index < count {
            let scalar = line[index]
            switch scalar {
            case " ", "\t":
                output.append(scalar)
                index += 1
            case "#" where index == 0 || line[index - 1] == " " || line[index - 1] == "\t":
                // A comment: markers in it are written quoted, harmlessly.
                output += quotedMarkers(line[index...])
                index = count
            case "-" where isBlank(index + 1), "?" where isBlank(index + 1):
                output.append(scalar)
                index += 1
            case ":"
            where isBlank(index + 1) || (flowDepth > 0 && index + 1 < count && isFlowIndicator(line[index + 1])):
                output.append(scalar)
                index += 1
            case "[", "{":
                flowDepth += 1
                output.append(scalar)
                index += 1
            case "]", "}":
                flowDepth = max(0, flowDepth - 1)
                output.append(scalar)
                index += 1
            case "," where flowDepth > 0:
                output.append(scalar)
                index += 1
            case "\"":
                let end = endOfDoubleQuoted(line, from: index)
                output += inlineMarkers(line[index..<end])
                index = end
            case "'":
                let end = endOfSingleQuoted(line, from: index)
                output += quotedMarkers(line[index..<end])
                index = end
            case "&", "!", "*", "|", ">":
                // Anchors, tags, aliases and block indicators run to the next blank.
                let end = line[index...].firstIndex { $0 == " " || $0 == "\t" } ?? count
                output += quotedMarkers(line[index..<end])
                index = end
            default:
                let end = endOfPlainScalar(line, from: index, flowDepth: flowDepth)
                output += plainScalar(line[index..<end])
                index = end
            }
        }
        return output
    }

    private static func endOfDoubleQuoted(_ line: [Unicode.Scalar], from start: Int) -> Int {
        var index = start + 1
        while index < line.count {
            switch line[index] {
            case "\\": index += 2
            case "\"": return index + 1
            case open: index = (closeIndex(in: line, from: index) ?? line.count - 1) + 1
            default: index += 1
            }
        }
        return line.count
    }

    private static func endOfSingleQuoted(_ line: [Unicode.Scalar], from start: Int) -> Int {
        var index = start + 1
        while index < line.count {
            if line[index] == "'" {
                if index + 1 < line.count && line[index + 1] == "'" { index += 2; continue }
                return index + 1
            }
            if line[index] == open { index = (closeIndex(in: line, from: index) ?? line.count - 1) + 1; continue }
            index += 1
        }
        return line.count
    }

    /// A plain scalar ends at `: `, ` #`, the line's end, or a flow indicator inside flow
    /// collections; markers are skipped whole, so nothing inside a value can end it.
    private static func endOfPlainScalar(_ line: [Unicode.Scalar], from start: Int, flowDepth: Int) -> Int {
        var index = start
        while index < line.count {
            let scalar = line[index]
            if scalar == open {
                index = (closeIndex(in: line, from: index) ?? line.count - 1) + 1
                continue
            }
            let next = index + 1 < line.count ? line[index + 1] : " "
            if scalar == ":"
                && (next == " " || next == "\t" || (flowDepth > 0 && "[]{},".unicodeScalars.contains(next)))
            {
                break
            }
            if scalar == "#" && index > start && (line[index - 1] == " " || line[index - 1] == "\t") { break }
            if flowDepth > 0 && "[]{},".unicodeScalars.contains(scalar) { break }
            index += 1
        }
        // Trailing blanks belong to the surroundings, not to the scalar.
        while index > start && (line[index - 1] == " " || line[index - 1] == "\t") { index -= 1 }
        return max(index, start + 1)
    }

    /// A plain scalar holding markers becomes one double-quoted scalar: its literal text and its
    /// values, all escaped.
    private static func plainScalar(_ run: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        guard run.contains(open) else { return Array(run) }
        var text = "\""
        var index = run.startIndex
        while index < run.endIndex {
            if run[index] == open, let end = run[index...].firstIndex(of: close) {
                text += innerEscaped(value(of: run[(index + 1)..<end]))
                index = end + 1
            } else {
                text += innerEscaped(String(run[index]))
                index += 1
            }
        }
        return Array((text + "\"").unicodeScalars)
    }

    /// Inside the template's own double quotes each value is escaped in place.
    private static func inlineMarkers(_ run: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        replacingMarkers(run) { innerEscaped($0) }
    }

    private static func quotedMarkers(_ run: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        replacingMarkers(run) { RenderYAMLQuoting.doubleQuoted($0) }
    }

    private static func replacingMarkers(
        _ run: ArraySlice<Unicode.Scalar>, with form: (String) -> String
    ) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        var index = run.startIndex
        while index < run.endIndex {
            if run[index] == open, let end = run[index...].firstIndex(of: close) {
                output += form(value(of: run[(index + 1)..<end])).unicodeScalars
                index = end + 1
            } else {
                output.append(run[index])
                index += 1
            }
        }
        return output
    }

    // MARK: Block scalars

    /// The column a block scalar's content must be indented beyond, when `line` opens one
    /// (`key: |`, `- >-`, `key: |2 # comment`); nil otherwise.
    private static func blockScalarParentColumn(_ line: [Unicode.Scalar]) -> Int? {
        guard opensBlockScalar(line) else { return nil }
        // The parent node starts after the indentation and any `- ` sequence entries.
        var column = line.prefix { $0 == " " }.count
        var rest = line[column...]
        while rest.first == "-", rest.dropFirst().first == " " {
            let afterDash = rest.dropFirst().prefix { $0 == " " }.count + 1
            if let next = rest.dropFirst(afterDash).first, next == "|" || next == ">" { return column }
            column += afterDash
            rest = rest.dropFirst(afterDash)
        }
        return column
    }

    /// True when `line`, without a ` #` comment and surrounding whitespace, is a block scalar
    /// header: `|` or `>` with optional indentation/chomping indicators, alone or after `: ` or
    /// `- ` (the pattern `(^|[:-] +)[|>][-+0-9]*$`, checked by hand: this runs on every line of
    /// every rendered template, and a regular expression there cost more than the rest of the pass).
    static func opensBlockScalar(_ line: [Unicode.Scalar]) -> Bool {
        var end = line.count
        for index in line.indices.dropLast() where line[index] == " " && line[index + 1] == "#" {
            end = index
            break
        }
        let isWhitespace = { (scalar: Unicode.Scalar) in CharacterSet.whitespaces.contains(scalar) }
        var start = 0
        while start < end, isWhitespace(line[start]) { start += 1 }
        while end > start, isWhitespace(line[end - 1]) { end -= 1 }
        // Back over the indicators to the `|` or `>`.
        var indicator = end - 1
        while indicator >= start, "-+0123456789".unicodeScalars.contains(line[indicator]) { indicator -= 1 }
        guard indicator >= start, line[indicator] == "|" || line[indicator] == ">" else { return false }
        if indicator == start { return true }
        // Otherwise one or more spaces, right after a `:` or `-`.
        var beforeSpaces = indicator - 1
        guard line[beforeSpaces] == " " else { return false }
        while beforeSpaces >= start, line[beforeSpaces] == " " { beforeSpaces -= 1 }
        return beforeSpaces >= start && (line[beforeSpaces] == ":" || line[beforeSpaces] == "-")
    }

    private static func spliceBlockLine(_ line: [Unicode.Scalar], indentation: Int) -> String {
        let continuation = "\n" + String(repeating: " ", count: indentation)
        let spliced = replacingMarkers(line[...]) { value in
            canStandInBlock(value)
                ? value.replacingOccurrences(of: "\n", with: continuation) : RenderYAMLQuoting.doubleQuoted(value)
        }
        return String(String.UnicodeScalarView(spliced))
    }

    /// True when `value` written into a block scalar reads back as itself and cannot change where
    /// the block ends: printable text, `\n` line breaks only, no line starting with a blank.
    private static func canStandInBlock(_ value: String) -> Bool {
        for line in value.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.unicodeScalars.first, first == " " || first == "\t" { return false }
        }
        return value.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x2028, 0x2029:
                return false  // YAML line breaks: they would end the block's line
            case 0x0A, 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFDCF, 0xFDF0...0xFEFE, 0xFF00...0xFFFD,
                0x10000...0x10FFFF:
                return true
            default:
                return false
            }
        }
    }
}
