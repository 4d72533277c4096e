import Foundation

/// PyYAML's YAML 1.1 implicit resolver (`yaml/resolver.py`), the rules cloud-init reads plain
/// scalars with, written out by hand: its regular expressions ran on every plain scalar, and
/// regular expressions cost more than the rest of reading a document.
///
/// As in PyYAML, the first character picks the candidate rules, tried in PyYAML's order (bool,
/// float, int, merge, null, timestamp, value); the first that matches the whole text wins.
public enum YAMLResolver {
    /// What a plain scalar means without a tag.
    public enum Implicit: Sendable, Equatable {
        case tag(YAMLTag)
        /// `<<`, a merge key.
        case merge
        /// `=`, which PyYAML resolves to `tag:yaml.org,2002:value` and cannot construct.
        case value
    }

    public static func implicit(_ text: String) -> Implicit {
        var text = text
        return text.withUTF8 { implicit(bytes: $0) }
    }

    /// The tag a plain scalar `text` resolves to (`str` for the merge and value indicators).
    public static func implicitTag(of text: String) -> YAMLTag {
        if case .tag(let tag) = implicit(text) { return tag }
        return .str
    }

    static func implicit(bytes: UnsafeBufferPointer<UInt8>) -> Implicit {
        guard let first = bytes.first else { return .tag(.null) }
        switch first {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"),
            UInt8(ascii: "T"),
            UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            if isBool(bytes) { return .tag(.bool) }
            if isNull(bytes) { return .tag(.null) }
            return .tag(.str)
        case UInt8(ascii: "~"):
            return bytes.count == 1 ? .tag(.null) : .tag(.str)
        case UInt8(ascii: "<"):
            return bytes.count == 2 && bytes[1] == UInt8(ascii: "<") ? .merge : .tag(.str)
        case UInt8(ascii: "="):
            return bytes.count == 1 ? .value : .tag(.str)
        case UInt8(ascii: "."):
            return isFloat(bytes) ? .tag(.float) : .tag(.str)
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            if isFloat(bytes) { return .tag(.float) }
            if isInt(bytes) { return .tag(.int) }
            return .tag(.str)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            if isFloat(bytes) { return .tag(.float) }
            if isInt(bytes) { return .tag(.int) }
            if isTimestamp(bytes) { return .tag(.timestamp) }
            return .tag(.str)
        default:
            return .tag(.str)
        }
    }

    // MARK: The rules

