import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenTestSupport
import Testing

/// Values that would run code if any of them reached the shell unquoted.
@Suite struct HostileInputTests {
    @Test func plantedCommandSubstitutionsNeverRun() throws {
        let work = try TemporaryDirectory()
        let canary = work.path("canary-\(UUID().uuidString)")
        let payloads = [
            "$(touch \(canary.path))", "`touch \(canary.path)`", "'; touch \(canary.path); '", "\"; touch \(canary.path); \"",
            "$(touch canary)", "${IFS}touch${IFS}canary", "\\'$(touch canary)\\'",
        ]
        let description = "it's a \"description\" with\nnewlines; " + payloads.joined(separator: " | ") + " 100% : colon ü"
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

    @Test func valuesQmWouldRejectStopTheBuild() throws {
        var spec = BundleFixture.spec()
        spec.tags = ["ok", "bad tag; $(touch canary)"]
        spec.name = "web_01"
        spec.hardware.disk.storage = "local lvm"
        spec.network.interfaces[0].mac = "01:00:5E:00:00:01"
        let inputs = BundleInputs(seedISO: BundleFile(name: "seedgen-9001-0123abcd.iso", sha256: String(repeating: "a", count: 64), size: 1))
        do {
            _ = try ProxmoxBundle.plan(for: spec, inputs: inputs)
            Issue.record("plan accepted values qm rejects")
        } catch let SeedgenError.invalidInput(diagnostics) {
            let paths = Set(diagnostics.map(\.keyPath))
            #expect(paths.isSuperset(of: ["tags[1]", "name", "hardware.disk.storage", "network.interfaces[0].mac"]), "\(diagnostics)")
        }
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
