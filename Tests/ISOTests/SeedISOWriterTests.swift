import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@Suite("SeedISO: images read back with the real tools")
struct SeedISOWriterTests {
    @Test("isoinfo -d sees label cidata, Rock Ridge and Joliet")
    func isoinfoDescribesTheVolume() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)
        let description = try runTool("isoinfo", ["-d", "-i", iso.path]).stdout
        #expect(description.contains("Volume id: cidata\n"))
        #expect(description.contains("Rock Ridge signatures"))
        #expect(description.contains("Joliet"))
        #expect(description.contains("Logical block size is: 2048"))
    }

    @Test("isoinfo lists the exact lowercase names in both the Rock Ridge and the Joliet tree")
    func isoinfoListsExactNames() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        var files = sampleSeedFiles()
        files.append(SeedFile(name: "vendor-data", data: Data("#cloud-config\nruncmd: [true]\n".utf8)))
        try SeedISO.write(files: files, epoch: testEpoch, to: iso)
        let expected = ["/meta-data", "/network-config", "/user-data", "/vendor-data"]
        for tree in ["-R", "-J"] {
            let listing = try runTool("isoinfo", ["-f", tree, "-i", iso.path]).stdout
            #expect(listing.split(separator: "\n").map(String.init).sorted() == expected, "isoinfo -f \(tree)")
        }
    }

    @Test("Rock Ridge records mode 0444 and owner 0:0 for every file")
    func rockRidgeModeAndOwner() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)
        let listing = try runTool("isoinfo", ["-l", "-R", "-i", iso.path]).stdout
        let fileLines = listing.split(separator: "\n").filter { $0.hasPrefix("-") }
        #expect(fileLines.count == 3)
        for line in fileLines {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(columns[0] == "-r--r--r--", "\(line)")
            #expect(columns[2] == "0" && columns[3] == "0", "\(line)")
        }
    }

    @Test("xorriso reads the volume id and the epoch as creation and modification time")
    func xorrisoPVDInfo() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)
        let info = try runTool("xorriso", ["-indev", iso.path, "-pvd_info"]).stdout
        #expect(info.contains("Volume Id    : cidata\n"))
        // 1_700_000_000 = 2023-11-14T22:13:20Z
        #expect(info.contains("Creation Time: 2023111422132000"))
        #expect(info.contains("Modif. Time  : 2023111422132000"))
        #expect(info.contains("App Id       : SEEDGEN"))
    }

    @Test(
        "xorriso extracts exactly the input bytes",
        arguments: [0, 2048 - 120, 5000, 1_500_000])
    func xorrisoExtractsTheInputBytes(padding: Int) throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        var files = sampleSeedFiles(userDataPadding: padding)
        files.append(SeedFile(name: "vendor-data", data: Data()))
        try SeedISO.write(files: files, epoch: testEpoch, to: iso)
        try expectSeedReadsBack(iso, byName(files))
        let extracted = directory.path("extracted")
        try runTool("xorriso", ["-osirrox", "on", "-indev", iso.path, "-extract", "/", extracted.path])
        let read = try filesBelow(extracted)
        #expect(Set(read.keys) == Set(files.map(\.name)))
        for file in files {
            #expect(read[file.name] == file.data, "\(file.name) differs after extraction (\(file.data.count) bytes in)")
        }
        // The last block must be complete: a truncated image still lists its files but loses data.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: iso.path)[.size] as? NSNumber).intValue
        #expect(size % 2048 == 0)
        let description = try runTool("isoinfo", ["-d", "-i", iso.path]).stdout
        #expect(description.contains("Volume size is: \(size / 2048)\n"))
    }

    @Test("blkid -p probes an iso9660 file system labelled cidata")
    func blkidProbesTheLabel() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)
        let probe = try runTool("blkid", ["-p", "-o", "export", iso.path]).stdout
        #expect(probe.contains("\nLABEL=cidata\n"))
        #expect(probe.contains("\nTYPE=iso9660\n"))
    }

    @Test("the CIDATA label is kept upper-case")
    func upperCaseLabel() throws {
        let data = try SeedISO.image(files: sampleSeedFiles(), volumeID: "CIDATA", epoch: testEpoch)
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try data.write(to: iso)
        let probe = try runTool("blkid", ["-p", "-o", "export", iso.path]).stdout
        #expect(probe.contains("\nLABEL=CIDATA\n"))
        try expectSeedReadsBack(iso, byName(sampleSeedFiles()), volumeID: "CIDATA")
    }

    @Test("image() and write() produce the same bytes")
    func imageMatchesWrite() throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: iso)
        let image = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        #expect(try Data(contentsOf: iso) == image)
        #expect(image.count < 200 * 1024, "a small seed should stay small, got \(image.count) bytes")
    }
}

