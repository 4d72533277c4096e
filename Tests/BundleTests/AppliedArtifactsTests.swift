import Foundation
import SeedgenApply
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@Suite struct AppliedArtifactsTests {
    @Test(arguments: CloudInitMode.allCases)
    func aDirectoryBuildWroteReadsBackAsItsPlan(mode: CloudInitMode) throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(mode: mode), in: work.path("out/web01"))
        let artifacts = try AppliedArtifacts(directory: fixture.directory)
        #expect(artifacts.plan == fixture.plan)
        #expect((artifacts.sshKeys != nil) == (mode == .pve))
    }

    @Test func aChangedFileIsRefusedByName() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let seed = try #require(fixture.plan.file(role: .seedISO)?.source)
        try Data("tampered".utf8).write(to: fixture.directory.appendingPathComponent(seed))
        #expect {
            _ = try AppliedArtifacts(directory: fixture.directory)
        } throws: { error in
            "\(error)".contains("\(seed) does not match SHA256SUMS") && "\(error)".contains("changed or damaged")
        }
    }

    @Test func aChangedPlanIsRefused() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let planFile = fixture.directory.appendingPathComponent("plan.json")
        let text = try String(contentsOf: planFile, encoding: .utf8).replacingOccurrences(
            of: "\"web01\"", with: "\"evil01\"")
        try text.write(to: planFile, atomically: true, encoding: .utf8)
        #expect {
            _ = try AppliedArtifacts(directory: fixture.directory)
        } throws: { error in
            "\(error)".contains("plan.json does not match SHA256SUMS")
        }
    }

    @Test func aDirectoryWithoutSHA256SUMSIsNotAnArtifactDirectory() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        try FileManager.default.removeItem(at: fixture.directory.appendingPathComponent("SHA256SUMS"))
        #expect {
            _ = try AppliedArtifacts(directory: fixture.directory)
        } throws: { error in
            "\(error)".contains("not an artifact directory")
        }
    }

    @Test func tokensParseAndNeverPrintTheirSecret() throws {
        let token = try ProxmoxAPIToken(
            parsing: "ci@pve!deploy=0b1e2f3a-aaaa-bbbb-cccc-123456789abc\n", source: "PVE_API_TOKEN")
        #expect(token.id == "ci@pve!deploy")
        #expect(token.authorization == "PVEAPIToken=ci@pve!deploy=0b1e2f3a-aaaa-bbbb-cccc-123456789abc")
        #expect(!token.description.contains("0b1e2f3a") && !"\(token)".contains("0b1e2f3a"))
        for bad in ["ci@pve=hunter2", "ci@pve!deploy", "ci@pve!deploy=", "ci!deploy=hunter2", "c i@pve!d=hunter2"] {
            #expect {
                _ = try ProxmoxAPIToken(parsing: bad, source: "PVE_API_TOKEN")
            } throws: { error in
                "\(error)".contains("USER@REALM!TOKENID=SECRET") && !"\(error)".contains("hunter2")
            }
        }
    }
}
