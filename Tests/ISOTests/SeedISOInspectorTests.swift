import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@Suite("SeedISOInspector: reading seeds back through libisofs")
struct SeedISOInspectorTests {
    @Test("a seedgen seed: label, extensions, files with sizes, modes and digests, instance-id, no warnings")
    func inspectsOwnSeed() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        let files = sampleSeedFiles()
        try SeedISO.write(files: files, epoch: testEpoch, to: iso)
        let inspection = try SeedISOInspector.inspect(iso)
        #expect(inspection.volumeID == "cidata")
        #expect(inspection.rockRidge)
        #expect(inspection.joliet)
        #expect(inspection.instanceID == "iid-web01-1")
        #expect(inspection.warnings.isEmpty, "\(inspection.warnings)")
        #expect(inspection.imageSize == Int64(try Data(contentsOf: iso).count))
        #expect(inspection.files.map(\.path) == files.map(\.name).sorted())
        for file in files {
            let entry = try #require(inspection.files.first { $0.path == file.name })
            #expect(entry.size == Int64(file.data.count))
            #expect(entry.sha256 == Digest.sha256Hex(file.data))
            #expect(entry.mode == "0444")
            #expect(entry.uid == 0 && entry.gid == 0)
            #expect(entry.modified == testEpoch)
        }
    }

    @Test("contents and extract return exactly the packed bytes, including a file larger than one block")
    func extractsContents() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        let files = sampleSeedFiles(userDataPadding: 300_000)
        try SeedISO.write(files: files, epoch: testEpoch, to: iso)
        let contents = try ISOImageReader.contents(of: iso)
        #expect(
            Dictionary(uniqueKeysWithValues: contents.map { ($0.name, $0.data) })
                == Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.data) }))
        let target = directory.path("out/nested")
        let written = try ISOImageReader.extract(iso, to: target)
        #expect(written.count == files.count)
        let extracted = try filesBelow(target)
        for file in files { #expect(extracted[file.name] == file.data) }
    }

    @Test("a genisoimage seed with a wrong label, no Rock Ridge/Joliet and no instance-id gets every warning")
    func warnsAboutABadForeignSeed() throws {
        let directory = try TemporaryDirectory()
        let source = directory.path("src")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try Data("#cloud-config\n".utf8).write(to: source.appendingPathComponent("user-data"))
        try Data("local-hostname: web01\n".utf8).write(to: source.appendingPathComponent("meta-data"))
        let iso = directory.path("bad.iso")
        try runTool("genisoimage", ["-quiet", "-o", iso.path, "-V", "config-2", source.path])
        let inspection = try SeedISOInspector.inspect(iso)
        #expect(inspection.volumeID == "config-2")
        #expect(!inspection.rockRidge)
        #expect(!inspection.joliet)
        let warnings = inspection.warnings.joined(separator: "\n")
        #expect(warnings.contains("volume id is 'config-2'"))
        #expect(warnings.contains("no Rock Ridge"))
        #expect(warnings.contains("no Joliet"))
        #expect(warnings.contains("should be named 'user-data'"), "\(warnings)")
        #expect(warnings.contains("should be named 'meta-data'"), "\(warnings)")
        #expect(warnings.contains("no user-data at the root"))
    }

    @Test("missing meta-data, meta-data without instance-id or with broken YAML, empty user-data are reported")
    func warnsAboutContent() throws {
        let cases: [(files: [String: String], warning: String)] = [
            (["user-data": "#cloud-config\n"], "no meta-data at the root"),
            (["user-data": "#cloud-config\n", "meta-data": "local-hostname: x\n"], "meta-data has no instance-id"),
            (["user-data": "#cloud-config\n", "meta-data": "instance-id: [unclosed\n"], "meta-data is not valid YAML"),
            (["user-data": "", "meta-data": "instance-id: a\n"], "user-data is empty"),
            (
                ["user-data": "#cloud-config\n", "meta-data": "instance-id: a\n", "USER-DATA": "x"],
                "'USER-DATA' should be named 'user-data'"
            ),
            (
                ["user-data": "#cloud-config\n", "meta-data": "instance-id: a\n", "sub/x": "x"],
                "'sub/x' is in a subdirectory"
            ),
        ]
        for (files, warning) in cases {
            let directory = try TemporaryDirectory()
            let source = directory.path("src")
            for (name, text) in files {
                let url = source.appendingPathComponent(name)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
            let iso = directory.path("seed.iso")
            try runTool("genisoimage", ["-quiet", "-o", iso.path, "-V", "cidata", "-J", "-R", source.path])
            let inspection = try SeedISOInspector.inspect(iso)
            #expect(inspection.rockRidge && inspection.joliet)
            #expect(
                inspection.warnings.contains { $0.contains(warning) }, "expected '\(warning)' in \(inspection.warnings)"
            )
            #expect(!inspection.warnings.contains { $0.contains("volume id") })
        }
    }

    @Test("cloud-localds output inspects cleanly and has the instance-id cloud-localds generates")
    func inspectsCloudLocaldsSeed() throws {
        let directory = try TemporaryDirectory()
        let userData = try directory.write("user-data", "#cloud-config\nhostname: a\n")
        let iso = directory.path("seed.iso")
        try runTool("cloud-localds", [iso.path, userData.path])
        let inspection = try SeedISOInspector.inspect(iso)
        #expect(inspection.volumeID == "cidata")
        #expect(inspection.instanceID == "iid-local01")
        #expect(inspection.warnings.isEmpty, "\(inspection.warnings)")
    }

    @Test("a file that is not an ISO, or no file at all, is a clear runtime error")
    func notAnISO() throws {
        let directory = try TemporaryDirectory()
        let text = try directory.write("notes.txt", String(repeating: "not an iso\n", count: 5000))
        let error = try #require(throws: SeedgenError.self) { try SeedISOInspector.inspect(text) }
        #expect(error.exitCode == 1)
        #expect(error.description.contains("is not a readable ISO 9660 image"))
        let missing = try #require(throws: SeedgenError.self) {
            try SeedISOInspector.inspect(directory.path("nope.iso"))
        }
        #expect(missing.description.contains("No such file or directory"))
    }
}

