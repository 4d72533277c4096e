import Foundation
import SeedgenApply
import SeedgenBundle
import SeedgenCore
import SeedgenNoCloud
import SeedgenSpec
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

    private func prepare(mode: CloudInitMode = .iso, seed: String = "seed-1", in work: TemporaryDirectory) throws
        -> Prepared
    {
        let spec = BundleFixture.spec(mode: mode, bios: .ovmf)
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web01-\(seed)"), seed: seed)
        let keys = ProxmoxBundle.pveSSHKeysFile(for: spec).map { String(decoding: $0, as: UTF8.self) }
        return Prepared(
            target: ProxmoxApplyTarget(plan: fixture.plan, node: "pve01", sshKeys: keys), directory: fixture.directory)
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
        #expect(
            outcome.skippedUploads == [
                String(prepared.target.plan.file(role: .image)?.volume?.split(separator: "/").last ?? "")
            ])
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
                value.replacingOccurrences(
                    of: "^([A-Za-z0-9_.-]+):vm-[^,]*", with: "$1:VOLUME", options: .regularExpression)
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
            let outcome = try await executor.apply(
                target, state: .new, version: try #require(report.version), artifactDirectory: directory)
            #expect(outcome.skippedUploads.count == 1, "\(outcome.skippedUploads)")
        }
        let uploads = await api.changingCalls().filter { $0.hasSuffix("/storage/local/upload") }
        #expect(uploads.count == 3, "one image and two seeds: \(uploads)")
    }
}

/// `--node-downloads`: the node fetches the image itself (`download-url`) from a loopback server the
/// test serves; its task verifies the pinned sha256 and the format before the file is kept.
@Suite struct NodeDownloadTests {
    struct Served {
        let www: TemporaryDirectory
        let server: FaultServer
        let fixture: BundleFixture
        var target: ProxmoxApplyTarget { ProxmoxApplyTarget(plan: fixture.plan, node: "pve01") }
        var url: String { fixture.plan.file(role: .image)?.url ?? "" }
    }

