import Foundation
import SeedgenRender
import SeedgenSpec
import SeedgenTestSupport
import SeedgenYAML
import Testing

/// Strings that break naive YAML templating: quoting, shell syntax, YAML indicators, YAML 1.1
/// booleans and octals, line breaks of every kind, unicode.
let hostileStrings: [String] = [
    "it's \"quoted\"", "$(reboot)", "`id`", "line1\nline2\n", "no trailing\nnewline", "key: #comment",
    "yes", "no", "on", "Off", "0755", "1e3", "0x1F", ".inf", "null", "~", "2024-01-01", "true",
    "ünïcødé ☃ 🚀 中文", "- item", "{a: b}", "[x, y]", "&anchor", "*alias", "!tag", "%directive", "@at",
    "  leading and trailing  ", "\ttab", "", "---", "...", "trailing\n\n\n", "\n\nleading breaks",
    "\r\ncrlf\r\n", "back\\slash", "#", "?", "| block", "> folded", "<<", "a: b: c", "semi; colon",
    "nel\u{85}line", "ls\u{2028}ps\u{2029}", "mid\u{FEFF}bom", "bell\u{7}", "nul\u{0}byte", "  \n  indented\n",
]

/// `spec` with `value` in every free-text field the renderer writes.
func specWithEverywhere(_ value: String, networkVersion: Int) -> VMSpec {
    var spec = RenderSpecs.minimal()
    spec.description = value
    spec.cloudInit.hostname = value
    spec.cloudInit.networkConfigVersion = networkVersion
    var user = UserSpec(name: value)
    user.sshAuthorizedKeys = [value]
    user.passwordHash = value
    user.sudo = value
    user.groups = [value]
    user.shell = value
    spec.cloudInit.users = [user]
    spec.cloudInit.timezone = value
    spec.cloudInit.locale = value
    spec.cloudInit.packages = [value]
    var file = WriteFileSpec(path: value, content: Data(value.utf8))
    file.permissions = value
    file.owner = value
    spec.cloudInit.writeFiles = [file]
    spec.cloudInit.bootcmd = [.shell(value), .argv([value, value])]
    spec.cloudInit.runcmd = [.shell(value), .argv([value])]
    spec.network.nameservers = [value]
    spec.network.search = [value]
    var interface = InterfaceSpec(index: 0, mac: "BC:24:11:12:34:56")
    interface.ipv4 = .static(address: value, prefix: 24)
    interface.gateway4 = value
    interface.ipv6 = .static(address: value, prefix: 64)
    interface.gateway6 = value
    spec.network.interfaces = [interface]
    return spec
}

@Suite struct HostileStringTests {
    @Test(arguments: hostileStrings)
    func userDataParsesBackToTheInput(value: String) throws {
        let seed = try SeedRenderer.render(specWithEverywhere(value, networkVersion: 2))
        #expect(text(seed.userData).hasPrefix("#cloud-config\n"))
        let document = try #require(try loadWithPyYAML(seed.userData) as? [String: Any])
        #expect(document["hostname"] as? String == value)
        #expect(document["timezone"] as? String == value)
        #expect(document["locale"] as? String == value)
        #expect(document["packages"] as? [String] == [value])
        let users = try #require(document["users"] as? [Any])
        #expect(users.first as? String == "default")
        let user = try #require(users.last as? [String: Any])
        #expect(user["name"] as? String == value)
        #expect(user["passwd"] as? String == value)
        #expect(user["lock_passwd"] as? Bool == false)
        #expect(user["sudo"] as? String == value)
        #expect(user["shell"] as? String == value)
        #expect(user["groups"] as? [String] == [value])
        #expect(user["ssh_authorized_keys"] as? [String] == [value])
        let file = try #require((document["write_files"] as? [[String: Any]])?.first)
        #expect(file["path"] as? String == value)
        #expect(file["permissions"] as? String == value)
        #expect(file["owner"] as? String == value)
        if file["encoding"] as? String == "b64" {
            let decoded = Data(base64Encoded: try #require(file["content"] as? String))
            #expect(decoded == Data(value.utf8))
        } else {
            #expect(file["content"] as? String == value)
        }
        let bootcmd = try #require(document["bootcmd"] as? [Any])
        #expect(bootcmd.first as? String == value)
        #expect(bootcmd.last as? [String] == [value, value])
        let runcmd = try #require(document["runcmd"] as? [Any])
        #expect(runcmd.first as? String == value)
        #expect(runcmd.last as? [String] == [value])
    }

    @Test(arguments: hostileStrings)
    func networkConfigParsesBackToTheInput(value: String) throws {
        let v2 = try #require(
            try loadWithPyYAML(SeedRenderer.render(specWithEverywhere(value, networkVersion: 2)).networkConfig)
                as? [String: Any])
        let eth0 = try #require((v2["ethernets"] as? [String: Any])?["eth0"] as? [String: Any])
        #expect(eth0["addresses"] as? [String] == ["\(value)/24", "\(value)/64"])
        #expect(eth0["gateway4"] as? String == value)
        #expect(eth0["gateway6"] as? String == value)
        let nameservers = try #require(eth0["nameservers"] as? [String: Any])
        #expect(nameservers["addresses"] as? [String] == [value])
        #expect(nameservers["search"] as? [String] == [value])

        let v1 = try #require(
            try loadWithPyYAML(SeedRenderer.render(specWithEverywhere(value, networkVersion: 1)).networkConfig)
                as? [String: Any])
        let config = try #require(v1["config"] as? [[String: Any]])
        let subnets = try #require(config.first?["subnets"] as? [[String: Any]])
        #expect(subnets.map { $0["address"] as? String } == ["\(value)/24", "\(value)/64"])
        #expect(subnets.map { $0["gateway"] as? String } == [value, value])
        #expect(config.last?["address"] as? [String] == [value])
        #expect(config.last?["search"] as? [String] == [value])
    }

    @Test(arguments: hostileStrings)
    func metaDataParsesBackToTheInput(value: String) throws {
        let seed = try SeedRenderer.render(specWithEverywhere(value, networkVersion: 2))
        let meta = try #require(try loadWithPyYAML(seed.metaData) as? [String: Any])
        #expect(meta["local-hostname"] as? String == value)
        #expect(meta["instance-id"] as? String == seed.instanceID)
    }

    /// Yams drops a leading byte-order mark when it reads a scalar (Foundation's UTF-8 decoding),
    /// so a value that starts with one can only come through `extra`, which is never re-read by
    /// Yams; the file must still carry it, escaped, for cloud-init.
    @Test func leadingByteOrderMarkInExtraIsKept() throws {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.extra = .map([(key: "bootcmd", value: .list([.string("\u{FEFF}echo")]))])
        let seed = try SeedRenderer.render(spec)
        #expect(text(seed.userData).contains("\\uFEFFecho"))
        let document = try #require(try loadWithPyYAML(seed.userData) as? [String: Any])
        #expect(document["bootcmd"] as? [String] == ["\u{FEFF}echo"])
    }

    @Test func extraKeysKeepTheirExactValues() throws {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.extra = .map(
            hostileStrings.enumerated().map { (key: "k\($0.offset) \($0.element)", value: .string($0.element)) })
        let document = try #require(try loadWithPyYAML(SeedRenderer.render(spec).userData) as? [String: Any])
        for (index, value) in hostileStrings.enumerated() {
            #expect(document["k\(index) \(value)"] as? String == value, "key k\(index)")
        }
    }
}