@Suite("SeedSizeLimit: Proxmox's 3 MiB cloud-init limit")
struct SeedSizeLimitTests {
    static let big = [
        SeedFile(name: "user-data", data: Data(count: 2 << 20)),
        SeedFile(name: "meta-data", data: Data(count: 100)),
        SeedFile(name: "network-config", data: Data(count: (1 << 20) + 1)),
    ]

    @Test("over 3 MiB: an error in pve and snippets modes, a warning in iso mode")
    func severities() {
        let iso = SeedSizeLimit.check(Self.big, mode: .iso)
        #expect(iso.count == 1)
        #expect(iso.allSatisfy { $0.severity == .warning })
        let pve = SeedSizeLimit.check(Self.big, mode: .pve)
        #expect(pve.count == 1 && pve[0].severity == .error)
        #expect(pve[0].message.contains("3 MiB"))
        // snippets: the total plus each file over 1 MiB.
        let snippets = SeedSizeLimit.check(Self.big, mode: .snippets)
        #expect(snippets.filter { $0.severity == .error }.count == 3)
    }

    @Test("exactly 3 MiB passes in every mode")
    func atTheLimit() {
        let files = [
            SeedFile(name: "user-data", data: Data(count: 1 << 20)),
            SeedFile(name: "meta-data", data: Data(count: 1 << 20)),
            SeedFile(name: "network-config", data: Data(count: 1 << 20)),
        ]
        for mode in CloudInitMode.allCases {
            #expect(SeedSizeLimit.check(files, mode: mode).isEmpty, "\(mode)")
        }
    }
}