    private static let boolWords: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON",
        "off", "Off", "OFF",
    ]

    private static func isBool(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count <= 5 && boolWords.contains(String(decoding: bytes, as: UTF8.self))
    }

    private static func isNull(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 4 else { return false }
        let word = String(decoding: bytes, as: UTF8.self)
        return word == "null" || word == "Null" || word == "NULL"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static let underscore = UInt8(ascii: "_")
    private static let colon = UInt8(ascii: ":")
    private static let dot = UInt8(ascii: ".")

    /// Skips `[0-9_]*` from `index`.
    private static func digitsOrUnderscores(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var index = index
        while index < bytes.count, isDigit(bytes[index]) || bytes[index] == underscore { index += 1 }
        return index
    }

    /// `(:[0-5]?[0-9])+` from `index`, stopping before anything else; nil if not even one part.
    private static func sexagesimalParts(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int? {
        var index = index
        var parts = 0
        while index < bytes.count, bytes[index] == colon {
            var end = index + 1
            while end < bytes.count, isDigit(bytes[end]) { end += 1 }
            let length = end - index - 1
            if length == 1 || (length == 2 && bytes[index + 1] <= UInt8(ascii: "5")) {
                parts += 1
                index = end
            } else {
                return nil
            }
        }
        return parts > 0 ? index : nil
    }

    private static func afterSign(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") ? 1 : 0
    }

    /// `[eE][-+][0-9]+` at the end, or nothing at all.
    private static func isExponentOrEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Bool {
        if index == bytes.count { return true }
        guard bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E"), index + 2 < bytes.count + 0,
            bytes[index + 1] == UInt8(ascii: "+") || bytes[index + 1] == UInt8(ascii: "-")
        else { return false }
        var digits = index + 2
        guard digits < bytes.count else { return false }
        while digits < bytes.count, isDigit(bytes[digits]) { digits += 1 }
        return digits == bytes.count && digits > index + 2
    }

    static func isFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = afterSign(bytes)
        guard start < bytes.count else { return false }
        let rest = String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self)
        if rest == ".inf" || rest == ".Inf" || rest == ".INF" { return true }
        if start == 0, rest == ".nan" || rest == ".NaN" || rest == ".NAN" { return true }
        if bytes[start] == dot {
            // `\.[0-9][0-9_]*([eE][-+][0-9]+)?`, unsigned only.
            guard start == 0, bytes.count > 1, isDigit(bytes[1]) else { return false }
            return isExponentOrEnd(bytes, from: digitsOrUnderscores(bytes, from: 2))
        }
        guard isDigit(bytes[start]) else { return false }
        let integerEnd = digitsOrUnderscores(bytes, from: start + 1)
        if integerEnd < bytes.count, bytes[integerEnd] == dot {
            // `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`
            return isExponentOrEnd(bytes, from: digitsOrUnderscores(bytes, from: integerEnd + 1))
        }
        // `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
        guard let partsEnd = sexagesimalParts(bytes, from: integerEnd), partsEnd < bytes.count, bytes[partsEnd] == dot
        else {
            return false
        }
        return digitsOrUnderscores(bytes, from: partsEnd + 1) == bytes.count
    }

    static func isInt(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = afterSign(bytes)
        guard start < bytes.count, isDigit(bytes[start]) else { return false }
        let count = bytes.count
        if bytes[start] == UInt8(ascii: "0") {
            if start + 1 == count { return true }  // 0
            let next = bytes[start + 1]
            if next == UInt8(ascii: "b") {
                guard start + 2 < count else { return false }
                return bytes[(start + 2)...].allSatisfy {
                    $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") || $0 == underscore
                }
            }
            if next == UInt8(ascii: "x") {
                guard start + 2 < count else { return false }
                return bytes[(start + 2)...].allSatisfy {
                    isDigit($0) || $0 == underscore || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0 | 0x20)
                }
            }
            // `0[0-7_]+`
            return bytes[(start + 1)...].allSatisfy {
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7")) || $0 == underscore
            }
        }
        // `[1-9][0-9_]*`, then optionally `(:[0-5]?[0-9])+`
        let end = digitsOrUnderscores(bytes, from: start + 1)
        if end == count { return true }
        return sexagesimalParts(bytes, from: end) == count
    }

    /// `YYYY-MM-DD`, or `YYYY-M-D` with a time: `[Tt]` or blanks, `H:MM:SS`, optional `.fraction`,
    /// optional blanks and `Z` or `±H[:MM]`.
    static func isTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        var index = 0
        func digits(_ minimum: Int, _ maximum: Int) -> Bool {
            var taken = 0
            while taken < maximum, index < count, isDigit(bytes[index]) { index += 1; taken += 1 }
            return taken >= minimum
        }
        func expect(_ byte: UInt8) -> Bool {
            guard index < count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        guard digits(4, 4), expect(UInt8(ascii: "-")) else { return false }
        let monthStart = index
        guard digits(1, 2), expect(UInt8(ascii: "-")) else { return false }
        let monthLength = index - monthStart - 1
        let dayStart = index
        guard digits(1, 2) else { return false }
        if index == count { return monthLength == 2 && index - dayStart == 2 }
        // With a time.
        if index < count, bytes[index] == UInt8(ascii: "T") || bytes[index] == UInt8(ascii: "t") {
            index += 1
        } else {
            let blanks = index
            while index < count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
            guard index > blanks else { return false }
        }
        guard digits(1, 2), expect(colon), digits(2, 2), expect(colon), digits(2, 2) else { return false }
        if index < count, bytes[index] == dot {
            index += 1
            while index < count, isDigit(bytes[index]) { index += 1 }
        }
        if index == count { return true }
        while index < count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        guard index < count else { return false }
        if bytes[index] == UInt8(ascii: "Z") { return index + 1 == count }
        guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return false }
        index += 1
        guard digits(1, 2) else { return false }
        if index == count { return true }
        guard expect(colon), digits(2, 2) else { return false }
        return index == count
    }
}

/// PyYAML's `SafeConstructor` for scalars: the value cloud-init gets from a scalar of each tag.
enum YAMLConstructor {
    /// nil when PyYAML raises on this text (`!!int abc`, `!!bool y`, `2001-02-30`).
    static func construct(_ text: String, tag: YAMLTag) -> YAMLScalarValue? {
        switch tag {
        case .null: return .null
        case .str: return .string(text)
        case .bool:
            switch text.lowercased() {
            case "yes", "true", "on": return .bool(true)
            case "no", "false", "off": return .bool(false)
            default: return nil
            }
        case .int: return integer(text)
        case .float: return float(text)
        case .binary: return binary(text)
        case .timestamp: return timestamp(text)
        case .seq, .map, .set, .omap, .pairs: return nil
        }
    }

