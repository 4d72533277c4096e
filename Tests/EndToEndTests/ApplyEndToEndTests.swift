import Foundation
import SeedgenApply
import SeedgenTestSupport
import Testing

/// Runs the binary on a thread of its own, so that the fake API (served from this process) keeps
/// the Swift concurrency threads it needs while the child runs.
private func seedgenOffPool(_ arguments: [String], environment: [String: String]) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try seedgen(arguments, environment: environment) })
        }
    }
}

/// `seedgen apply` as a pipeline runs it: the built binary, over HTTPS with a pinned fingerprint, to
/// the fake Proxmox API, with the token only in the environment.
@Suite(.serialized) struct ApplyEndToEndTests {
    static let secret = "5f0c7e2a-1b9d-4c3e-9a8f-d00dfeedbeef"
    static let tokenID = "ci@pve!deploy"

    final class Node: @unchecked Sendable {
        let certificates: TestCertificates
        let server: FakeProxmoxAPIServer
        let work: TemporaryDirectory
        init(_ setup: FakeProxmoxAPI.Setup) throws {
            certificates = try TestCertificates()
            server = try FakeProxmoxAPIServer(
                api: FakeProxmoxAPI(setup), token: "\(ApplyEndToEndTests.tokenID)=\(ApplyEndToEndTests.secret)",
                certificate: certificates.leafCertificate, key: certificates.leafKey)
            work = try TemporaryDirectory(prefix: "seedgen-apply")
        }

        func apply(_ extra: [String] = [], fingerprint: String? = nil) async throws -> ProcessResult {
            let arguments = ["apply", TestPaths.samples.appendingPathComponent("web01.yaml").path,
                             "-o", work.path("out").path, "--cache", work.path("cache").path, "--progress", "none",
                             "--api", server.url.absoluteString, "--fingerprint", fingerprint ?? certificates.leafFingerprint] + extra
            return try await seedgenOffPool(arguments, environment: buildEnvironment(["PVE_API_TOKEN": "\(ApplyEndToEndTests.tokenID)=\(ApplyEndToEndTests.secret)"]))
        }
    }

    private static func everything() -> FakeProxmoxAPI.Setup {
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        return setup
    }

