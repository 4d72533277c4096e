import Foundation
import SeedgenApply
import SeedgenBundle
import SeedgenCore
import SeedgenSpec
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

/// A client whose connection breaks on the chosen call (as a cut during an upload would).
private actor BreakingClient: ProxmoxAPIClient {
    let inner: FakeProxmoxAPI
    var remaining: Int
    let endpoint: String

    init(_ inner: FakeProxmoxAPI, breakOn endpoint: String, after calls: Int = 0) {
        self.inner = inner
        self.endpoint = endpoint
        self.remaining = calls
    }

    func send(_ call: ProxmoxAPICall, artifactDirectory: URL?) async throws -> ProxmoxAPIResponse {
        if call.endpoint == endpoint {
            if remaining == 0 { throw SeedgenError.runtime(message: "connection reset by peer during \(call.path)") }
            remaining -= 1
        }
        return try await inner.send(call, artifactDirectory: artifactDirectory)
    }
}

/// `apply`'s engine on the fake Proxmox API: preflight, then the calls, with a least-privilege token.
@Suite struct ApplyExecutorTests {
    struct Prepared {
        var target: ProxmoxApplyTarget
        var directory: URL
    }

    private func prepare(mode: CloudInitMode = .iso, seed: String = "seed-1", in work: TemporaryDirectory) throws -> Prepared {
        let spec = BundleFixture.spec(mode: mode, bios: .ovmf)
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web01-\(seed)"), seed: seed)
        let keys = ProxmoxBundle.pveSSHKeysFile(for: spec).map { String(decoding: $0, as: UTF8.self) }
        return Prepared(target: ProxmoxApplyTarget(plan: fixture.plan, node: "pve01", sshKeys: keys), directory: fixture.directory)
    }

    /// A token that holds exactly what the preflight's grant commands give it, and nothing else.
    private func leastPrivilegeAPI(for targets: [ProxmoxApplyTarget]) async throws -> FakeProxmoxAPI {
        var setup = FakeProxmoxAPI.Setup()
        setup.userACL = ["/": FakeProxmoxAPI.allPrivileges]
        let api = FakeProxmoxAPI(setup)
        let report = try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy").run(targets)
        try await api.runPveum(report.grantCommands)
        return api
    }

    private func apply(_ prepared: Prepared, on client: any ProxmoxAPIClient) async throws -> ProxmoxApplyOutcome {
        let report = try await ProxmoxPreflight(client: client, tokenID: "ci@pve!deploy").run([prepared.target])
        try #require(report.passed, "\(report.text)")
        let executor = ProxmoxApplyExecutor(client: client, pollInterval: .milliseconds(1))
        return try await executor.apply(
            prepared.target, state: try #require(report.states[prepared.target.plan.vm.vmid]),
            version: try #require(report.version), artifactDirectory: prepared.directory)
    }

    @Test(arguments: [CloudInitMode.iso, .pve])
    func aLeastPrivilegeTokenCreatesAndStartsTheVM(mode: CloudInitMode) async throws {
        let work = try TemporaryDirectory()
        let prepared = try prepare(mode: mode, in: work)
        let api = try await leastPrivilegeAPI(for: [prepared.target])
        let outcome = try await apply(prepared, on: api)
        #expect(outcome.status == .created)
        #expect(await api.isRunning(9001))
        let config = try #require(await api.vmConfig(9001))
        #expect(config["scsi0"]?.contains("size=20G") == true)
        #expect(config["description"]?.contains(prepared.target.plan.vm.marker) == true)
        #expect(config["net0"]?.hasPrefix("virtio=bc:24:11:12:34:56,") == true)
        if mode == .iso {
            let seed = try #require(prepared.target.plan.file(role: .seedISO))
            #expect(config["sata0"] == "\(seed.volume ?? ""),media=cdrom")
        }
        #expect(await api.volumes(on: "local").keys.contains(prepared.target.plan.file(role: .image)?.volume ?? "-"))
    }

    @Test func aSecondRunChangesNothing() async throws {
        let work = try TemporaryDirectory()
        let prepared = try prepare(in: work)
        let api = try await leastPrivilegeAPI(for: [prepared.target])
        _ = try await apply(prepared, on: api)
        let before = await api.changingCalls().count
        let again = try await apply(prepared, on: api)
        #expect(again.status == .unchanged)
        #expect(again.drift.isEmpty, "\(again.drift)")
        #expect(await api.changingCalls().count == before)
    }

    @Test func aChangedSeedIsUploadedSwappedAndTheOldOneRemoved() async throws {
        let work = try TemporaryDirectory()
        let first = try prepare(seed: "seed-1", in: work)
        let second = try prepare(seed: "seed-2", in: work)
        let api = try await leastPrivilegeAPI(for: [first.target])
        _ = try await apply(first, on: api)
        let outcome = try await apply(second, on: api)
        #expect(outcome.status == .seedSwapped)
        let oldSeed = try #require(first.target.plan.file(role: .seedISO)?.volume)
        let newSeed = try #require(second.target.plan.file(role: .seedISO)?.volume)
        #expect(oldSeed != newSeed)
        #expect(await api.vmConfig(9001)?["sata0"] == "\(newSeed),media=cdrom")
        let isoVolumes = await api.volumes(on: "local").keys
        #expect(isoVolumes.contains(newSeed) && !isoVolumes.contains(oldSeed))
        #expect(outcome.skippedUploads.isEmpty)
    }

    @Test func aConnectionCutMidRunFailsAndTheNextRunCompletesWithoutResending() async throws {
        let work = try TemporaryDirectory()
        let prepared = try prepare(in: work)
        let api = try await leastPrivilegeAPI(for: [prepared.target])
        // The image upload goes through; the seed upload's connection breaks.
        let breaking = BreakingClient(api, breakOn: "/nodes/{node}/storage/{storage}/upload", after: 1)
        await #expect {
            _ = try await apply(prepared, on: breaking)
        } throws: { error in
            "\(error)".contains("connection reset")
        }
        #expect(await api.vmConfig(9001) == nil, "nothing was created after the cut")
        let outcome = try await apply(prepared, on: api)
        #expect(outcome.status == .created)
        #expect(outcome.skippedUploads == [String(prepared.target.plan.file(role: .image)?.volume?.split(separator: "/").last ?? "")])
        #expect(await api.isRunning(9001))
    }

