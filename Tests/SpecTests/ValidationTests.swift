import Foundation
import SeedgenSpec
import SeedgenTestSupport
import Testing

@Suite struct ValidationTests {
    @Test func minimalFileGetsDefaults() throws {
        let fixture = try SpecFixture("name: web01\nvmid: 9001\n")
        let spec = try #require(try fixture.load().get().first)
        #expect(spec.hostname == "web01")
        #expect(spec.fqdn == nil)
        #expect(spec.hardware.memory == .gibibytes(2))
        #expect(spec.hardware.machine == "q35")
        #expect(spec.cloudInit.mode == .iso)
        #expect(spec.cloudInit.packageUpgrade == false)
        #expect(spec.network.interfaces.count == 1)
        #expect(spec.network.interfaces[0].ipv4 == .dhcp, "the default NIC must have DHCP enabled explicitly")
        #expect(spec.network.interfaces[0].mac == AddressRules.derivedMAC(vmid: 9001, index: 0))
    }

    @Test func everyProblemIsReportedWithItsPosition() throws {
        let fixture = try SpecFixture(
            """
            name: ⟨name⟩web_01
            vmid: ⟨vmid⟩42
            ⟨typo⟩hardwre: {}
            hardware:
              memory: ⟨memory⟩lots
              bios: ⟨bios⟩uefi
              balloon: 1G
            network:
              interfaces:
                - mac: ⟨mac⟩01:00:5E:00:00:01
                  ipv4: ⟨cidr⟩192.0.2.300/24
                  vlan: ⟨vlan⟩5000
                - ipv4: 10.0.0.5/8
                  gateway4: ⟨gw⟩11.0.0.1
                - ipv4: dhcp
                  gateway4: ⟨gwdhcp⟩10.0.0.1
            """)
        let result = fixture.load()
        #expect(result.hasErrors)
        #expect(result.specs.isEmpty)
        fixture.expectError("name", keyPath: "name", contains: "not a valid DNS name", in: result)
        fixture.expectError("vmid", keyPath: "vmid", contains: "out of range", in: result)
        fixture.expectError("typo", keyPath: "hardwre", contains: "unknown key", in: result)
        #expect(result.diagnostics.contains { $0.keyPath == "hardwre" && $0.allowed == "did you mean 'hardware'?" })
        fixture.expectError("memory", keyPath: "hardware.memory", contains: "not a size", in: result)
        fixture.expectError("bios", keyPath: "hardware.bios", contains: "'uefi' is not allowed", in: result)
        fixture.expectError("mac", keyPath: "network.interfaces[0].mac", contains: "multicast", in: result)
        fixture.expectError("cidr", keyPath: "network.interfaces[0].ipv4", contains: "not an IPv4 address", in: result)
        fixture.expectError("vlan", keyPath: "network.interfaces[0].vlan", contains: "out of range", in: result)
        fixture.expectError("gw", keyPath: "network.interfaces[1].gateway4", contains: "outside", in: result)
        fixture.expectError(
            "gwdhcp", keyPath: "network.interfaces[2].gateway4", contains: "needs a static ipv4", in: result)
    }

    /// An unclosed bracket is reported where it opens (libyaml's context mark), where it was
    /// noticed in the message.
    @Test func unclosedFlowSequenceIsReportedWhereItOpens() throws {
        let fixture = try SpecFixture("name: a\nvmid: [1, 2\nimage: x\n")
        let result = fixture.load()
        let error = try #require(result.diagnostics.first)
        #expect(result.diagnostics.count == 1)
        #expect(error.message == "this flow sequence `[` is never closed (expected ',' or ']' at 3:6)")
        #expect(error.location?.line == 2)
        #expect(error.location?.column == 7)
        #expect(error.location?.file == fixture.file.path)
    }