@Suite("SeedISO: reproducible output")
struct SeedISOReproducibilityTests {
    @Test("the same seed built seconds apart is byte-identical")
    func sameSeedSecondsApart() throws {
        let first = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        // Cross a whole-second boundary so any "now" timestamp would differ.
        Thread.sleep(forTimeInterval: 1.1)
        let second = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        #expect(Digest.sha256Hex(first) == Digest.sha256Hex(second))
    }

    @Test("a different epoch or different content gives different bytes")
    func differencesShow() throws {
        let base = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        let otherEpoch = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch + 1)
        var changed = sampleSeedFiles()
        changed[0].data.append(Data("timezone: Etc/UTC\n".utf8))
        let otherContent = try SeedISO.image(files: changed, epoch: testEpoch)
        #expect(base != otherEpoch)
        #expect(base != otherContent)
    }

    @Test("concurrent builds are serialised and all identical")
    func concurrentBuilds() async throws {
        let expected = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        let digests = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask { Digest.sha256Hex(try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)) }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(digests.count == 16)
        #expect(Set(digests) == [Digest.sha256Hex(expected)])
    }

    @Test("seedgen iso gives the same sha256 from different directories, time zones, locales and seconds")
    func sameDigestAcrossProcesses() throws {
        try requireSeedgenBinary()
        let inputs = try TemporaryDirectory()
        for file in sampleSeedFiles() { try file.data.write(to: inputs.path(file.name)) }
        let workA = try TemporaryDirectory()
        let workB = try TemporaryDirectory()
        // Relative input paths from A; absolute ones from B.
        try FileManager.default.createSymbolicLink(at: workA.path("in"), withDestinationURL: inputs.url)
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = String(testEpoch)
        environment["TZ"] = "America/New_York"
        environment["LANG"] = "C"
        let first = try ProcessRunner.seedgen(
            ["iso", "seed.iso", "in/user-data", "in/meta-data", "-N", "in/network-config"], environment: environment,
            currentDirectory: workA.url)
        #expect(first.exitCode == 0, "\(first.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        environment["TZ"] = "Asia/Kolkata"
        environment["LANG"] = "de_DE.UTF-8"
        let second = try ProcessRunner.seedgen(
            [
                "iso", "-o", workB.path("seed.iso").path, "--user-data", inputs.path("user-data").path,
                "--meta-data", inputs.path("meta-data").path, "--network-config", inputs.path("network-config").path,
            ], environment: environment, currentDirectory: workB.url)
        #expect(second.exitCode == 0, "\(second.stderr)")
        try expectSeedReadsBack(workA.path("seed.iso"), byName(sampleSeedFiles()))
        let digestA = Digest.sha256Hex(try Data(contentsOf: workA.path("seed.iso")))
        let digestB = Digest.sha256Hex(try Data(contentsOf: workB.path("seed.iso")))
        #expect(digestA == digestB)
        let inProcess = try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)
        #expect(Digest.sha256Hex(inProcess) == digestA)
    }
}