    @Test func theSampleIsCreatedAndASecondRunChangesNothing() async throws {
        let node = try Node(Self.everything())
        let first = try await node.apply()
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        let api = node.server.api
        #expect(await api.isRunning(9001))
        let config = try #require(await api.vmConfig(9001))
        #expect(config["name"] == "web01.example.com")
        let firstCalls = await api.changingCalls()
        let changes = firstCalls.count
        #expect(changes >= 5, "\(firstCalls)")

        let second = try await node.apply()
        #expect(second.exitCode == 0, "\(second.stderr)")
        #expect(second.stderr.contains("unchanged"), "\(second.stderr)")
        let secondCalls = await api.changingCalls()
        #expect(secondCalls.count == changes, "a re-run changed: \(secondCalls.dropFirst(changes))")

        // The token's secret is in no output and no artifact.
        for output in [first.stdout, first.stderr, second.stdout, second.stderr] { #expect(!output.contains(Self.secret)) }
        let grep = try ProcessRunner.run("grep", ["-rlaF", Self.secret, node.work.path("out").path])
        #expect(grep.exitCode == 1, "the token's secret is in \(grep.stdout)")
    }

    @Test func aWrongFingerprintIsRefusedWithBoth() async throws {
        let node = try Node(Self.everything())
        let result = try await node.apply(fingerprint: node.certificates.otherFingerprint)
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains(node.certificates.otherFingerprint) && result.stderr.contains(node.certificates.leafFingerprint), "\(result.stderr)")
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func aMissingPrivilegeIsReportedBeforeAnyChangeWithTheGrants() async throws {
        var setup = Self.everything()
        setup.tokenACL["/sdn"] = []
        let node = try Node(setup)
        let result = try await node.apply()
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("SDN.Use on /sdn/zones/localnetwork/vmbr0"), "\(result.stderr)")
        #expect(result.stderr.contains("pveum acl modify /sdn/zones/localnetwork/vmbr0"), "\(result.stderr)")
        #expect(result.stderr.contains("--tokens 'ci@pve!deploy'"))
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func dryRunPrintsTheCallsAndChangesNothing() async throws {
        let node = try Node(Self.everything())
        let result = try await node.apply(["--dry-run"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("POST /nodes/pve01/qemu vmid=9001"), "\(result.stdout)")
        #expect(result.stdout.contains("POST /nodes/pve01/storage/"))
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func theTokenIsNeverTakenFromTheCommandLine() async throws {
        let node = try Node(Self.everything())
        var environment = buildEnvironment()
        environment["PVE_API_TOKEN"] = nil
        let result = try await seedgenOffPool(
            ["apply", TestPaths.samples.appendingPathComponent("web01.yaml").path, "--api", node.server.url.absoluteString,
             "-o", node.work.path("out").path, "--cache", node.work.path("cache").path], environment: environment)
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("PVE_API_TOKEN"))
    }

    @Test func snippetsModeIsRefusedAtValidationNamingIsoMode() async throws {
        let node = try Node(Self.everything())
        let file = try node.work.write("snip.yaml", """
            name: snip01
            vmid: 9100
            node: pve01
            image: {path: \(TestPaths.samples.appendingPathComponent("images/demo.qcow2").path)}
            cloud_init:
              mode: snippets

            """)
        let result = try await seedgenOffPool(
            ["apply", file.path, "--api", node.server.url.absoluteString, "--fingerprint", node.certificates.leafFingerprint,
             "-o", node.work.path("out").path, "--cache", node.work.path("cache").path],
            environment: buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"]))
        #expect(result.exitCode == 2, "\(result.stderr)")
        #expect(result.stderr.contains("snip.yaml:6:9: error: cloud_init.mode: snippets mode cannot be applied over the API"), "\(result.stderr)")
        #expect(result.stderr.contains("cloud_init.mode: iso"))
        #expect(await node.server.api.changingCalls().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: node.work.path("out/snip01").path), "nothing is written for invalid input")
    }

    /// Every sample, as one fleet: built, preflighted together, created on two nodes; a second run
    /// changes nothing.
    @Test func everySampleIsAppliedAndTheFleetReRunsUnchanged() async throws {
        var setup = Self.everything()
        setup.nodes = ["pve01", "pve02"]
        setup.storages["local-zfs"] = FakeProxmoxAPI.Storage(type: "zfspool", content: ["images", "rootdir"])
        let node = try Node(setup)
        let images = try LoopbackImages()
        let workspace = try SampleWorkspace(images: images)
        let arguments = ["apply", "--json", "--progress", "none", "-o", node.work.path("fleet").path, "--cache", node.work.path("cache").path,
                         "--catalog", images.catalog.path, "--api", node.server.url.absoluteString,
                         "--fingerprint", node.certificates.leafFingerprint, "--node", "pve01", "-j", "3"]
            + SampleWorkspace.sampleFiles.map(workspace.path)
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let first = try await seedgenOffPool(arguments, environment: environment)
        #expect(first.exitCode == 0, "\(first.stderr)")
        let report = try JSONDecoder().decode(ApplyReport.self, from: first.stdoutData)
        #expect(report.vms.count == SampleWorkspace.sampleFiles.count)
        for vm in report.vms {
            #expect(vm.status == "created", "\(vm.name): \(vm.error ?? "")")
            #expect(await node.server.api.isRunning(vm.vmid), "\(vm.name)")
            #expect(!vm.tasks.isEmpty)
        }
        let second = try await seedgenOffPool(arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let again = try JSONDecoder().decode(ApplyReport.self, from: second.stdoutData)
        #expect(again.vms.allSatisfy { $0.status == "unchanged" }, "\(again.vms.map { "\($0.name): \($0.status) \($0.drift)" })")
    }

    /// A changed vm.yaml (one more package: a new seed) is applied as a seed swap: the new ISO is
    /// uploaded and attached, the old one removed, nothing else touched.
    @Test func aChangedSeedIsSwappedThroughTheBinary() async throws {
        let node = try Node(Self.everything())
        let workspace = try TemporaryDirectory(prefix: "seedgen-apply-seed")
        try FileManager.default.copyItem(at: TestPaths.samples, to: workspace.path("samples"))
        let file = workspace.path("samples/web01.yaml")
        let arguments = ["apply", file.path, "-o", node.work.path("out").path, "--cache", node.work.path("cache").path,
                         "--api", node.server.url.absoluteString, "--fingerprint", node.certificates.leafFingerprint, "--json"]
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let first = try await seedgenOffPool(arguments, environment: environment)
        try #require(first.exitCode == 0, "\(first.stderr)")
        let oldSeed = try #require(await node.server.api.vmConfig(9001)?["sata0"])
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: "packages: [qemu-guest-agent]", with: "packages: [qemu-guest-agent, htop]")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let second = try await seedgenOffPool(arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let report = try JSONDecoder().decode(ApplyReport.self, from: second.stdoutData)
        #expect(report.vms.first?.status == "seed-swapped")
        let newSeed = try #require(await node.server.api.vmConfig(9001)?["sata0"])
        #expect(newSeed != oldSeed && newSeed.hasSuffix(",media=cdrom"))
        let isoVolumes = await node.server.api.volumes(on: "local").keys
        #expect(isoVolumes.contains(String(newSeed.prefix { $0 != "," })))
        #expect(!isoVolumes.contains(String(oldSeed.prefix { $0 != "," })), "the old seed was not removed")
    }

    /// A task that fails (the start, here) ends the run with exit 1, its exit status, the task id
    /// and the log's last lines; the next run completes it.
    @Test func aFailedTaskEndsWithExit1AndTheNextRunCompletes() async throws {
        var setup = Self.everything()
        setup.failingTasks = ["qmstart": "start failed: QEMU exited with code 1"]
        let node = try Node(setup)
        let failed = try await node.apply()
        #expect(failed.exitCode == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("start failed: QEMU exited with code 1") && failed.stderr.contains("UPID:"), "\(failed.stderr)")
        #expect(failed.stderr.contains("Could not open"), "the task log's last lines: \(failed.stderr)")
        let created = await node.server.api.vmConfig(9001) != nil
        let running = await node.server.api.isRunning(9001)
        #expect(created && !running)

        await node.server.api.setFailingTasks([:])
        let again = try await node.apply(["--json"])
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(try JSONDecoder().decode(ApplyReport.self, from: again.stdoutData).vms.first?.status == "started")
        #expect(await node.server.api.isRunning(9001))
    }

    /// The connection breaks in the middle of the image upload: exit 1 with a clear message,
    /// nothing created; the next run completes.
    @Test func aConnectionCutMidUploadEndsWithExit1AndTheNextRunCompletes() async throws {
        let node = try Node(Self.everything())
        node.server.cutNextUpload.arm(afterBytes: 2048)
        let cut = try await node.apply()
        #expect(cut.exitCode == 1, "\(cut.stderr)")
        #expect(cut.stderr.contains("VM 9001: POST /nodes/pve01/storage/local/upload (place-image) failed"), "\(cut.stderr)")
        #expect(cut.stderr.contains("run seedgen apply again"), "\(cut.stderr)")
        #expect(await node.server.api.vmConfig(9001) == nil)
        let again = try await node.apply()
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(await node.server.api.isRunning(9001))
    }
}
