import Foundation
import SeedgenRender
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Random cloud-config documents as a user writes them: YAML 1.1 plain scalars of every type,
/// quoted and tagged scalars, block scalars, flow collections, anchors, aliases, merge keys and
/// keys that are not strings, nested.
struct CloudConfigDocumentGenerator {
    var random: SeededGenerator
    private var mapAnchors: [String] = []
    private var anyAnchors: [String] = []
    private var anchorCount = 0

    init(seed: UInt64) { random = SeededGenerator(state: seed) }

    static let plainScalars = [
        "0755", "0o600", "0x1F", "-0x1f", "0b1010", "1_000", "1:20", "-1:20:30", "190:20:30.15", "yes", "No", "ON",
        "off", "True",
        "FALSE", "y", "n", "Y", "N", "~", "null", "Null", ".inf", "-.Inf", "+.INF", ".nan", "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5", "2002-1-1 1:02:03", "1e3", "1.5e3", "6.8523015e+5", "+1", "-0", "0", "00", "3.14",
        "1.e+5", ".5",
        "1.", "08", "0o17", "12_", "hello world", "ünïcödé ☃", "a:b", "-dash", "x-y", "10.0.0.1/8", "fe80::1",
        "bc:24:11:00:00:01",
        "9223372036854775807", "-9223372036854775808", "v1.2", "1024M", "ssh-ed25519 AAAA key@host", "日本語", "🙂 emoji",
    ]
    static let quotedScalars = [
        "'yes'", "'0755'", "'it''s'", "''", "'null'", "'~'", "'1:20'", "'2001-12-14'", "\"tab\\there\"",
        "\"\\u00e9t\\u00e9\"",
        "\"line\\nbreak\"", "\"0x1F\"", "\"\\x41\\x42\"", "\"bell\\a\"", "\"\"", "\"quote \\\" inside\"",
        "\"trailing \\n\"",
        "\"\\ttab first\"", "\"  leading blanks\"", "\"nul\\0byte\"", "\"\\u2028sep\"", "\"\\uFEFFbom\"",
        "'# not a comment'",
        "\"a: b # c\"", "'<<'", "'='", "\"\\U0001F600\"",
    ]
    static let taggedScalars = [
        "!!binary aGVsbG8gd29ybGQ=", "!!binary \"AAECAwQF\"", "!!str 0755", "!!str yes", "!!str ~", "!!int \"0755\"",
        "!!int \"1_000\"",
        "!!int '0x1F'", "!!float \"1\"", "!!float 3", "!!bool \"on\"", "!!bool 'No'", "!!null \"\"", "!!null ~",
        "!!timestamp 2001-12-14",
        "!!str", "! 12", "! '0o7'", "!!str 1:20", "!!float '.5'",
    ]
    static let blockLines = [
        "line one", "ünïcödé ☃", "#not a comment", "key: value", "- not a list", "'quoted'", "trailing blank ",
        "  indented more",
        "", "\t tab then blank", "{{ not mustache }}".replacingOccurrences(of: "{{", with: "{ {"), "0755", "yes",
    ]
    static let blockHeaders = ["|", "|-", "|+", ">", ">-", ">+"]
    /// Keys whose Python identities differ from one another (1 and true would collide).
    static let keys = [
        "name", "path", "content", "7", "0x1F", "false", "3.5", "~", "2001-12-14", "1:20", "yes", "'7'", "\"0x1F\"",
        "0o7", ".inf",
        "ünï", "'<<x'", "\"k: v\"", "a b", "-5",
    ]

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ percent: Int) -> Bool { int(0..<100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }

    mutating func document() -> String {
        mapAnchors = []
        anyAnchors = []
        var text = ""
        for index in 0..<int(1..<6) {
            text += "x_key\(index):" + value(indent: 0, depth: 0) + "\n"
        }
        return text
    }

    private mutating func anchor(isMap: Bool) -> String {
        anchorCount += 1
        let name = "a\(anchorCount)"
        if isMap { mapAnchors.append(name) }
        anyAnchors.append(name)
        return "&\(name) "
    }

    private mutating func scalar() -> String {
        switch int(0..<10) {
        case 0..<4: return pick(Self.plainScalars)
        case 4..<6: return pick(Self.quotedScalars)
        case 6..<8: return pick(Self.taggedScalars)
        case 8:
            return String(repeating: "long line \(int(0..<10)) ", count: int(20..<200)).trimmingCharacters(
                in: .whitespaces)
        default: return pick(Self.plainScalars + Self.quotedScalars)
        }
    }

    private mutating func flowScalar() -> String {
        // Plain scalars in flow context may not hold `,[]{}` or `: `; these do not.
        let safe =
            Self.plainScalars.filter { !$0.contains(":") && !$0.contains(" ") } + Self.quotedScalars + [
                "!!binary AAEC", "!!str 12",
            ]
        return pick(safe)
    }

    private mutating func flowCollection(depth: Int) -> String {
        switch int(0..<7) {
        case 0: return "[]"
        case 1: return "{}"
        case 2: return "!!set {\(flowScalar()), k\(int(0..<9))}"
        case 3: return "!!omap [{a: \(flowScalar())}, {b: \(flowScalar())}]"
        case 4: return "!!pairs [{a: 1}, {a: \(flowScalar())}]"
        case 5: return "{a: \(flowScalar()), b: [\(flowScalar()), \(flowScalar())]}"
        default:
            let items = (0..<int(1..<5)).map { _ in
                depth < 2 && chance(20) ? flowCollection(depth: depth + 1) : flowScalar()
            }
            return (chance(20) ? "!!seq " : "") + "[" + items.joined(separator: ", ") + "]"
        }
    }

    private mutating func blockScalar(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent + 2)
        var lines = (0..<int(1..<5)).map { _ in pick(Self.blockLines) }
        var header = pick(Self.blockHeaders)
        if lines[0].hasPrefix(" ") || lines[0].hasPrefix("\t") || lines[0].isEmpty {
            header += "2"  // the first line starts with a blank: the indentation must be given
        }
        if chance(20) {
            // A base64 payload, as `content: !!binary |` in write_files.
            header = "!!binary |"
            let bytes = (0..<int(1..<120)).map { _ in UInt8(int(0..<256)) }
            lines = Data(bytes).base64EncodedString(options: .lineLength64Characters).components(separatedBy: "\r\n")
        }
        let trailing = header.hasSuffix("+") && chance(50) ? "\n" : ""
        return " " + header + "\n" + lines.map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n") + trailing
    }

    /// A value after `key:` (or `-`), with its own leading blank or line break.
    private mutating func value(indent: Int, depth: Int) -> String {
        let roll = int(0..<100)
        if roll < 8, !anyAnchors.isEmpty { return " *" + pick(anyAnchors) }
        if depth < 4, roll < 30 { return mapping(indent: indent + 2, depth: depth + 1) }
        if depth < 4, roll < 45 { return sequence(indent: indent + 2, depth: depth + 1) }
        if roll < 55 { return " " + (chance(15) ? anchor(isMap: false) : "") + flowCollection(depth: 0) }
        if roll < 65 { return blockScalar(indent: indent) }
        if roll < 68 { return "" }  // null
        let text = scalar()
        return " " + (chance(10) && !text.hasPrefix("!") ? anchor(isMap: false) : "") + text
    }

    private mutating func mapping(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        let anchored = chance(25)
        var lines: [String] = []
        if !mapAnchors.isEmpty, chance(35) {
            lines.append(chance(70) ? "<<: *\(pick(mapAnchors))" : "<<: [*\(pick(mapAnchors)), *\(pick(mapAnchors))]")
        }
        var keys = Self.keys.shuffled(using: &random)
        for _ in 0..<int(1..<5) {
            lines.append(keys.removeLast() + ":" + value(indent: indent, depth: depth))
        }
        // Named only once complete: an alias inside a mapping to the mapping itself would be a
        // recursive document, which no cloud-config is.
        let text = anchored ? " " + anchor(isMap: true).dropLast() : ""
        return text + "\n" + lines.map { pad + $0 }.joined(separator: "\n")
    }

    private mutating func sequence(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        let items = (0..<int(1..<5)).map { _ in pad + "-" + value(indent: indent, depth: depth) }
        return "\n" + items.joined(separator: "\n")
    }
}