    private static func integer(_ text: String) -> YAMLScalarValue? {
        // As Python's int() after PyYAML's clean-up, which also allows surrounding blanks.
        var value = text.replacingOccurrences(of: "_", with: "").trimmingCharacters(in: .whitespaces)
        guard let first = value.first else { return nil }
        var negative = false
        if first == "-" { negative = true }
        if first == "-" || first == "+" { value.removeFirst() }
        guard !value.isEmpty else { return nil }
        func signed(_ magnitude: Int?, digits: String, radix: Int) -> YAMLScalarValue? {
            if let magnitude { return .int(negative ? -magnitude : magnitude) }
            if negative, let value = Int("-" + digits, radix: radix) { return .int(value) }  // Int.min
            // Too large for 64 bits: kept by its digits, when they are digits.
            guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
            return .bigInt((negative ? "-" : "") + "\(radix):" + digits.lowercased())
        }
        if value == "0" { return .int(0) }
        if value.hasPrefix("0b") {
            let digits = String(value.dropFirst(2))
            return signed(Int(digits, radix: 2), digits: digits, radix: 2)
        }
        if value.hasPrefix("0x") {
            let digits = String(value.dropFirst(2))
            return signed(Int(digits, radix: 16), digits: digits, radix: 16)
        }
        if value.hasPrefix("0") { return signed(Int(value, radix: 8), digits: value, radix: 8) }
        if value.contains(":") {
            var total = 0
            var overflow = false
            for part in value.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = Int(part) else { return nil }
                let shifted = total.multipliedReportingOverflow(by: 60)
                let added = shifted.partialValue.addingReportingOverflow(digit)
                overflow = overflow || shifted.overflow || added.overflow
                total = added.partialValue
            }
            return overflow ? .bigInt((negative ? "-" : "") + "60:" + value) : .int(negative ? -total : total)
        }
        guard value.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return signed(Int(value), digits: value, radix: 10)
    }

    private static func float(_ text: String) -> YAMLScalarValue? {
        var value = text.replacingOccurrences(of: "_", with: "").lowercased().trimmingCharacters(in: .whitespaces)
        guard let first = value.first else { return nil }
        let sign: Double = first == "-" ? -1 : 1
        if first == "-" || first == "+" { value.removeFirst() }
        if value == ".inf" { return .float(sign * .infinity) }
        if value == ".nan" { return .float(.nan) }
        if value.contains(":") {
            var total = 0.0
            for part in value.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = pythonFloat(String(part)) else { return nil }
                total = total * 60 + digit
            }
            return .float(sign * total)
        }
        return pythonFloat(value).map { .float(sign * $0) }
    }

    /// Python's float() of the decimal forms the resolver lets through (`1.`, `.5`, `1.e+5`, `inf`).
    private static func pythonFloat(_ text: String) -> Double? {
        guard !text.isEmpty, text.first != "+", text.first != "-" else { return nil }
        if text == "inf" || text == "infinity" { return .infinity }
        if text == "nan" { return .nan }
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-") }),
            text.contains(where: \.isNumber)
        else { return nil }
        return Double(text)
    }

    private static func binary(_ text: String) -> YAMLScalarValue? {
        // base64.decodebytes: ASCII only; characters outside the alphabet are skipped.
        guard text.allSatisfy(\.isASCII) else { return nil }
        return Data(base64Encoded: text, options: .ignoreUnknownCharacters).map { .binary($0) }
    }

    private static func timestamp(_ text: String) -> YAMLScalarValue? {
        var copy = text
        guard copy.withUTF8({ YAMLResolver.isTimestamp($0) }) else { return nil }
        let numbers = text.split(whereSeparator: { !$0.isNumber }).prefix(6).compactMap { Int($0) }
        guard numbers.count >= 3 else { return nil }
        let (year, month, day) = (numbers[0], numbers[1], numbers[2])
        let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard year >= 1, (1...12).contains(month), (1...days[month - 1]).contains(day) else { return nil }
        if numbers.count >= 6 {
            guard numbers[3] < 24, numbers[4] < 60, numbers[5] < 60 else { return nil }
        }
        return .timestamp(text)
    }
}
