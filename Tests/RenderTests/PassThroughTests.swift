import Foundation
import SeedgenCore
import SeedgenRender
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// A vm.yaml (and files beside it) loaded and rendered the way `seedgen render` does.
func renderedUserData(vmYAML: String, files: [String: String] = [:]) throws -> String {
    let directory = try TemporaryDirectory(prefix: "pass-through")
    let file = try directory.write("vm.yaml", vmYAML)
    for (name, text) in files { try directory.write(name, text) }
    let specs = try SpecLoader(options: .init(environment: [:])).loadAll([file.path]).get()
    let seed = try SeedRenderer.render(try #require(specs.first))
    return String(decoding: seed.userData, as: UTF8.self)
}

let passThroughHeader = "name: pass\nvmid: 9100\nimage: debian-12\n"

/// The issue's three values that seedgen used to change on the way from the user's cloud-config
/// to the seed: cloud-init must read from the seed exactly what it reads from the user's text.
@Suite struct PassThroughTests {
    static let binaryWriteFiles = """
        write_files:
          - encoding: gzip
            content: !!binary |
              H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=
            path: /bin/arch
            permissions: '0555'

        """

    func expectSameValues(
        _ original: String, _ merged: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        guard PyYAMLOracle.isAvailable else { return }
        let verdict = try PyYAMLOracle.compare([(original, merged)])
        #expect(
            verdict == [nil], "PyYAML reads the seed differently: \(verdict)\n\(merged)", sourceLocation: sourceLocation
        )
        let schema = try PyYAMLOracle.schemaProblems([merged])
        #expect(schema == [nil], "cloud-init's schema rejects the seed: \(schema)", sourceLocation: sourceLocation)
    }

    @Test func binaryContentInAUserTemplateStaysBinary() throws {
        let userData = try renderedUserData(
            vmYAML: passThroughHeader + "cloud_init:\n  templates:\n    user_data: user-data.yaml\n",
            files: ["user-data.yaml": Self.binaryWriteFiles])
        #expect(userData.contains("!!binary"), "\(userData)")
        try expectSameValues(Self.binaryWriteFiles, userData)
    }

    @Test func binaryContentInExtraStaysBinary() throws {
        let extra = Self.binaryWriteFiles.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        let userData = try renderedUserData(vmYAML: passThroughHeader + "cloud_init:\n  extra:\n" + extra + "\n")
        try expectSameValues(Self.binaryWriteFiles, userData)
    }

    /// `0o600` is a string to YAML 1.1 (PyYAML); it used to be written back as the integer 384,
    /// which cloud-init's schema rejects.
    @Test func octalWithOPrefixStaysAString() throws {
        let template = "write_files:\n  - path: /etc/app.conf\n    content: x\n    permissions: 0o600\n"
        let userData = try renderedUserData(
            vmYAML: passThroughHeader + "cloud_init:\n  templates:\n    user_data: user-data.yaml\n",
            files: ["user-data.yaml": template])
        #expect(!userData.contains("384"), "\(userData)")
        try expectSameValues(template, userData)
    }

    /// `0755` is octal 493 to PyYAML; it used to come out as `755`, decimal 755 (mode 0o1363).
    /// cloud-init's schema wants a string here, for the user's own text as for the seed, so only
    /// the value is compared.
    @Test func unquotedOctalInExtraKeepsItsValue() throws {
        let original = "write_files:\n  - path: /usr/local/bin/tool\n    content: x\n    permissions: 0755\n"
        let userData = try renderedUserData(
            vmYAML: passThroughHeader
                + "cloud_init:\n  extra: {write_files: [{path: /usr/local/bin/tool, content: x, permissions: 0755}]}\n")
        #expect(!userData.contains("permissions: 755"), "\(userData)")
        guard PyYAMLOracle.isAvailable else { return }
        #expect(try PyYAMLOracle.compare([(original, userData)]) == [nil], "\(userData)")
    }
}

@Suite struct ExplainTests {
    @Test func everyTopLevelKeyNamesItsSource() throws {
        let directory = try TemporaryDirectory(prefix: "explain")
        try directory.write(
            "user-data.yaml", "write_files:\n  - path: /etc/motd\n    content: hi\nntp:\n  enabled: false\n")
        let file = try directory.write(
            "vm.yaml",
            passThroughHeader + """
                cloud_init:
                  packages: [vim]
                  templates:
                    user_data: user-data.yaml
                  extra:
                    ntp: {enabled: true}
                    snap: {commands: [echo]}

                """)
        let spec = try SpecLoader(options: .init(environment: [:])).load(file.path)
        let origins = Dictionary(
            uniqueKeysWithValues: try SeedRenderer.explainUserData(spec).map { ($0.key, $0.sources) })
        #expect(origins["manage_etc_hosts"] == ["built-in template"])
        #expect(
            origins["packages"] == [
                "structured field `cloud_init.packages` (\(file.path):5:13), through the built-in template"
            ])
        let template = try #require(spec.cloudInit.templates.userData?.path)
        #expect(origins["write_files"] == ["your template \(template)"])
        #expect(
            origins["ntp"] == ["your template \(template)", "`cloud_init.extra` (\(file.path):9:5), merged over it"])
        #expect(origins["snap"] == ["`cloud_init.extra` (\(file.path):10:5)"])
        // Every key of the rendered user-data is explained, in its order.
        let userData = String(decoding: try SeedRenderer.render(spec).userData, as: UTF8.self)
        let topLevelKeys = userData.split(separator: "\n").filter {
            !$0.hasPrefix(" ") && !$0.hasPrefix("#") && !$0.hasPrefix("-")
        }
        .map { String($0.prefix { $0 != ":" }) }
        #expect(try SeedRenderer.explainUserData(spec).map(\.key) == topLevelKeys)
        #expect(try SeedRenderer.explanation(spec).contains("snap              `cloud_init.extra`"))
    }
}