@Suite struct PyYAMLDifferentialTests {
    /// SEEDGEN_YAML_SEED=<n> repeats a run; otherwise every run tries new documents.
    static let seed: UInt64 =
        ProcessInfo.processInfo.environment["SEEDGEN_YAML_SEED"].flatMap(UInt64.init)
        ?? UInt64.random(in: 1..<UInt64.max)
    static let cases = Int(ProcessInfo.processInfo.environment["SEEDGEN_YAML_CASES"] ?? "") ?? 1000

    /// Every generated document, merged as the user's template and as `extra`, reads in PyYAML
    /// from the seed exactly as from the user's text, and the seed passes cloud-init's schema.
    @Test func seedsReadAsTheUsersOwnText() async throws {
        guard PyYAMLOracle.isAvailable else { return }
        var generator = CloudConfigDocumentGenerator(seed: Self.seed)
        var documents: [String] = []
        while documents.count < Self.cases {
            documents.append(generator.document())
        }
        // Documents PyYAML itself refuses (an alias used inside its own anchor) are not the user's
        // cloud-config; seedgen must refuse those too.
        let pyyaml = try PyYAMLOracle.loads(documents)
        let directory = try TemporaryDirectory(prefix: "differential")
        try directory.write("user-data.yaml", "{}\n")
        let templateFile = try directory.write(
            "vm-template.yaml", passThroughHeader + "cloud_init:\n  templates:\n    user_data: user-data.yaml\n")
        // The template route: the loaded VM with the template's text swapped, as the loader reads it.
        var templateSpec = try SpecLoader(options: .init(environment: [:])).load(templateFile.path)
        var pairs: [(original: String, merged: String)] = []
        var labels: [String] = []
        var refusedByBoth = 0
        var failures = 0
        for (index, document) in documents.enumerated() {
            // A long synchronous loop would hold one of the two cooperative threads for the whole
            // run and starve the suite's timing-sensitive async tests.
            if index % 8 == 0 { await Task.yield() }
            templateSpec.cloudInit.templates.userData?.text = document
            let extra = document.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.isEmpty ? "" : "    " + $0
            }
            .joined(separator: "\n")
            try directory.write("vm-extra.yaml", passThroughHeader + "cloud_init:\n  extra:\n" + extra)
            for route in ["template", "extra"] {
                let rendered = Result { () throws -> String in
                    let spec =
                        route == "template"
                        ? templateSpec
                        : try SpecLoader(options: .init(environment: [:])).load(directory.path("vm-extra.yaml").path)
                    return String(decoding: try SeedRenderer.render(spec).userData, as: UTF8.self)
                }
                switch (rendered, pyyaml[index]) {
                case (.success(let userData), true):
                    pairs.append((document, userData))
                    labels.append("case \(index) as \(route)")
                case (.failure, false):
                    refusedByBoth += 1
                case (.failure(let error), true):
                    failures += 1
                    if failures > 5 { continue }
                    Issue.record(
                        "seed \(Self.seed), case \(index) as \(route): seedgen refuses what PyYAML reads: \(error)\n\(document)"
                    )
                case (.success, false):
                    failures += 1
                    if failures > 5 { continue }
                    Issue.record(
                        "seed \(Self.seed), case \(index) as \(route): seedgen accepts what PyYAML refuses\n\(document)"
                    )
                }
            }
        }
        let verdicts = try PyYAMLOracle.compare(pairs)
        for (position, verdict) in verdicts.enumerated() {
            guard let verdict, failures < 5 else { continue }
            failures += 1
            Issue.record(
                "seed \(Self.seed), \(labels[position]): \(verdict)\n--- user's text\n\(pairs[position].original)--- seed\n\(pairs[position].merged)"
            )
        }
        let schema = try PyYAMLOracle.schemaProblems(pairs.map(\.merged))
        for (position, problem) in schema.enumerated() {
            guard let problem, failures < 10 else { continue }
            failures += 1
            Issue.record(
                "seed \(Self.seed), \(labels[position]): cloud-init schema: \(problem)\n\(pairs[position].merged)")
        }
        #expect(
            pairs.count > Self.cases,
            "seed \(Self.seed): too few documents were usable (\(refusedByBoth / 2) refused by both)")
    }
}
