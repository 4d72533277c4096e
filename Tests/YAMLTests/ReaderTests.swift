import Foundation
import SeedgenTestSupport
import SeedgenYAML
import Testing

/// SeedgenYAML's value of a node in the oracle's normalised form (timestamps by kind only).
func normalised(_ node: YAMLNode) -> JSONValue {
    switch node.kind {
    case .scalar(let scalar):
        switch scalar.value {
        case .null: return .array([.string("null")])
        case .bool(let bool): return .array([.string("bool"), .bool(bool)])
        case .int(let int): return .array([.string("int"), .string(String(int))])
        case .bigInt(let digits): return .array([.string("bigint"), .string(digits)])
        case .float(let double):
            return .array([.string("float"), .string(double.isNaN ? "nan" : String(double.bitPattern))])
        case .string(let text): return .array([.string("str"), .string(text)])
        case .binary(let data): return .array([.string("bytes"), .string(data.base64EncodedString())])
        case .timestamp(let text):
            return .array([.string(text.count == 10 ? "date" : "datetime")])
        }
    case .sequence(let items):
        return .array([.string(node.tag == .seq ? "list" : "tuple-list"), .array(items.map(normalised))])
    case .mapping(let pairs):
        return .array([.string("dict"), .array(pairs.map { .array([normalised($0.key), normalised($0.value)]) })])
    }
}

/// The oracle's value with timestamps reduced to their kind, as `normalised` gives them.
func withoutTimestampValues(_ value: JSONValue) -> JSONValue {
    guard case .array(let parts) = value else { return value }
    if case .string(let kind)? = parts.first, kind == "date" || kind == "datetime" { return .array([.string(kind)]) }
    return .array(parts.map(withoutTimestampValues))
}

@Suite struct ResolverTests {
    /// Every plain scalar form the YAML 1.1 resolver distinguishes, and near misses of each.
    static let plainScalars: [String] = {
        var texts = [
            "0755", "0o600", "0x1F", "0x_", "0b101", "0b", "1_000", "1:20", "1:60", "-1:20:30", "190:20:30.15", "+1",
            "-0", "0", "00",
            "0_", "08", "09.5", "1e3", "1.5e3", "1.5e+3", "1.e+5", "1.", ".5", "._5", "._", ".", "+.inf", "-.Inf",
            ".INF", ".nan", ".NaN",
            "-.nan", "~", "null", "Null", "NULL", "nUll", "", "yes", "Yes", "YES", "yEs", "no", "No", "NO", "true",
            "True", "TRUE",
            "tRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", "2001-12-14",
            "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-12-15T02:59:43.1Z",
            "2001-12-14 21:59:43.10",
            "2002-1-1", "2001-12-14T1:02:03", "2001-12-1", "1_0:2_0", "12:3", "0:0", "+0x1F", "-0b1_0", "0777_7",
            "1__2",
            "3.14", "-3.14", "6.8523015e+5", "685.230_15e+03", "685_230.15", "<<", "=", "==", "a", "x1", "1x", "10:",
            "- 1",
            "1 2", "12_", "_12", "0x", "0xg", "1e", "1.0e+", "1.0e+1.5", "12:60", "9223372036854775807",
            "-9223372036854775808",
        ]
        texts += [
            "ops", "vmbr0", "10.0.0.1/8", "fe80::1", "-", "+", "o", "t", "yesterday", "offline", "onion", "1024M",
            "2001:db8::1",
            "0xfg", "0b12", "3T", "bc:24:11:00:00:01", "oFF", "nULL", "falsey", "Nulls", "truely", "yes!", "0.0.0.0",
            "1:2", "=x",
            "<", "~x", "ssh-ed25519 AAAA", "é", "🙂",
        ]
        for scalar in 0x21...0x7E where !"#&*!|>'\"%@`{}[],-?:".unicodeScalars.contains(UnicodeScalar(UInt8(scalar))) {
            texts.append(String(UnicodeScalar(UInt8(scalar))) + "x")
            texts.append(String(UnicodeScalar(UInt8(scalar))))
        }
        texts += (0..<40).map { "\($0 * 37):\($0 % 60)" }
        return texts
    }()

    @Test func plainScalarsResolveAsPyYAMLResolvesThem() throws {
        guard PyYAMLOracle.isAvailable else { return }
        // Each text as a one-entry mapping value, so the empty text and `<<`, `=` are in a real position.
        let documents = Self.plainScalars.map { "key: \($0)\n" }
        let expected = try PyYAMLOracle.values(of: documents)
        for (document, oracle) in zip(documents, expected) {
            let mine: JSONValue?
            do {
                mine = try YAMLReader.read(document).map(normalised)
            } catch {
                mine = nil
            }
            #expect(
                mine == oracle.map(withoutTimestampValues),
                "\(document.debugDescription): PyYAML \(oracle.map(\.description) ?? "refuses it"), seedgen \(mine.map(\.description) ?? "refuses it")"
            )
        }
    }

    @Test func tagsAreKeptAndUnknownTagsRefused() throws {
        let node = try #require(try YAMLReader.read("a: !!binary aGVsbG8=\nb: !!str 12\nc: !!int \"12\"\nd: ! 12\n"))
        #expect(node["a"]?.scalar?.value == .binary(Data("hello".utf8)))
        #expect(node["b"]?.scalar?.value == .string("12"))
        #expect(node["c"]?.scalar?.value == .int(12))
        #expect(node["d"]?.scalar?.value == .int(12))
        #expect(throws: YAMLReadError.self) { try YAMLReader.read("a: !foo bar\n") }
        do {
            _ = try YAMLReader.read("a: 1\nb: !foo bar\n")
            Issue.record("an unknown tag was accepted")
        } catch {
            #expect(error.problems.first?.mark == YAMLMark(line: 2, column: 4))
            #expect(error.problems.first?.message.contains("!foo") == true)
        }
    }

    @Test func mergeKeysAndAliasesResolveAsInPyYAML() throws {
        let text = """
            base: &base {a: 1, b: 2}
            other: &other {b: 3, c: 4}
            one:
              <<: *base
              a: 9
            many:
              <<: [*base, *other]
              d: 5
            copy: *base

            """
        let node = try #require(try YAMLReader.read(text))
        guard PyYAMLOracle.isAvailable else { return }
        let oracle = try #require(try PyYAMLOracle.values(of: [text]).first ?? nil)
        #expect(normalised(node) == oracle)
    }

    @Test func duplicateKeysArePositionedErrorsButMergedKeysMayBeOverridden() throws {
        do {
            _ = try YAMLReader.read("a: 1\nb: 2\na: 3\n")
            Issue.record("a duplicate key was accepted")
        } catch {
            #expect(error.problems.first?.mark == YAMLMark(line: 3, column: 1))
            #expect(error.problems.first?.message == "duplicate key 'a' (first set at line 1)")
        }
        // As Python's dict: 1 and 0x1 are one key.
        #expect(throws: YAMLReadError.self) { try YAMLReader.read("1: a\n0x1: b\n") }
        _ = try YAMLReader.read("b: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n")
    }

    @Test func aliasBombsStop() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<9 {
            text +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        #expect(throws: YAMLReadError.self) { try YAMLReader.read(text) }
    }
}
