import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@Suite("seedgen iso and seedgen inspect (the built binary)")
struct ISOCommandTests {
    private func writeInputs(_ directory: TemporaryDirectory) throws {
        for file in sampleSeedFiles() { try file.data.write(to: directory.path(file.name)) }
    }

    @Test("cloud-localds form: seed.iso user-data generates a meta-data with a content-derived instance-id")
    func cloudLocaldsFormGeneratesMetaData() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        try writeInputs(directory)
        let result = try ProcessRunner.seedgen(
            ["iso", "seed.iso", "user-data", "-N", "network-config"], currentDirectory: directory.url)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let contents = try ISOImageReader.contents(of: directory.path("seed.iso"))
        #expect(contents.map(\.name).sorted() == ["meta-data", "network-config", "user-data"])
        try expectSeedReadsBack(directory.path("seed.iso"), byName(contents))
        #expect(byName(contents)["user-data"] == sampleSeedFiles()[0].data)
        #expect(byName(contents)["network-config"] == sampleSeedFiles()[2].data)
        let inspection = try SeedISOInspector.inspect(directory.path("seed.iso"))
        let instanceID = try #require(inspection.instanceID)
        #expect(instanceID.hasPrefix("iid-seedgen-"))
        #expect(inspection.warnings.isEmpty, "\(inspection.warnings)")

