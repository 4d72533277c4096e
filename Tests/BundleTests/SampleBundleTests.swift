import Foundation
import SeedgenBundle
import SeedgenNoCloud
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Every sample vm.yaml, parsed by the real loader, deploys on a fake node and re-runs as a no-op.
@Suite struct SampleBundleTests {
    static let sampleFiles: [String] = {
        let root = TestPaths.samples
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let top = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.map { "samples/" + $0 }
        let fleet =
            ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("fleet").path)) ?? [])
            .filter { $0.hasSuffix(".yaml") && $0 != "defaults.yaml" }.map { "samples/fleet/" + $0 }
        return (top + fleet).sorted()
    }()

    @Test func samplesExist() {
        #expect(Self.sampleFiles.count >= 5)
    }

    @Test(arguments: sampleFiles)
    func sampleDeploysAndReRunsAsNoOp(file: String) throws {
        let loader = SpecLoader(
            options: SpecLoader.Options(
                environment: ["HOME": "/nonexistent"], extraChecks: [{ ProxmoxBundle.modeDiagnostics(for: $0) }]))
        let spec = try loader.load(TestPaths.packageRoot.appendingPathComponent(file).path)
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: spec, in: work.path("out/\(spec.name)"), withImage: spec.image != nil)

        var setup = FakeNode.Setup()
        setup.hostname = spec.node?.text ?? "pve01"
        setup.storages[spec.hardware.disk.storage.text] = FakeNode.Storage(
            type: "lvmthin", content: ["images", "rootdir"])
        for disk in spec.hardware.extraDisks {
            setup.storages[disk.storage.text] = FakeNode.Storage(type: "lvmthin", content: ["images", "rootdir"])
        }
        for storage in [spec.storage.iso, spec.storage.import, spec.storage.snippets].map(\.text)
        where setup.storages[storage] == nil {
            setup.storages[storage] = FakeNode.Storage(content: ["iso", "vztmpl", "backup", "import", "snippets"])
        }
        if let pool = spec.pool { setup.pools = [pool.text] }
        let node = try FakeNode(setup)

        let first = try deploy(fixture, on: node)
        #expect(first.exitCode == 0, "\(file): \(first.stdout)\(first.stderr)")
        #expect(try node.vmStatus(spec.vmid.number) == "running")
        let snapshot = try node.snapshot()
        try node.clearCalls()
        let second = try deploy(fixture, on: node)
        #expect(second.exitCode == 0, "\(file): \(second.stderr)")
        #expect(second.stdout.contains("already deployed"))
        #expect(second.stdout.contains("hardware matches the plan"), "\(file): \(second.stdout)")
        #expect(try node.changingCalls().isEmpty)
        #expect(try node.snapshot() == snapshot)
    }
}

/// deploy.sh and plan.json byte for byte, for every sample and for the fixture VM in each cloud-init
/// mode and firmware, so that a change to the generated script shows in review.
/// `SEEDGEN_RECORD_GOLDEN=1` re-records them under Tests/Fixtures/bundle/golden/.
@Suite struct BundleGoldenTests {
    static let goldenDirectory = TestPaths.fixtures.appendingPathComponent("bundle/golden")

    static let fixtureVariants: [String] = CloudInitMode.allCases.flatMap { mode in
        [Firmware.seabios, .ovmf].map { "fixture-\(mode.rawValue)-\($0.rawValue)" }
    }

    @Test(arguments: SampleBundleTests.sampleFiles)
    func sampleBundleMatchesTheGoldenFiles(file: String) throws {
        let loader = SpecLoader(options: SpecLoader.Options(environment: ["HOME": "/nonexistent"]))
        let spec = try loader.load(TestPaths.packageRoot.appendingPathComponent(file).path)
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: spec, in: work.path("out/\(spec.name)"), withImage: spec.image != nil)
        let name = String(file.dropFirst("samples/".count)).replacingOccurrences(of: "/", with: "-")
        try compareWithGolden(fixture.directory, name: (name as NSString).deletingPathExtension)
    }

    @Test(arguments: CloudInitMode.allCases, [Firmware.seabios, .ovmf])
    func fixtureBundleMatchesTheGoldenFiles(mode: CloudInitMode, bios: Firmware) throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(mode: mode, bios: bios), in: work.path("out/web01"))
        try compareWithGolden(fixture.directory, name: "fixture-\(mode.rawValue)-\(bios.rawValue)")
    }

    @Test func everyGoldenDirectoryBelongsToAVariant() throws {
        let expected =
            SampleBundleTests.sampleFiles.map {
                ((String($0.dropFirst("samples/".count)) as NSString).deletingPathExtension).replacingOccurrences(
                    of: "/", with: "-")
            } + Self.fixtureVariants
        let recorded = try FileManager.default.contentsOfDirectory(atPath: Self.goldenDirectory.path)
        #expect(recorded.sorted() == expected.sorted())
    }

    private func compareWithGolden(_ artifacts: URL, name: String) throws {
        let directory = Self.goldenDirectory.appendingPathComponent(name)
        let record = ProcessInfo.processInfo.environment["SEEDGEN_RECORD_GOLDEN"] == "1"
        if record { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        for file in ["deploy.sh", "plan.json"] {
            let produced = try Data(contentsOf: artifacts.appendingPathComponent(file))
            let golden = directory.appendingPathComponent(file)
            if record {
                try produced.write(to: golden)
                continue
            }
            let expected = try #require(
                FileManager.default.contents(atPath: golden.path),
                "no golden file \(golden.path): run with SEEDGEN_RECORD_GOLDEN=1 to record it")
            #expect(
                produced == expected,
                "\(name)/\(file) differs from its golden file (SEEDGEN_RECORD_GOLDEN=1 re-records)")
        }
    }
}

/// deploy.sh's fixed code is a real bash file in the source tree, and shellcheck reads it as one.
@Test func deployScriptTemplatePassesShellcheckAsAFile() throws {
    let template = TestPaths.packageRoot.appendingPathComponent("templates/deploy.sh.bash")
    // SC2034 ("appears unused"): NO_START is read by the start step, which is generated into the
    // template's `#@seedgen steps` line; the generated deploy.sh is checked without exclusions.
    let lint = try ProcessRunner.run(
        "shellcheck", ["--shell=bash", "--severity=style", "--exclude=SC2034", template.path])
    #expect(lint.exitCode != 127, "shellcheck is not installed: run scripts/install-deps.sh")
    #expect(lint.exitCode == 0, "shellcheck templates/deploy.sh.bash: \(lint.stdout)\(lint.stderr)")
}
