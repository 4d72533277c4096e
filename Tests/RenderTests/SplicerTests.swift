import Foundation
import SeedgenTestSupport
import Testing

@testable import SeedgenRender
@testable import SeedgenSpec

/// A user template that places one value in every position a template author might use.
let everyPositionTemplate = """
    alone: {{value}}
    joined: {{value}}.example.com
    prefixed: id-{{value}}-{{value}}
    quoted: "<{{value}}>"
    listed:
      - {{value}}
      - x{{value}}
    flow: [{{value}}, "q{{value}}", {{value}}z]
    inline: {k: {{value}}}
    {{value}}: as a key
    content: |
      first line
      value: {{value}} here
      last line
    folded_keep: |+
      {{value}}
    after_block: {{value}} # a comment with {{value}}
    nested:
      - path: /etc/{{value}}
        content: |
          {{value}}
        owner: root
    """

@Suite struct SplicerTests {
    func renderEveryPosition(_ value: String) throws -> [String: Any] {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.keepDefaultUser = true
        spec.cloudInit.templates.userData = TemplateSource(path: "every.yaml", text: everyPositionTemplate)
        spec.cloudInit.hostname = "h"
        // The value reaches the template as `value` through the hostname-independent context key.
        spec.description = value
        let template = everyPositionTemplate.replacingOccurrences(of: "{{value}}", with: "{{description}}")
        spec.cloudInit.templates.userData = TemplateSource(path: "every.yaml", text: template)
        return try #require(try loadWithPyYAML(SeedRenderer.render(spec).userData) as? [String: Any])
    }

    @Test(arguments: hostileStrings.filter { !$0.isEmpty })
    func everyPositionKeepsTheStructureAndTheValue(value: String) throws {
        let document = try renderEveryPosition(value)
        #expect(document["alone"] as? String == value)
        #expect(document["joined"] as? String == value + ".example.com")
        #expect(document["prefixed"] as? String == "id-\(value)-\(value)")
        #expect(document["quoted"] as? String == "<\(value)>")
        #expect(document["listed"] as? [String] == [value, "x" + value])
        #expect(document["flow"] as? [String] == [value, "q" + value, value + "z"])
        #expect((document["inline"] as? [String: Any])?["k"] as? String == value)
        #expect(document[value] as? String == "as a key")
        let content = try #require(document["content"] as? String)
        #expect(content.hasPrefix("first line\nvalue: "))
        #expect(content.hasSuffix(" here\nlast line\n"))
        let embedded = String(content.dropFirst("first line\nvalue: ".count).dropLast(" here\nlast line\n".count))
        #expect(
            embedded == value || embedded == RenderYAMLQuoting.doubleQuoted(value),
            "block value: \(embedded.debugDescription)")
        #expect(document["after_block"] as? String == value)
        let nested = try #require((document["nested"] as? [[String: Any]])?.first)
        #expect(nested["path"] as? String == "/etc/" + value)
        #expect(nested["owner"] as? String == "root")
        #expect(Set(nested.keys) == ["path", "content", "owner"])
        let expectedKeys: Set<String> = [
            "alone", "joined", "prefixed", "quoted", "listed", "flow", "inline", value, "content", "folded_keep",
            "after_block", "nested",
        ]
        #expect(Set(document.keys).isSuperset(of: expectedKeys))
        #expect(
            Set(document.keys).subtracting(expectedKeys).subtracting(
                ["hostname", "manage_etc_hosts", "users", "chpasswd", "ssh_pwauth", "package_upgrade"]).isEmpty,
            "no value may add keys: \(document.keys.sorted())")
    }

    @Test func plainValuesInBlocksAreWrittenAsThemselves() throws {
        let document = try renderEveryPosition("web01 serves\nexample.com")
        #expect(document["content"] as? String == "first line\nvalue: web01 serves\nexample.com here\nlast line\n")
        #expect(document["folded_keep"] as? String == "web01 serves\nexample.com\n")
    }

    @Test func templatesCannotContainTheMarkers() {
        var spec = RenderSpecs.minimal()
        let marker = String(Character(Unicode.Scalar(0xFDD0 as UInt32)!))
        spec.cloudInit.templates.userData = TemplateSource(path: "u.yaml", text: "a: \(marker)b\n")
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(found.count == 1 && found.first?.location?.file == "u.yaml", "\(found)")
    }
}

@Suite struct BlockScalarHeaderTests {
    /// The splicer's hand-written check agrees with the pattern it replaced on every line shape.
    @Test func handCheckAgreesWithThePattern() throws {
        let pattern = try NSRegularExpression(pattern: "(^|[:-] +)[|>][-+0-9]*$")
        let lines = [
            "key: |", "key: >", "key: |-", "key: >+", "key: |2", "key: |2-", "key: |+1", "  - |", "- >-", "|", ">",
            "|-",
            "key: | # comment", "key: |2 # a # b", "key:|", "key: x|", "key: | x", "key: 'a' |", "key: \"|\"", "- - |",
            "a - |", "a: b: |", "key:  \t|", "key: \u{A0}|", "key: |\u{A0}", "  ", "", "#", " # |", "key: |#x",
            "key: |  ",
            "\tkey: >\t", "key: ||", "key: >|", "-|", ":|", " : |", "-  >2", "x: -|", "key: |9-+", "key: text # |",
        ]
        for line in lines {
            let withoutComment = line.range(of: " #").map { String(line[..<$0.lowerBound]) } ?? line
            let trimmed = withoutComment.trimmingCharacters(in: .whitespaces)
            let expected = pattern.firstMatch(in: trimmed, range: NSRange(trimmed.startIndex..., in: trimmed)) != nil
            #expect(
                RenderValueSplicer.opensBlockScalar(Array(line.unicodeScalars)) == expected, "\(line.debugDescription)")
        }
    }
}