    @Test func aFailedTaskEndsWithItsMessageAndLog() async throws {
        let work = try TemporaryDirectory()
        let prepared = try prepare(in: work)
        let api = try await leastPrivilegeAPI(for: [prepared.target])
        // The seed ISO changed after the plan was made: Proxmox's upload task finds the mismatch.
        let seed = try #require(prepared.target.plan.file(role: .seedISO)?.source)
        try Data("damaged".utf8).write(to: prepared.directory.appendingPathComponent(seed))
        await #expect {
            _ = try await apply(prepared, on: api)
        } throws: { error in
            "\(error)".contains("checksum mismatch") && "\(error)".contains("UPID:")
        }
        #expect(await api.vmConfig(9001) == nil)
    }

    /// One plan, two executors: deploy.sh on the fake node and the API on the fake API give the VM
    /// the same configuration (volume names aside, which each storage allocates its own way).
    @Test func deployShAndTheAPIGiveTheSameVMConfiguration() async throws {
        let work = try TemporaryDirectory()
        let prepared = try prepare(in: work)
        let fixtureDirectory = prepared.directory
        var setup = FakeNode.Setup()
        setup.version = "8.4.1"
        let node = try FakeNode(setup)
        let result = try node.deploy(fixtureDirectory.appendingPathComponent("deploy.sh"), [])
        try #require(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let shConfig = try #require(try node.vmConfig(9001))
        let api = try await leastPrivilegeAPI(for: [prepared.target])
        _ = try await apply(prepared, on: api)
        let apiConfig = try #require(await api.vmConfig(9001))
        func comparable(_ config: [String: String]) -> [String: String] {
            config.filter { !["digest", "meta", "vmgenid", "smbios1"].contains($0.key) }.mapValues { value in
                // `local-lvm:vm-9001-disk-0,…` → `local-lvm:…`
                value.replacingOccurrences(of: "^([A-Za-z0-9_.-]+):vm-[^,]*", with: "$1:VOLUME", options: .regularExpression)
            }
        }
        #expect(comparable(apiConfig) == comparable(shConfig))
    }
}

@Suite struct SharedImageTests {
    /// Two VMs of one image: the image goes to the node once, before the VMs are applied.
    @Test func vmsThatShareAnImageShareOneUpload() async throws {
        let work = try TemporaryDirectory()
        var targets: [(target: ProxmoxApplyTarget, directory: URL)] = []
        for vmid in [9001, 9002] {
            var spec = BundleFixture.spec()
            spec.vmid = VMID(vmid)!
            spec.name = DNSName("web\(vmid)")!
            let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web\(vmid)"))
            targets.append((ProxmoxApplyTarget(plan: fixture.plan, node: "pve01"), fixture.directory))
        }
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        let report = try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy").run(targets.map(\.target))
        try #require(report.passed, "\(report.text)")
        let executor = ProxmoxApplyExecutor(client: api, pollInterval: .milliseconds(1))
        try await executor.placeImages(targets, states: report.states, version: try #require(report.version))
        for (target, directory) in targets {
            let outcome = try await executor.apply(target, state: .new, version: try #require(report.version), artifactDirectory: directory)
            #expect(outcome.skippedUploads.count == 1, "\(outcome.skippedUploads)")
        }
        let uploads = await api.changingCalls().filter { $0.hasSuffix("/storage/local/upload") }
        #expect(uploads.count == 3, "one image and two seeds: \(uploads)")
    }
}