    @Test func unclosedQuoteIsReportedWhereItOpens() throws {
        let fixture = try SpecFixture("name: a\nvmid: 100\ndescription: ⟨quote⟩\"web frontend\nimage: debian-12\n\n")
        let result = fixture.load()
        fixture.expectError(
            "quote", keyPath: "", contains: "this quoted scalar is never closed (reached the end of the file at 6:1)",
            in: result)
        #expect(result.diagnostics.count == 1)
        #expect(
            result.diagnostics.first?.description.hasSuffix(
                "vm.yaml:3:14: error: this quoted scalar is never closed (reached the end of the file at 6:1)") == true)
    }

    @Test func unclosedFlowMappingIsReportedWhereItOpens() throws {
        let fixture = try SpecFixture("name: a\nhardware: ⟨brace⟩{memory: 2G, cores: 2\n")
        let result = fixture.load()
        fixture.expectError(
            "brace", keyPath: "",
            contains: "this flow mapping `{` is never closed (reached the end of the file at 3:1 without a `}`)",
            in: result)
    }

    @Test func badIndentationNamesTheMappingItBreaks() throws {
        let fixture = try SpecFixture("name: a\nhardware:\n  memory: 2G\n ⟨line⟩cores: 2\n")
        let result = fixture.load()
        fixture.expectError(
            "line", keyPath: "",
            contains:
                "this line is indented to column 2, but the mapping it continues (from 1:1) has its keys at column 1",
            in: result)
    }

    @Test func duplicateKeysAreErrors() throws {
        let fixture = try SpecFixture("name: a\nvmid: 100\n⟨dup⟩vmid: 101\n")
        let result = fixture.load()
        #expect(result.hasErrors)
        #expect(result.diagnostics.contains { $0.message.contains("duplicate") && $0.location?.line == 3 })
    }

    @Test func duplicateMACInOneFile() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            network:
              interfaces:
                - { mac: "bc:24:11:00:00:01", ipv4: dhcp }
                - { mac: ⟨second⟩"BC-24-11-00-00-01", ipv4: dhcp }
            """)
        fixture.expectError(
            "second", keyPath: "network.interfaces[1].mac", contains: "duplicate MAC BC:24:11:00:00:01",
            in: fixture.load())
    }

    @Test func derivedMACsAreStableUnicastAndDistinct() {
        let macs = (0..<8).map { AddressRules.derivedMAC(vmid: 9001, index: $0) }
        #expect(Set(macs).count == 8)
        for mac in macs.map(\.text) {
            #expect(mac.hasPrefix("BC:24:11:"))
            // Unicast: the first octet's lowest bit is 0 (Proxmox refuses multicast MACs).
            #expect(UInt8(mac.prefix(2), radix: 16).map { $0 & 1 == 0 } == true)
            #expect(mac.range(of: "^[A-F0-9]{2}(:[A-F0-9]{2}){5}$", options: .regularExpression) != nil)
        }
        #expect(AddressRules.derivedMAC(vmid: 9001, index: 0) == macs[0])
        #expect(AddressRules.derivedMAC(vmid: 9002, index: 0) != macs[0])
    }

    @Test func ipv6GatewayRules() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            network:
              interfaces:
                - { ipv6: "2001:db8::10/64", gateway6: ⟨out⟩"2001:db9::1" }
                - { ipv6: "2001:db8:1::10/64", gateway6: "fe80::1" }
                - { ipv6: slaac, gateway6: ⟨nostatic⟩"2001:db8::1" }
            """)
        let result = fixture.load()
        fixture.expectError("out", keyPath: "network.interfaces[0].gateway6", contains: "outside", in: result)
        fixture.expectError(
            "nostatic", keyPath: "network.interfaces[2].gateway6", contains: "needs a static ipv6", in: result)
        #expect(!result.diagnostics.contains { $0.keyPath == "network.interfaces[1].gateway6" })
    }

    @Test func interfaceWithoutAddressingWarns() throws {
        let fixture = try SpecFixture("name: a\nvmid: 100\nnetwork:\n  interfaces:\n    - { bridge: vmbr1 }\n")
        let result = fixture.load()
        #expect(!result.hasErrors)
        #expect(result.warnings.contains { $0.message.contains("unconfigured") })
        #expect(try result.get().first?.network.interfaces.first?.ipv4 == IPv4Config.none)
    }

    @Test func unknownCatalogImageSuggestsAName() throws {
        let fixture = try SpecFixture("name: a\nvmid: 100\nimage: ⟨image⟩ubuntu-24.4\n")
        let result = fixture.load(knownImageNames: ["ubuntu-24.04", "debian-12"])
        fixture.expectError("image", keyPath: "image", contains: "unknown catalog image", in: result)
        #expect(result.diagnostics.first?.allowed == "did you mean 'ubuntu-24.04'?")
    }

    @Test func imageMapRules() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            image:
              url: ⟨url⟩https://example.invalid/x.img
              signature_url: ⟨sig⟩https://example.invalid/SHA256SUMS.gpg
            """)
        let result = fixture.load()
        fixture.expectError(
            "url", keyPath: "image.url", contains: "nothing verifies https://example.invalid/x.img", in: result)
        fixture.expectError("sig", keyPath: "image.signature_url", contains: "checksums_url is missing", in: result)
    }

    @Test func octalPermissionsStayStrings() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              write_files:
                - { path: /etc/x, content: "x", permissions: 0644 }
                - { path: /etc/y, content: "y", permissions: 755 }
            """)
        let spec = try #require(try fixture.load().get().first)
        #expect(spec.cloudInit.writeFiles.map(\.permissions) == ["0644", "0755"])
    }

    @Test func hostileFreeTextIsKeptVerbatim() throws {
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            description: "$(touch /tmp/canary) `id` 'q' \\"dq\\": # yes 0755 ünï"
            tags: [web]
            """)
        let spec = try #require(try fixture.load().get().first)
        #expect(spec.description == "$(touch /tmp/canary) `id` 'q' \"dq\": # yes 0755 ünï")
    }

    @Test func modeSpecificHashRule() throws {
        let yescrypt = "$y$j9T$abcdefghijklmnopqrstuv$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
        #expect(PasswordHash.scheme(of: yescrypt) == .yescrypt)
        let fixture = try SpecFixture(
            """
            name: a
            vmid: 100
            cloud_init:
              mode: pve
              users:
                - { name: ops, password_hash: ⟨hash⟩"\(yescrypt)" }
            """)
        fixture.expectError(
            "hash", keyPath: "cloud_init.users[0].password_hash", contains: "hashes a $y$ password again",
            in: fixture.load())
    }
}
