import Foundation
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// The value types vm.yaml is decoded into accept what Proxmox's own formats accept
/// (qm-options.json, whose regexes were checked against Proxmox's code), so Bundle can use them
/// without checking again.
@Suite struct ProxmoxValueTests {
    private func regex(_ key: String) throws -> NSRegularExpression {
        try #require(QMOptionChecker.entries[key], "qm-options.json has no regex for \(key)")
    }

    private func proxmoxAccepts(_ key: String, _ text: String) throws -> Bool {
        let regex = try regex(key)
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    private func format(_ key: String) throws -> String {
        let data = try Data(contentsOf: FakeNode.qmOptions)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entry = try #require(object[key] as? [String: Any])
        return try #require(entry["format"] as? String)
    }

    static let candidates = [
        "local", "local-lvm", "a", "ab", "a1", "1a", "a.b", "a_b", "a-", "a-b", "A9", "-a", "a b", "vmbr0", "vmbr0.100",
        "web01", "web01.example.com", "web_01", "web01.", ".web01", "x--y", "prod+1", "+prod", "_x", "db/primary",
        "a/b/c", "a/b/c/d", "", "é", "9001", "099", "100", "99", "1000000000", "999999999",
    ]

    @Test func storageIDsArePreciselyProxmoxs() throws {
        for text in Self.candidates {
            #expect((StorageID(text) != nil) == (try proxmoxAccepts("storage", text)), "\(text)")
        }
    }

    @Test func poolNamesArePreciselyProxmoxs() throws {
        for text in Self.candidates {
            #expect((PoolName(text) != nil) == (try proxmoxAccepts("pool", text)), "\(text)")
        }
    }

    @Test func aTagIsWhatProxmoxsTagListTakesAsOneTag() throws {
        for text in Self.candidates where !text.isEmpty && !text.contains(" ") {
            #expect((ProxmoxTag(text) != nil) == (try proxmoxAccepts("tags", text)), "\(text)")
        }
    }

    @Test func vmidsArePreciselyProxmoxs() throws {
        for text in Self.candidates {
            #expect((VMID(text) != nil) == (try proxmoxAccepts("vmid", text)), "\(text)")
        }
    }

    /// DNS names: Proxmox's dns-name, and labels kept to 63 characters for the guest's hostname.
    @Test func dnsNamesAreProxmoxsWithGuestLabelLengths() throws {
        for text in Self.candidates {
            #expect((DNSName(text) != nil) == (try proxmoxAccepts("name", text)), "\(text)")
        }
        let long = String(repeating: "a", count: 64)  // not a literal: see macAddressesAreUnicastAndNormalised
        #expect(try proxmoxAccepts("name", long) && DNSName(long) == nil)
        #expect(DNSName(String(repeating: "a", count: 63)) != nil)
    }

    @Test func nicModelsAreQemuServersList() throws {
        let format = try format("netN")
        let listed = try #require(format.range(of: "model in ")).upperBound
        let names = format[listed...].prefix { $0 != "(" }.split(separator: " ").map(String.init)
        #expect(Set(NICModel.allCases.map(\.rawValue)) == Set(names), "\(names)")
    }

    @Test func macAddressesAreUnicastAndNormalised() {
        // Through a function, not `MACAddress("…")`: a literal there would be taken as one (and trap).
        func mac(_ text: String) -> MACAddress? { MACAddress(text) }
        #expect(mac("bc:24:11:12:34:56")?.text == "BC:24:11:12:34:56")
        #expect(mac("BC-24-11-12-34-56")?.text == "BC:24:11:12:34:56")
        #expect(mac("01:00:5E:00:00:01") == nil, "multicast")
        #expect(mac("BC:24:11:12:34") == nil)
    }

    @Test func limitsAreProxmoxs() throws {
        #expect(try format("netN").contains("mtu=<\(ProxmoxMTU.range.lowerBound)-\(ProxmoxMTU.range.upperBound)>"))
        #expect(try format("description").contains("max \(ProxmoxDescription.proxmoxLimit) characters"))
        #expect(try format("scsiN").contains("N in 0..\(ProxmoxDiskSlots.extraDiskLimit)"))
    }
}

/// What vm.yaml may now say because Proxmox accepts it, and what the stages make of it.
@Suite struct ProxmoxLimitDecodingTests {
    @Test func mtuOneIsAcceptedAsProxmoxDoes() throws {
        let fixture = try SpecFixture(
            "name: web01\nvmid: 9001\nnetwork:\n  interfaces:\n    - bridge: vmbr0\n      mtu: 1\n")
        let result = fixture.load()
        #expect(!result.hasErrors, "\(result.diagnostics.map(\.description))")
        #expect(result.specs.first?.network.interfaces.first?.mtu == 1)
        let refused = try SpecFixture(
            "name: web01\nvmid: 9001\nnetwork:\n  interfaces:\n    - bridge: vmbr0\n      mtu: ⟨mtu⟩0\n")
        refused.expectError("mtu", keyPath: "network.interfaces[0].mtu", contains: "out of range", in: refused.load())
    }
}
