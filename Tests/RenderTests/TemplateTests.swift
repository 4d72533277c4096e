import Foundation
import SeedgenTestSupport
import SeedgenYAML
import Testing

@testable import SeedgenCore
@testable import SeedgenRender
@testable import SeedgenSpec

func diagnostics(of body: () throws -> Any) -> [Diagnostic] {
    do {
        _ = try body()
        return []
    } catch SeedgenError.invalidInput(let found) {
        return found
    } catch {
        Issue.record("expected invalid input, got \(error)")
        return []
    }
}

func document(_ data: Data) throws -> [String: Any] {
    try #require(try loadWithPyYAML(data) as? [String: Any])
}

@Suite struct TemplateTests {
    @Test func builtinTemplatesAreTheFilesInTemplatesFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.templates.path)
            .filter { $0.hasSuffix(".mustache") }
        #expect(Set(names.map { String($0.dropLast(".mustache".count)) }) == Set(RenderBuiltinTemplates.byName.keys))
        for name in names {
            let onDisk = try String(contentsOf: TestPaths.templates.appendingPathComponent(name), encoding: .utf8)
            #expect(
                RenderBuiltinTemplates.byName[String(name.dropLast(".mustache".count))] == onDisk, "\(name) drifted")
            // Rendering skips these checks for built-in templates, so they hold here.
            #expect(!onDisk.contains("CONTENT_TYPE") && !RenderValueSplicer.containsMarkers(onDisk), "\(name)")
        }
    }

    @Test func userTemplateAndExtraMergeOverTheGeneratedDocument() throws {
        var spec = RenderSpecs.full()
        spec.cloudInit.templates.userData = TemplateSource(
            path: "templates/my-user-data.yaml",
            text: """
                #cloud-config
                hostname: {{fqdn}}
                packages:
                  - htop
                ntp:
                  enabled: true
                  servers: [time.example.com]
                chpasswd:
                  users:
                {{#users}}
                    - name: {{name}}
                      type: RANDOM
                {{/users}}
                """)
        spec.cloudInit.extra = .map([
            (key: "ntp", value: .map([(key: "servers", value: .list([.string("ntp.example.org")]))])),
            (key: "timezone", value: .null),
        ])
        let user = try document(SeedRenderer.render(spec).userData)
        #expect(user["hostname"] as? String == "web01.example.com")
        #expect(user["packages"] as? [String] == ["htop"], "lists replace")
        #expect((user["users"] as? [Any])?.count == 3, "generated users are kept")
        let ntp = try #require(user["ntp"] as? [String: Any])
        #expect(ntp["enabled"] as? Bool == true, "maps merge")
        #expect(ntp["servers"] as? [String] == ["ntp.example.org"], "extra is merged last")
        let chpasswd = try #require(user["chpasswd"] as? [String: Any])
        #expect(chpasswd["expire"] as? Bool == false)
        #expect((chpasswd["users"] as? [[String: Any]])?.map { $0["name"] as? String } == ["ops", "deploy"])
        #expect(user["timezone"] == nil, "extra: null removes a generated key")
        #expect(user["locale"] as? String == "en_US.UTF-8")
    }

    @Test func templateSyntaxErrorsArePositionedInTheTemplate() {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.templates.userData = TemplateSource(path: "tpl/user.yaml", text: "a: 1\nb: 2\nc: {{#items}}\n")
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(found.count == 1)
        #expect(found.first?.location?.file == "tpl/user.yaml")
        #expect(found.first?.keyPath == "cloud_init.templates.user_data")
        #expect(found.first?.message.contains("section `items` is never closed") == true, "\(found)")
        #expect(found.first?.location?.line == 3 && found.first?.location?.column == 4, "\(found)")

        spec.cloudInit.templates.userData = TemplateSource(path: "tpl/user.yaml", text: "a: {{#x}}\nb: 1\n{{/y}}\n")
        let mismatched = diagnostics { try SeedRenderer.render(spec) }
        #expect(mismatched.first?.location?.line == 3, "\(mismatched)")
        #expect(mismatched.first?.message.contains("different name") == true, "\(mismatched)")
    }

    @Test func invalidYAMLIsReportedOnTheTemplateLineThatProducedIt() {
        var spec = RenderSpecs.full()
        spec.cloudInit.templates.userData = TemplateSource(
            path: "tpl/user.yaml",
            text: """
                hostname: {{hostname}}
                packages:
                {{#packages}}
                  - {{.}}
                {{/packages}}
                fqdn: {{fqdn}}: x
                """)
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(found.count == 1)
        let diagnostic = found.first
        #expect(diagnostic?.location?.file == "tpl/user.yaml")
        #expect(diagnostic?.location?.line == 6, "\(found)")
        #expect(diagnostic?.message.contains("invalid YAML") == true)
        #expect(diagnostic?.message.contains("rendered line 5") == true, "\(found)")
    }

    @Test func problemsInSeveralTemplatesAreAllReported() {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.templates.userData = TemplateSource(path: "u.yaml", text: "a: {{#x}}\n")
        spec.cloudInit.templates.networkConfig = TemplateSource(path: "n.yaml", text: "- just\n- a list\n")
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(Set(found.compactMap(\.location?.file)) == ["u.yaml", "n.yaml"], "\(found)")
    }

    @Test func usersFromExtraMustStayValidForCloudInit() {
        var spec = RenderSpecs.minimal()
        spec.locations["cloud_init.extra"] = SeedgenCore.SourceLocation(file: "vm.yaml", line: 12, column: 3)
        spec.cloudInit.extra = .map([
            (
                key: "users",
                value: .list([
                    .string("default"),
                    .map([
                        (key: "name", value: .string("a")), (key: "ssh-authorized-keys", value: .list([.string("k")])),
                    ]),
                    .map([(key: "name", value: .string("b")), (key: "groups", value: .list([]))]),
                    .map([(key: "shell", value: .string("/bin/sh"))]),
                ])
            )
        ])
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(
            found.map(\.keyPath) == [
                "cloud_init.extra.users[1].ssh-authorized-keys", "cloud_init.extra.users[2].groups",
                "cloud_init.extra.users[3]",
            ], "\(found)")
        #expect(found.first?.allowed == "did you mean `ssh_authorized_keys`?")
        #expect(found.allSatisfy { $0.location?.line == 12 })
    }

    @Test func templatesCannotSwitchOffQuoting() {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.templates.userData = TemplateSource(
            path: "u.yaml", text: "a: 1\n{{%CONTENT_TYPE: TEXT}}\nb: {{hostname}}\n")
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(found.first?.location?.line == 2, "\(found)")
    }

    @Test func wrappedNetworkTemplateIsMergedIntoTheGeneratedOne() throws {
        var spec = RenderSpecs.full()
        spec.cloudInit.templates.networkConfig = TemplateSource(
            path: "net.yaml",
            text: """
                network:
                  version: 2
                  ethernets:
                {{#interfaces}}
                    {{name}}:
                      mtu: 9000
                {{/interfaces}}
                """)
        let network = try document(SeedRenderer.render(spec).networkConfig)
        #expect(network["network"] == nil)
        let eth1 = try #require((network["ethernets"] as? [String: Any])?["eth1"] as? [String: Any])
        #expect(eth1["mtu"] as? Int == 9000)
        #expect((eth1["match"] as? [String: Any])?["macaddress"] as? String == "bc:24:11:ab:cd:ef")
    }

    @Test func metaDataTemplateAddsKeysButInstanceIDIsSeedgens() throws {
        var spec = RenderSpecs.minimal(name: "web01.example.com")
        spec.cloudInit.templates.metaData = TemplateSource(
            path: "meta.yaml",
            text: """
                instance-id: mine
                local-hostname: {{fqdn}}
                vmid: {{{vmid}}}
                """)
        let seed = try SeedRenderer.render(spec)
        #expect(text(seed.metaData).hasPrefix("instance-id: \(seed.instanceID)\n"))
        let meta = try document(seed.metaData)
        #expect(meta["local-hostname"] as? String == "web01.example.com")
        #expect(meta["vmid"] as? Int == 9001)
    }
}