@Suite("SeedISO: bad input and failures leave nothing behind")
struct SeedISOFailureTests {
    @Test(
        "a label cloud-init would not find is refused as invalid input",
        arguments: ["CiData", "config-2", "", "cidata "])
    func wrongLabel(label: String) throws {
        let directory = try TemporaryDirectory()
        let iso = directory.path("seed.iso")
        let error = try #require(throws: SeedgenError.self) {
            try SeedISO.write(files: sampleSeedFiles(), volumeID: label, epoch: testEpoch, to: iso)
        }
        #expect(error.exitCode == 2)
        #expect(error.description.contains("cidata or CIDATA"))
        #expect(directoryEntries(directory.url).isEmpty)
    }

    @Test(
        "a NoCloud seed with empty user-data, missing user-data or meta-data, duplicate and bad names is invalid input")
    func badFiles() throws {
        var emptyUserData = sampleSeedFiles()
        emptyUserData[0].data = Data()
        let cases: [([SeedFile], String)] = [
            (emptyUserData, "user-data: is empty"),
            (Array(sampleSeedFiles().dropFirst()), "no user-data"),
            (sampleSeedFiles().filter { $0.name != "meta-data" }, "no meta-data"),
            (sampleSeedFiles() + [sampleSeedFiles()[2]], "network-config: given twice"),
            (sampleSeedFiles() + [SeedFile(name: "a/b", data: Data("x".utf8))], "'a/b' is not a valid file name"),
        ]
        for (files, message) in cases {
            let directory = try TemporaryDirectory()
            let error = try #require(throws: SeedgenError.self) {
                try NoCloudSeed.write(files: files, epoch: testEpoch, to: directory.path("seed.iso"))
            }
            #expect(error.isInvalidInput, "\(message)")
            #expect(error.description.contains(message), "\(error.description)")
            #expect(directoryEntries(directory.url).isEmpty)
        }
    }

    @Test("SeedISO itself refuses names an ISO root cannot hold, and leaves NoCloud's needs to SeedgenNoCloud")
    func isoLevelNames() throws {
        for (files, message) in [
            (sampleSeedFiles() + [sampleSeedFiles()[2]], "network-config: given twice"),
            ([SeedFile(name: "a/b", data: Data("x".utf8))], "'a/b' is not a valid file name"),
        ] {
            let directory = try TemporaryDirectory()
            let error = try #require(throws: SeedgenError.self) {
                try SeedISO.write(files: files, epoch: testEpoch, to: directory.path("seed.iso"))
            }
            #expect(error.isInvalidInput && error.description.contains(message), "\(error.description)")
            #expect(directoryEntries(directory.url).isEmpty)
        }
        // Any file set with valid names is an ISO, with or without user-data.
        let plain = try SeedISO.image(files: [SeedFile(name: "notes.txt", data: Data("x".utf8))], epoch: testEpoch)
        #expect(plain.count > 0)
    }

    @Test("an epoch ISO 9660 cannot record is refused")
    func epochOutOfRange() throws {
        let error = try #require(throws: SeedgenError.self) {
            try SeedISO.image(files: sampleSeedFiles(), epoch: SeedISO.latestEpoch + 1)
        }
        #expect(error.isInvalidInput)
    }

    @Test("an unwritable target directory fails clearly and leaves nothing")
    func unwritableDirectory() throws {
        let directory = try TemporaryDirectory()
        let locked = directory.path("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
        // root ignores directory permissions; the missing-directory case below covers it then.
        if getuid() != 0 {
            let error = try #require(throws: SeedgenError.self) {
                try SeedISO.write(
                    files: sampleSeedFiles(), epoch: testEpoch, to: locked.appendingPathComponent("seed.iso"))
            }
            #expect(error.exitCode == 1)
            #expect(error.description.contains("cannot write"))
            #expect(error.description.contains("Permission denied"))
            #expect(directoryEntries(locked).isEmpty)
        }
        let missing = directory.path("no/such/dir/seed.iso")
        let error = try #require(throws: SeedgenError.self) {
            try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: missing)
        }
        #expect(error.exitCode == 1)
        #expect(error.description.contains("No such file or directory"))
    }

    @Test("a target that is a directory fails and leaves no temporary file")
    func targetIsADirectory() throws {
        let directory = try TemporaryDirectory()
        let target = directory.path("seed.iso")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        let error = try #require(throws: SeedgenError.self) {
            try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: target)
        }
        #expect(error.exitCode == 1)
        #expect(directoryEntries(directory.url) == ["seed.iso"])
        #expect(directoryEntries(target).isEmpty)
    }

    @Test("an existing ISO is replaced whole, with no temporary file left")
    func replacesExisting() throws {
        let directory = try TemporaryDirectory()
        let target = directory.path("seed.iso")
        try Data("old".utf8).write(to: target)
        try SeedISO.write(files: sampleSeedFiles(), epoch: testEpoch, to: target)
        #expect(try Data(contentsOf: target) == (try SeedISO.image(files: sampleSeedFiles(), epoch: testEpoch)))
        try expectSeedReadsBack(target, byName(sampleSeedFiles()))
        #expect(directoryEntries(directory.url) == ["seed.iso"])
        let mode = try FileManager.default.attributesOfItem(atPath: target.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o644)
    }
}
