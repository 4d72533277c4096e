import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Values that would run code if any of them reached the shell unquoted.
@Suite struct HostileInputTests {
    @Test func plantedCommandSubstitutionsNeverRun() throws {
        let work = try TemporaryDirectory()
        let canary = work.path("canary-\(UUID().uuidString)")
        let payloads = [
            "$(touch \(canary.path))", "`touch \(canary.path)`", "'; touch \(canary.path); '",
            "\"; touch \(canary.path); \"",
            "$(touch canary)", "${IFS}touch${IFS}canary", "\\'$(touch canary)\\'",
        ]
        let description =
            "it's a \"description\" with\nnewlines; " + payloads.joined(separator: " | ") + " 100% : colon ü"
        var spec = BundleFixture.spec(description: description)
        spec.network.search = ["example.com"]
        // A directory and an image name with spaces, quotes and substitutions.
        let directory = work.path("out dir 'single' \"double\" $(touch canary) `touch canary`/web01")
        let fixture = try BundleFixture.make(
            spec: spec, in: directory, imageName: "noble $(touch canary) it's \"x\".img",
            cachePath: "/nonexistent/it's $(touch \(canary.path))/image.img")
        let caller = work.path("caller $(touch canary)")
        try FileManager.default.createDirectory(at: caller, withIntermediateDirectories: true)

        let node = try FakeNode()
        let dryRun = try deploy(fixture, on: node, ["--dry-run"], currentDirectory: caller)
        #expect(dryRun.exitCode == 0, "\(dryRun.stdout)\(dryRun.stderr)")
        let result = try deploy(fixture, on: node, [], currentDirectory: caller)
        #expect(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let again = try deploy(fixture, on: node, [], currentDirectory: caller)
        #expect(again.exitCode == 0, "\(again.stdout)\(again.stderr)")

        // The description arrived byte for byte, so quoting kept every character.
        let config = try #require(try node.vmConfig(9001))
        #expect(config["description"] == description + "\n\n" + fixture.plan.vm.marker)
        // The image name was cleaned for its import volume and still placed.
        let image = try #require(fixture.plan.file(role: .image))
        #expect(image.volume?.hasPrefix("local:import/noble---touch-canary--it-s--x-") == true, "\(image.volume ?? "")")

        for root in [work.url, node.state] {
            let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let url = enumerator?.nextObject() as? URL {
                #expect(!url.lastPathComponent.hasPrefix("canary"), "a planted command ran: \(url.path)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: canary.path))
    }

    /// Values qm would reject never reach the bundle: vm.yaml's decoder refuses each, positioned,
    /// and a `VMSpec` cannot hold one (its Proxmox values are types that check themselves).
    @Test func valuesQmWouldRejectStopTheBuild() throws {
        // Through variables: `StorageID("…")` with a literal would be taken as a literal (and trap).
        let tag = "bad tag; $(touch canary)", name = "web_01", storage = "local lvm", mac = "01:00:5E:00:00:01"
        #expect(ProxmoxTag(tag) == nil && DNSName(name) == nil && StorageID(storage) == nil && MACAddress(mac) == nil)
        let work = try TemporaryDirectory()
        let file = try work.write(
            "vm.yaml",
            """
            name: web_01
            vmid: 9001
            tags: [ok, "bad tag; $(touch canary)"]
            hardware:
              disk: {storage: local lvm}
            network:
              interfaces:
                - {bridge: vmbr0, mac: "01:00:5E:00:00:01"}
            """)
        let result = SpecLoader(options: .init(environment: [:])).loadAll([file.path])
        #expect(result.specs.isEmpty)
        let errors = result.diagnostics.filter { $0.severity == .error }
        let positions = Dictionary(
            errors.map { ($0.keyPath, $0.location.map { "\($0.line):\($0.column)" } ?? "") },
            uniquingKeysWith: { a, _ in a })
        #expect(positions["name"] == "1:7", "\(errors)")
        #expect(positions["tags[1]"] == "3:12", "\(errors)")
        #expect(positions["hardware.disk.storage"] == "5:19", "\(errors)")
        #expect(positions["network.interfaces[0].mac"] == "8:28", "\(errors)")
    }

    @Test(arguments: [
        "", "plain", "it's", "a b", "$(x)", "`x`", "\"", "\\", "line\nbreak", "tab\there", "*", "~", "!event", "--",
        "'", "''", "%41", "ü", "a=b,c",
    ])
    func quotedWordsReadBackUnchanged(value: String) throws {
        let script = "printf '%s' \(BundleShell.quote(value))"
        let result = try ProcessRunner.run("/bin/bash", ["-c", script])
        #expect(result.exitCode == 0)
        #expect(result.stdout == value)
    }
}