@Suite struct ContentRuleTests {
    @Test func userDataFollowsTheCloudInitRules() throws {
        let seed = try SeedRenderer.render(RenderSpecs.full())
        #expect(seed.userData.starts(with: Data("#cloud-config\n".utf8)))
        let user = try document(seed.userData)
        let users = try #require(user["users"] as? [Any])
        #expect(users.first as? String == "default")
        let ops = try #require(users[1] as? [String: Any])
        let deploy = try #require(users[2] as? [String: Any])
        #expect(ops["lock_passwd"] as? Bool == false)
        #expect(ops["passwd"] as? String == RenderSpecs.full().cloudInit.users[0].passwordHash)
        #expect(deploy["lock_passwd"] == nil, "lock_passwd: false only with a password hash")
        #expect(deploy["passwd"] == nil)
        #expect(deploy["groups"] == nil, "empty groups are omitted (cloud-init 22.4 rejects [])")
        #expect((user["chpasswd"] as? [String: Any])?["expire"] as? Bool == false)
        #expect(user["ssh_pwauth"] as? Bool == false)
        #expect(user["package_upgrade"] as? Bool == false)
        #expect(user["manage_etc_hosts"] as? Bool == true)
        #expect(user["hostname"] as? String == "web01")
        #expect(user["fqdn"] as? String == "web01.example.com")
        let files = try #require(user["write_files"] as? [[String: Any]])
        #expect(files[1]["encoding"] as? String == "b64")
        #expect(
            Data(base64Encoded: files[1]["content"] as? String ?? "")
                == RenderSpecs.full().cloudInit.writeFiles[1].content)
        #expect(files[1]["defer"] as? Bool == true)
        #expect(files[2]["append"] as? Bool == true)
        #expect(
            text(seed.userData).contains("content: |\n    hello\n    world\n"), "multi-line text is a literal block")
    }

    @Test func defaultUserCanBeDisabled() throws {
        var spec = RenderSpecs.full()
        spec.cloudInit.keepDefaultUser = false
        let users = try #require(try document(SeedRenderer.render(spec).userData)["users"] as? [[String: Any]])
        #expect(users.map { $0["name"] as? String } == ["ops", "deploy"])
        var alone = RenderSpecs.minimal()
        alone.cloudInit.keepDefaultUser = false
        let none = try document(SeedRenderer.render(alone).userData)["users"]
        #expect((none as? [String: Any])?.isEmpty == true, "no users at all: an empty map, not a missing key")
    }

    /// Proxmox's mtu=1 means "the bridge's MTU", which the virtio driver learns from the host: the
    /// guest's network-config must not set an MTU of 1, in either version; other MTUs are rendered.
    @Test func mtuOneIsLeftToTheBridge() throws {
        for version in [1, 2] {
            var spec = RenderSpecs.full(networkVersion: version)
            spec.network.interfaces[0].mtu = 1
            let network = text(try SeedRenderer.render(spec).networkConfig)
            #expect(!network.contains("mtu: 1\n"), "v\(version): \(network)")
            spec.network.interfaces[0].mtu = 9000
            #expect(text(try SeedRenderer.render(spec).networkConfig).contains("mtu: 9000"), "v\(version)")
        }
    }

    @Test func networkConfigUsesGatewaysNotRoutes() throws {
        for version in [1, 2] {
            let network = text(try SeedRenderer.render(RenderSpecs.full(networkVersion: version)).networkConfig)
            #expect(!network.contains("routes"), "v\(version)")
            #expect(!network.contains("default"), "v\(version)")
            #expect(
                !network.uppercased().contains("BC:24:11:12:34:56".lowercased().uppercased())
                    || network.contains("bc:24:11:12:34:56"))
        }
        let v2 = try document(SeedRenderer.render(RenderSpecs.full()).networkConfig)
        #expect(v2["version"] as? Int == 2)
        let eth0 = try #require((v2["ethernets"] as? [String: Any])?["eth0"] as? [String: Any])
        #expect(eth0["set-name"] as? String == "eth0")
        #expect(eth0["gateway4"] as? String == "192.0.2.1")
        #expect(eth0["gateway6"] as? String == "2001:db8::1")
        let eth1 = try #require((v2["ethernets"] as? [String: Any])?["eth1"] as? [String: Any])
        #expect(eth1["dhcp4"] as? Bool == true, "DHCP is explicit")
        #expect(eth1["nameservers"] == nil, "DHCP NICs get DNS from DHCP when a static NIC carries it")
    }

    @Test func instanceIDChangesExactlyWhenTheSeedContentDoes() throws {
        let spec = RenderSpecs.full()
        let first = try SeedRenderer.render(spec)
        let again = try SeedRenderer.render(spec)
        #expect(first == again, "same input, same bytes")
        #expect(first.instanceID.range(of: "^iid-9001-[0-9a-f]{12}$", options: .regularExpression) != nil)
        #expect(first.instanceID == "iid-9001-" + Digest.sha256Hex(first.userData + first.networkConfig).prefix(12))

        var hardwareOnly = spec
        hardwareOnly.hardware.cores = 16
        #expect(try SeedRenderer.render(hardwareOnly).instanceID == first.instanceID)
        var newCommand = spec
        newCommand.cloudInit.runcmd.append(.shell("true"))
        #expect(try SeedRenderer.render(newCommand).instanceID != first.instanceID)
        var newAddress = spec
        newAddress.network.interfaces[0].ipv4 = .static(address: "192.0.2.11", prefix: 24)
        #expect(try SeedRenderer.render(newAddress).instanceID != first.instanceID)
    }

    @Test func vendorDataIsPassedThrough() throws {
        var spec = RenderSpecs.minimal()
        let vendor = Data("#cloud-config\nruncmd: [\"echo vendor\"]\n".utf8)
        spec.cloudInit.vendorData = vendor
        let seed = try SeedRenderer.render(spec)
        #expect(seed.vendorData == vendor)
        #expect(seed.files.map(\.name) == ["user-data", "meta-data", "network-config", "vendor-data"])
        #expect(
            try SeedRenderer.render(RenderSpecs.minimal()).files.map(\.name) == [
                "user-data", "meta-data", "network-config",
            ])
    }
}