        // A change of user-data changes the instance-id; the same content keeps it.
        try Data("#cloud-config\nhostname: other\n".utf8).write(to: directory.path("user-data"))
        #expect(
            try ProcessRunner.seedgen(
                ["iso", "second.iso", "user-data", "-N", "network-config"], currentDirectory: directory.url
            ).exitCode == 0)
        let changed = try SeedISOInspector.inspect(directory.path("second.iso")).instanceID
        #expect(changed != nil && changed != instanceID)
    }

    @Test("cloud-localds form packs the same files cloud-localds packs, with the same contents")
    func sameFilesAsCloudLocalds() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        try writeInputs(directory)
        try Data("#cloud-config\nruncmd: [true]\n".utf8).write(to: directory.path("vendor"))
        let arguments = ["user-data", "meta-data", "-N", "network-config", "-V", "vendor"]
        try runTool("cloud-localds", ["theirs.iso"] + arguments, currentDirectory: directory.url)
        let ours = try ProcessRunner.seedgen(["iso", "ours.iso"] + arguments, currentDirectory: directory.url)
        #expect(ours.exitCode == 0, "\(ours.stderr)")
        for name in ["theirs", "ours"] {
            try runTool(
                "xorriso", ["-osirrox", "on", "-indev", "\(name).iso", "-extract", "/", name],
                currentDirectory: directory.url)
        }
        let theirs = try filesBelow(directory.path("theirs"))
        #expect(theirs.keys.sorted() == ["meta-data", "network-config", "user-data", "vendor-data"])
        #expect(try filesBelow(directory.path("ours")) == theirs)
        try expectSeedReadsBack(directory.path("ours.iso"), theirs)
        let ourSize = try Data(contentsOf: directory.path("ours.iso")).count
        let theirSize = try Data(contentsOf: directory.path("theirs.iso")).count
        #expect(ourSize < theirSize, "ours \(ourSize) bytes, cloud-localds \(theirSize)")
    }

    @Test("SPEC form: -o with a directory, and --json describes the result")
    func directoryFormWithJSON() throws {
        try requireSeedgenBinary()
        let inputs = try TemporaryDirectory()
        try writeInputs(inputs)
        try Data("notes".utf8).write(to: inputs.path("README"))
        let output = try TemporaryDirectory()
        let iso = output.path("seed.iso")
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = String(testEpoch)
        let result = try ProcessRunner.seedgen(
            ["iso", inputs.url.path, "-o", iso.path, "--json"], environment: environment)
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stderr.contains("README is not a NoCloud file name"))
        let decoded = try JSONDecoder().decode(SeedISOPackResult.self, from: result.stdoutData)
        let bytes = try Data(contentsOf: iso)
        #expect(decoded.sha256 == Digest.sha256Hex(bytes))
        #expect(decoded.size == bytes.count)
        #expect(decoded.epoch == testEpoch)
        #expect(decoded.instanceID == "iid-web01-1")
        #expect(decoded.files.map(\.name) == ["user-data", "meta-data", "network-config"])
        #expect(bytes == (try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)))
        try expectSeedReadsBack(iso, byName(sampleSeedFiles()))
    }

    @Test("user-data from standard input and the ISO on standard output")
    func standardStreams() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        let userData = Data("#cloud-config\nhostname: piped\n".utf8)
        let result = try ProcessRunner.run(
            TestPaths.seedgenBinary.path, ["iso", "-", "-"], currentDirectory: directory.url, stdin: userData)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let iso = directory.path("piped.iso")
        try result.stdoutData.write(to: iso)
        let contents = try ISOImageReader.contents(of: iso)
        #expect(contents.first { $0.name == "user-data" }?.data == userData)
        try expectSeedReadsBack(iso, byName(contents))
        #expect(directoryEntries(directory.url) == ["piped.iso"])
    }

    @Test("--volume-id CIDATA is accepted; any other label exits 2 and writes nothing")
    func volumeIDs() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        try writeInputs(directory)
        let accepted = try ProcessRunner.seedgen(
            ["iso", "-o", "upper.iso", "--user-data", "user-data", "--volume-id", "CIDATA"],
            currentDirectory: directory.url)
        #expect(accepted.exitCode == 0, "\(accepted.stderr)")
        #expect(try SeedISOInspector.inspect(directory.path("upper.iso")).volumeID == "CIDATA")
        try expectSeedReadsBack(
            directory.path("upper.iso"), byName(try ISOImageReader.contents(of: directory.path("upper.iso"))),
            volumeID: "CIDATA")
        let before = directoryEntries(directory.url)
        let refused = try ProcessRunner.seedgen(
            ["iso", "-o", "seed.iso", "--user-data", "user-data", "--volume-id", "CiData"],
            currentDirectory: directory.url)
        #expect(refused.exitCode == 2)
        #expect(refused.stderr.contains("'CiData' is not a label cloud-init looks for"))
        #expect(directoryEntries(directory.url) == before)
    }

    @Test("missing input, empty user-data and an unwritable target fail clearly and leave nothing behind")
    func failures() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        try writeInputs(directory)
        try Data().write(to: directory.path("empty"))
        let before = directoryEntries(directory.url)

        let missing = try ProcessRunner.seedgen(
            ["iso", "seed.iso", "user-data", "nope-meta", "-N", "nope-net"], currentDirectory: directory.url)
        #expect(missing.exitCode == 2)
        #expect(missing.stderr.contains("error: meta-data: cannot read nope-meta: No such file or directory"))
        #expect(missing.stderr.contains("error: network-config: cannot read nope-net: No such file or directory"))

        let empty = try ProcessRunner.seedgen(["iso", "seed.iso", "empty"], currentDirectory: directory.url)
        #expect(empty.exitCode == 2)
        #expect(empty.stderr.contains("user-data: is empty"))

        let noDirectory = try ProcessRunner.seedgen(
            ["iso", "missing-dir/seed.iso", "user-data"], currentDirectory: directory.url)
        #expect(noDirectory.exitCode == 1)
        #expect(noDirectory.stderr.contains("cannot write"))
        #expect(noDirectory.stderr.contains("hint:"))

        let usage = try ProcessRunner.seedgen(["iso", "seed.iso"], currentDirectory: directory.url)
        #expect(usage.exitCode == 2)
        let vfat = try ProcessRunner.seedgen(
            ["iso", "-f", "vfat", "seed.iso", "user-data"], currentDirectory: directory.url)
        #expect(vfat.exitCode == 2)
        #expect(vfat.stderr.contains("ISO 9660 seeds only"))

        #expect(directoryEntries(directory.url) == before)
    }

    @Test("seedgen inspect prints label, extensions and files; --json decodes; --extract and --cat give the bytes")
    func inspectCommand() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)

        let text = try ProcessRunner.seedgen(["inspect", iso.path])
        #expect(text.exitCode == 0, "\(text.stderr)")
        #expect(text.stdout.contains("volume id:   cidata"))
        #expect(text.stdout.contains("Rock Ridge, Joliet"))
        #expect(text.stdout.contains("instance-id: iid-web01-1"))
        #expect(text.stdout.contains("no problems found"))

        let json = try ProcessRunner.seedgen(["inspect", iso.path, "--json", "--extract", directory.path("x").path])
        #expect(json.exitCode == 0, "\(json.stderr)")
        let decoded = try JSONDecoder().decode(SeedISOInspection.self, from: json.stdoutData)
        #expect(decoded == (try SeedISOInspector.inspect(iso)))
        let extracted = try filesBelow(directory.path("x"))
        for file in sampleSeedFiles() { #expect(extracted[file.name] == file.data) }

        let cat = try ProcessRunner.seedgen(["inspect", iso.path, "--cat", "network-config"])
        #expect(cat.stdoutData == sampleSeedFiles()[2].data)

        let notISO = try ProcessRunner.seedgen(["inspect", directory.path("x/user-data").path])
        #expect(notISO.exitCode == 1)
        #expect(notISO.stderr.contains("not a readable ISO 9660 image"))
    }

    /// `seedgen iso` starts without the argument parser when it recognises the command line
    /// (`ISOQuickStart`); after `--` it never does, so the same line with its positionals behind
    /// `--` goes through the parser. Both must answer alike: exit code, stdout, stderr and bytes.
    static let quickAndParsedLines: [(options: [String], positionals: [String], exitCode: Int32)] = [
        (["-N", "network-config"], ["seed.iso", "user-data", "meta-data"], 0),
        (["--json", "-N", "network-config", "-V", "vendor-data"], ["seed.iso", "user-data"], 0),
        (["--volume-id=CIDATA", "-H", "web07", "-m", "local", "-v"], ["seed.iso", "user-data"], 0),
        (["-o", "seed.iso", "--json"], ["inputs"], 0),
        (["-o", "seed.iso", "--instance-id", "iid-7", "-H", "web07"], ["inputs"], 2),
        (["--json"], ["seed.iso", "no-such-user-data"], 2),
        ([], ["seed.iso", "no-such-user-data"], 2),
        (["--volume-id", "SEED"], ["seed.iso", "user-data"], 2),
        (["--json"], ["-", "user-data"], 2),
        (["-f", "vfat"], ["seed.iso", "user-data"], 2),
        (["--json"], ["seed.iso", "user-data", "meta-data", "one-too-many"], 2),
        (["--json", "--user-data", "user-data"], ["seed.iso", "user-data"], 0),
    ]

    @Test(arguments: 0..<quickAndParsedLines.count)
    func theQuickStartAnswersAsTheParserDoes(line: Int) throws {
        try requireSeedgenBinary()
        let (options, positionals, exitCode) = Self.quickAndParsedLines[line]
        var results: [ProcessResult] = []
        var images: [Data?] = []
        for arguments in [options + positionals, options + ["--"] + positionals] {
            let directory = try TemporaryDirectory()
            try writeInputs(directory)
            try Data("#cloud-config\nruncmd: [true]\n".utf8).write(to: directory.path("vendor-data"))
            try FileManager.default.createDirectory(at: directory.path("inputs"), withIntermediateDirectories: false)
            for file in sampleSeedFiles() { try file.data.write(to: directory.path("inputs/\(file.name)")) }
            results.append(try ProcessRunner.seedgen(["iso"] + arguments, currentDirectory: directory.url))
            images.append(try? Data(contentsOf: directory.path("seed.iso")))
        }
        let (quick, parsed) = (results[0], results[1])
        #expect(quick.exitCode == exitCode, "\(options) \(positionals): \(quick.stderr)")
        #expect(quick.exitCode == parsed.exitCode, "\(options) \(positionals)\n\(quick.stderr)\n\(parsed.stderr)")
        #expect(quick.stdout == parsed.stdout, "\(options) \(positionals)")
        #expect(quick.stderr == parsed.stderr, "\(options) \(positionals)")
        #expect(images[0] == images[1], "\(options) \(positionals): the ISOs differ")
    }
}
