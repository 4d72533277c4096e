import Foundation
import SeedgenApply
import SeedgenBundle
import SeedgenNoCloud
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// The API preflight against the fake Proxmox API: every problem at once, nothing changed.
@Suite struct PreflightTests {
    private func target(mode: CloudInitMode = .iso, in work: TemporaryDirectory) throws -> ProxmoxApplyTarget {
        let spec = BundleFixture.spec(mode: mode, bios: .ovmf)
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web01"))
        let keys = ProxmoxBundle.pveSSHKeysFile(for: spec).map { String(decoding: $0, as: UTF8.self) }
        return ProxmoxApplyTarget(plan: fixture.plan, node: "pve01", sshKeys: keys)
    }

    private func preflight(_ api: FakeProxmoxAPI, _ target: ProxmoxApplyTarget) async throws -> ProxmoxPreflightReport {
        try await ProxmoxPreflight(client: api, tokenID: "ci@pve!deploy").run([target])
    }

    @Test(arguments: [CloudInitMode.iso, .pve])
    func aTokenWithEveryPrivilegePasses(mode: CloudInitMode) async throws {
        let work = try TemporaryDirectory()
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        let api = FakeProxmoxAPI(setup)
        let report = try await preflight(api, try target(mode: mode, in: work))
        #expect(report.passed, "\(report.text)")
        #expect(report.states[9001] == .new)
        #expect(await api.changingCalls().isEmpty)
    }

    /// The token has only part of what it needs: the report names each missing privilege with its
    /// path, and the printed grants, once applied, make the next preflight pass.
    @Test func missingPrivilegesAreListedAndThePrintedGrantsAreEnough() async throws {
        let work = try TemporaryDirectory()
        let target = try target(in: work)
        var setup = FakeProxmoxAPI.Setup()
        setup.userACL = ["/": FakeProxmoxAPI.allPrivileges]
        setup.tokenACL = ["/vms": ["VM.Allocate", "VM.Audit"], "/storage": ["Datastore.Audit"]]
        let api = FakeProxmoxAPI(setup)
        let report = try await preflight(api, target)
        #expect(!report.passed)
        let missing = Dictionary(uniqueKeysWithValues: report.missingPrivileges.map { ($0.path, Set($0.privileges)) })
        #expect(missing["/sdn/zones/localnetwork/vmbr0/20"] == ["SDN.Use"])
        #expect(missing["/vms/9001"]?.contains("VM.PowerMgmt") == true)
        #expect(missing["/vms/9001"]?.contains("VM.Allocate") == false)
        #expect(missing["/storage/local"] == ["Datastore.AllocateTemplate", "Datastore.Allocate"])
        #expect(report.text.contains("pveum acl modify /vms/9001 --roles Seedgen-"))
        #expect(await api.changingCalls().isEmpty, "the preflight changed something")

        // An administrator runs the printed commands: roles, then ACLs for the user and the token.
        try await api.runPveum(report.grantCommands)
        let again = try await preflight(api, target)
        #expect(again.passed, "\(again.text)")
    }

    @Test func nodesBeforePVE84AreReferredToDeploySh() async throws {
        let work = try TemporaryDirectory()
        var setup = FakeProxmoxAPI.Setup()
        setup.release = "8.3"
        setup.version = "8.3.5"
        setup.grantEverything()
        let report = try await preflight(FakeProxmoxAPI(setup), try target(in: work))
        #expect(!report.passed)
        #expect(report.problems.first?.contains("deploy.sh") == true, "\(report.text)")
    }

    @Test func aVMIDHeldByAnotherVMIsRefusedAndOursIsARerun() async throws {
        let work = try TemporaryDirectory()
        let target = try target(in: work)
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        setup.vms[9001] = ["name": "someone-else", "description": "hand-made"]
        let foreign = try await preflight(FakeProxmoxAPI(setup), target)
        #expect(foreign.problems.contains { $0.contains("VMID 9001 is already taken") }, "\(foreign.text)")

        setup.vms[9001] = ["name": "web01", "description": "Web frontend\n\n" + target.plan.vm.marker]
        let ours = try await preflight(FakeProxmoxAPI(setup), target)
        #expect(ours.passed, "\(ours.text)")
        #expect(ours.states[9001] == .ours)
    }

    @Test func everyStorageProblemIsReportedAtOnce() async throws {
        let work = try TemporaryDirectory()
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        setup.storages["local"] = FakeProxmoxAPI.Storage(type: "dir", content: ["iso", "backup"])
        setup.storages["local-lvm"]?.enabled = false
        let report = try await preflight(FakeProxmoxAPI(setup), try target(in: work))
        #expect(
            report.problems.contains {
                $0.contains("'local' (for the cloud image import) does not allow content 'import'")
                    && $0.contains("pvesm set local --content backup,import,iso")
            }, "\(report.text)")
        #expect(
            report.problems.contains { $0.contains("'local-lvm' (for the boot disk) is disabled") }, "\(report.text)")
    }
}
