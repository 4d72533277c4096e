import Foundation
import SeedgenKit
import SeedgenTestSupport
import Testing

/// Every sample vm.yaml, parsed by the real loader, deploys on a fake node and re-runs as a no-op.
@Suite struct SampleBundleTests {
    static let sampleFiles: [String] = {
        let root = TestPaths.samples
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let top = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.map { "samples/" + $0 }
        let fleet = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("fleet").path)) ?? [])
            .filter { $0.hasSuffix(".yaml") && $0 != "defaults.yaml" }.map { "samples/fleet/" + $0 }
        return (top + fleet).sorted()
    }()

    @Test func samplesExist() {
        #expect(Self.sampleFiles.count >= 5)
    }

    @Test(arguments: sampleFiles)
    func sampleDeploysAndReRunsAsNoOp(file: String) throws {
        let loader = SpecLoader(options: SpecLoader.Options(
            environment: ["HOME": "/nonexistent"], extraChecks: [{ ProxmoxBundle.modeDiagnostics(for: $0) }]))
        let spec = try loader.load(TestPaths.packageRoot.appendingPathComponent(file).path)
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/\(spec.name)"), withImage: spec.image != nil)

        var setup = FakeNode.Setup()
        setup.hostname = spec.node ?? "pve01"
        setup.storages[spec.hardware.disk.storage] = FakeNode.Storage(type: "lvmthin", content: ["images", "rootdir"])
        for disk in spec.hardware.extraDisks {
            setup.storages[disk.storage] = FakeNode.Storage(type: "lvmthin", content: ["images", "rootdir"])
        }
        for storage in [spec.storage.iso, spec.storage.import, spec.storage.snippets] where setup.storages[storage] == nil {
            setup.storages[storage] = FakeNode.Storage(content: ["iso", "vztmpl", "backup", "import", "snippets"])
        }
        if let pool = spec.pool { setup.pools = [pool] }
        let node = try FakeNode(setup)

        let first = try deploy(fixture, on: node)
        #expect(first.exitCode == 0, "\(file): \(first.stdout)\(first.stderr)")
        #expect(try node.vmStatus(spec.vmid) == "running")
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