    /// A VM whose image is not in its directory (and no cache path), served at `image.qcow2`: the
    /// fixture's bytes, or `served` instead of them.
    private func serve(_ served: Data? = nil, in work: TemporaryDirectory) throws -> Served {
        let www = try TemporaryDirectory(prefix: "seedgen-node-download")
        let server = try FaultServer(root: www.url)
        let url = server.url("image.qcow2").absoluteString
        // A qcow2's magic first: the node's import task reads the file as the `.qcow2` name says.
        let image =
            Data([0x51, 0x46, 0x49, 0xFB]) + Data((4..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(bios: .ovmf), in: work.path("out/web01"), includeImage: false, imageURL: url,
            imageBytes: image)
        try (served ?? fixture.imageBytes ?? Data()).write(to: www.path("image.qcow2"))
        return Served(www: www, server: server, fixture: fixture)
    }

    private func leastPrivilegeAPI(_ target: ProxmoxApplyTarget) async throws -> FakeProxmoxAPI {
        var setup = FakeProxmoxAPI.Setup()
        setup.userACL = ["/": FakeProxmoxAPI.allPrivileges]
        let api = FakeProxmoxAPI(setup)
        let report = try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy", nodeDownloads: true).run([target]
        )
        #expect(
            report.missingPrivileges.contains { $0.path == "/nodes/pve01" && $0.privileges == ["Sys.AccessNetwork"] },
            "\(report.text)")
        #expect(report.text.contains("pveum acl modify /nodes/pve01 --roles Seedgen-"), "\(report.text)")
        try await api.runPveum(report.grantCommands)
        return api
    }

    private func apply(_ served: Served, on api: FakeProxmoxAPI) async throws -> ProxmoxApplyOutcome {
        let report = try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy", nodeDownloads: true).run([
            served.target
        ])
        try #require(report.passed, "\(report.text)")
        let executor = ProxmoxApplyExecutor(client: api, pollInterval: .milliseconds(5), nodeDownloads: true)
        let version = try #require(report.version)
        try await executor.placeImages(
            [(served.target, served.fixture.directory)], states: report.states, version: version)
        return try await executor.apply(
            served.target, state: .new, version: version, artifactDirectory: served.fixture.directory)
    }

    @Test func theNodeDownloadsTheImageWithThePinnedChecksumAndALeastPrivilegeToken() async throws {
        let work = try TemporaryDirectory()
        let served = try serve(in: work)
        let api = try await leastPrivilegeAPI(served.target)
        let outcome = try await apply(served, on: api)
        #expect(outcome.status == .created)
        #expect(await api.fetchedURLs == [served.url])
        let image = try #require(served.fixture.plan.file(role: .image))
        #expect(await api.volumes(on: "local")[image.volume ?? ""]?.sha256 == image.sha256)
        let uploads = await api.changingCalls().filter { $0.hasSuffix("/upload") }
        #expect(uploads.count == 1, "only the seed is uploaded: \(uploads)")
        #expect(await api.isRunning(9001))
        // A second placement finds the file there and asks the node for nothing.
        let executor = ProxmoxApplyExecutor(client: api, pollInterval: .milliseconds(5), nodeDownloads: true)
        try await executor.placeImages(
            [(served.target, served.fixture.directory)], states: [9001: .new], version: (8, 4))
        #expect(await api.fetchedURLs.count == 1)
    }

    @Test func theTaskRefusesAFileThatIsNotTheFormatItsNameSays() async throws {
        let work = try TemporaryDirectory()
        let www = try TemporaryDirectory(prefix: "seedgen-node-download")
        let server = try FaultServer(root: www.url)
        let raw = Data(repeating: 7, count: 4096)
        try raw.write(to: www.path("image.qcow2"))
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(bios: .ovmf), in: work.path("out/web01"), includeImage: false,
            imageURL: server.url("image.qcow2").absoluteString, imageBytes: raw)
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        await #expect {
            _ = try await apply(Served(www: www, server: server, fixture: fixture), on: api)
        } throws: { error in
            "\(error)".contains("failed to query file information with qemu-img")
        }
        #expect(await api.volumes(on: "local").keys.allSatisfy { !$0.contains(":import/") }, "nothing is kept")
    }

    @Test func theTaskRefusesBytesThatDoNotMatchThePinnedChecksum() async throws {
        let work = try TemporaryDirectory()
        let served = try serve(Data([0x51, 0x46, 0x49, 0xFB]) + Data("not the image".utf8), in: work)
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        await #expect {
            _ = try await apply(served, on: api)
        } throws: { error in
            "\(error)".contains("download-url failed: checksum mismatch: got '") && "\(error)".contains(":download:")
        }
        #expect(await api.volumes(on: "local").keys.allSatisfy { !$0.contains(":import/") }, "nothing is kept")
        #expect(await api.vmConfig(9001) == nil)
    }

    @Test func importRefusesImgNamesAndNeedsSysAccessNetwork() async throws {
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        func call(_ filename: String) -> ProxmoxAPICall {
            ProxmoxAPICall(
                .post, "/nodes/{node}/storage/{storage}/download-url", ["node": "pve01", "storage": "local"],
                parameters: [
                    .init("url", "http://127.0.0.1:9/x"), .init("content", "import"), .init("filename", filename),
                    .init("checksum-algorithm", "sha256"), .init("checksum", String(repeating: "0", count: 64)),
                ],
                startsTask: true, stepID: "test")
        }
        let img = try await api.send(call("noble.img"), artifactDirectory: nil)
        #expect(
            img.status == 400 && img.errorMessage.contains("filename: invalid filename or wrong extension"),
            "\(img.errorMessage)")
        var denied = setup
        denied.tokenACL = ["/": FakeProxmoxAPI.allPrivileges.subtracting(["Sys.AccessNetwork", "Sys.Modify"])]
        let refusing = FakeProxmoxAPI(denied)
        let forbidden = try await refusing.send(call("noble.qcow2"), artifactDirectory: nil)
        #expect(
            forbidden.status == 403 && forbidden.errorMessage.contains("Sys.AccessNetwork"), "\(forbidden.errorMessage)"
        )
    }

    /// download-url also takes the older Sys.Audit + Sys.Modify on / instead of Sys.AccessNetwork on
    /// the node: a token holding those passes the preflight and the node downloads.
    @Test func sysAuditAndSysModifyOnTheRootAlsoAllowNodeDownloads() async throws {
        let work = try TemporaryDirectory()
        let served = try serve(in: work)
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        setup.tokenACL["/nodes"] = FakeProxmoxAPI.allPrivileges.subtracting(["Sys.AccessNetwork"])
        let api = FakeProxmoxAPI(setup)
        let outcome = try await apply(served, on: api)
        #expect(outcome.status == .created)
        #expect(await api.fetchedURLs == [served.url])
    }

    /// A local-file image has no URL for the node: the preflight says so, before anything changes.
    @Test func anImageWithoutAURLIsAPreflightProblem() async throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(), in: work.path("out/web01"), includeImage: false)
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        let report = try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy", nodeDownloads: true)
            .run([ProxmoxApplyTarget(plan: fixture.plan, node: "pve01")])
        #expect(!report.passed)
        #expect(report.text.contains("--node-downloads needs the image's URL"), "\(report.text)")
        #expect(await api.changingCalls().isEmpty)
    }
}