@Suite struct MultipartTests {
    func specWithParts() -> VMSpec {
        var spec = RenderSpecs.full()
        spec.cloudInit.parts = [
            MIMEPartSpec(
                type: "text/x-shellscript", filename: "setup.sh", content: Data("#!/bin/sh\necho \"hi\"\n".utf8)),
            MIMEPartSpec(type: "text/cloud-boothook", filename: "hook.sh", content: Data("#!/bin/sh\necho ünï\n".utf8)),
            MIMEPartSpec(type: "text/x-shellscript", filename: "no-newline.sh", content: Data("#!/bin/sh\ntrue".utf8)),
            MIMEPartSpec(
                type: "text/cloud-config", filename: "more.yaml",
                content: Data("#cloud-config\nntp: {enabled: true}\n".utf8)),
        ]
        return spec
    }

    @Test func partsArriveInOrderAndUnchangedThroughCloudInit() throws {
        let spec = specWithParts()
        let seed = try SeedRenderer.render(spec)
        #expect(seed == (try SeedRenderer.render(spec)), "the boundary is derived, not random")
        let script = """
            import json, sys
            from cloudinit import helpers, user_data
            message = user_data.UserDataProcessor(helpers.Paths({})).process(sys.stdin.buffer.read())
            print(json.dumps([[part.get_content_type(), part.get_filename(), part.get_payload(decode=True).decode("utf-8")]
                              for part in message.walk() if not part.is_multipart()]))
            """
        let result = try ProcessRunner.run(systemPython, ["-c", script], stdin: seed.userData)
        try #require(result.exitCode == 0, "\(result.stderr)")
        let parts = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [[String]])
        #expect(parts.map { $0[0] } == ["text/cloud-config"] + spec.cloudInit.parts.map(\.type))
        #expect(parts.map { $0[1] } == ["cloud-config.yaml"] + spec.cloudInit.parts.map(\.filename))
        #expect(Array(parts.dropFirst().map { $0[2] }) == spec.cloudInit.parts.map { text($0.content) })
        let cloudConfig = try #require(parts.first?[2])
        #expect(cloudConfig.hasPrefix("#cloud-config\nhostname: web01\n"))
    }

    @Test func invalidPartsAreInputErrors() {
        var spec = RenderSpecs.minimal()
        spec.cloudInit.parts = [
            MIMEPartSpec(type: "text/x-shellscript\nX-Injected: 1", filename: "a.sh", content: Data("true\n".utf8)),
            MIMEPartSpec(type: "text/cloud-config", filename: "b.yaml", content: Data("#cloud-config\na: [\n".utf8)),
        ]
        let found = diagnostics { try SeedRenderer.render(spec) }
        #expect(found.map(\.keyPath) == ["cloud_init.parts[0].type", "cloud_init.parts[1].source"], "\(found)")
    }
}

/// The example template of README.md (section "Your own templates"), checked by cloud-init's schema.
@Test func documentedExampleTemplateRendersValidCloudConfig() throws {
    guard requireTool("cloud-init") else { return }
    let docs = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
    let start = try #require(docs.range(of: "```yaml\n#cloud-config\n"))
    let end = try #require(docs[start.upperBound...].range(of: "```\n"))
    let template = "#cloud-config\n" + docs[start.upperBound..<end.lowerBound]
    var spec = RenderSpecs.full()
    spec.cloudInit.templates.userData = TemplateSource(path: "docs-example.yaml", text: template)
    let seed = try SeedRenderer.render(spec)
    let user = try document(seed.userData)
    #expect(user["hostname"] as? String == "web01.example.com")
    let file = try #require((user["write_files"] as? [[String: Any]])?.first)
    #expect(file["content"] as? String == "name = web01\nvmid = 9001\n")
    let directory = try TemporaryDirectory(prefix: "render-docs")
    try seed.userData.write(to: directory.path("user-data"))
    let result = try ProcessRunner.run("cloud-init", ["schema", "--config-file", directory.path("user-data").path])
    #expect(result.exitCode == 0, "\(result.stdout)\(result.stderr)\n\(text(seed.userData))")
}
