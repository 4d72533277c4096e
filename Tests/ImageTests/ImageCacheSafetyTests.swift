import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenTestSupport
import Testing

/// The cache never loses data: a damaged index stops every writer before it changes anything,
/// gc keeps what the index does not name, and a killed fetch never leaves a partial file that
/// passes for a verified one.
@Suite struct ImageCacheSafetyTests {
    /// Every file below the cache with its bytes (lock files are opened, never written, and stay).
    func snapshot(_ directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: directory.path)
        while let relative = walker?.nextObject() as? String {
            let url = directory.appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            files[relative] = try Data(contentsOf: url)
        }
        return files
    }

    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case truncated, garbage, empty, futureVersion, wrongFields
        var testDescription: String { rawValue }

        func apply(to index: URL) throws {
            let good = try Data(contentsOf: index)
            let damaged: Data
            switch self {
            case .truncated: damaged = good.prefix(good.count / 2)
            case .garbage: damaged = Data([0x00, 0xFF, 0x13, 0x37]) + Data("not json at all".utf8)
            case .empty: damaged = Data()
            case .futureVersion:
                damaged = Data(
                    String(decoding: good, as: UTF8.self).replacingOccurrences(
                        of: "\"version\" : 1", with: "\"version\" : 2"
                    ).utf8)
                #expect(damaged != good, "the index no longer spells its version as this test expects")
            case .wrongFields: damaged = Data(#"{"version": 1, "images": [{"sha256": 7}]}"#.utf8)
            }
            try damaged.write(to: index)
        }
    }

    @Test(arguments: Damage.allCases)
    func aDamagedIndexStopsEveryWriterAndChangesNothing(damage: Damage) async throws {
        let published = try PublishedImage()
        let store = try published.makeStore()
        _ = try await store.fetch(
            try ImageSourcePlan(url: published.server.url("disk.qcow2"), sha256: published.sha256))
        // An export to import from, and a second image to fetch, made while the index is good.
        let export = published.directory.path("export")
        _ = try store.export(to: export)
        try FileManager.default.copyItem(
            at: published.www.appendingPathComponent("disk.qcow2"),
            to: published.www.appendingPathComponent("copy.qcow2"))
        try Data("stale".utf8).write(to: store.directory.appendingPathComponent("tmp/stale.part"))
        let index = store.directory.appendingPathComponent("index.json")
        try damage.apply(to: index)
        let before = try snapshot(store.directory)
        let requestsBefore = try published.server.requests().count

        func expectRefusal(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(what) went on with a \(damage) index")
            } catch let error as SeedgenError {
                #expect(error.exitCode == 1, "\(what): \(error)")
                #expect(error.description.contains(index.path), "\(what) does not name the index: \(error)")
                let recovery = damage == .futureVersion ? "newer seedgen" : "mv \(index.path)"
                #expect(error.description.contains(recovery), "\(what) gives no way out: \(error)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        await expectRefusal("gc") { _ = try store.collectGarbage() }
        await expectRefusal("gc --remove") {
            _ = try store.collectGarbage(remove: [published.sha256], removeUnindexed: true)
        }
        await expectRefusal("fetch") {
            _ = try await store.fetch(
                try ImageSourcePlan(url: published.server.url("copy.qcow2"), sha256: published.sha256))
        }
        await expectRefusal("fetch of the cached image") {
            _ = try await store.fetch(
                try ImageSourcePlan(url: published.server.url("disk.qcow2"), sha256: published.sha256))
        }
        await expectRefusal("import") { _ = try store.importImages(from: export) }
        await expectRefusal("verify") { _ = try store.verifyAll() }
        await expectRefusal("records") { _ = try store.records() }
        await expectRefusal("export") { _ = try store.export(to: published.directory.path("export2")) }
        #expect(try snapshot(store.directory) == before, "the cache changed")
        #expect(try published.server.requests().count == requestsBefore, "something was downloaded")
    }

    @Test func anIndexNamingAMissingBlobIsReportedKeptAndRefetched() async throws {
        let published = try PublishedImage()
        let store = try published.makeStore()
        let plan = try ImageSourcePlan(url: published.server.url("disk.qcow2"), sha256: published.sha256)
        let resolved = try await store.fetch(plan)
        try FileManager.default.removeItem(at: resolved.path)
        let findings = try store.verifyAll()
        #expect(findings.count == 1 && findings[0].problems.contains { $0.contains("missing") }, "\(findings)")
        let report = try store.collectGarbage()
        #expect(report.removedRecords == 0 && report.removedFiles.isEmpty, "\(report)")
        #expect(try store.records().count == 1, "gc dropped the entry of a missing blob")
        _ = try await store.fetch(plan)
        #expect(FileManager.default.fileExists(atPath: resolved.path.path))
        #expect(try store.records().count == 1)
        try expectCacheClean(store)
    }

    @Test func gcKeepsBlobsTheIndexDoesNotNameUnlessTold() async throws {
        let published = try PublishedImage()
        let store = try published.makeStore()
        _ = try await store.fetch(
            try ImageSourcePlan(url: published.server.url("disk.qcow2"), sha256: published.sha256))
        // A verified image whose entry was lost (an index restored from an older backup).
        let orphan = Data("an image the index forgot".utf8)
        let orphanPath = "sha256/\(Digest.sha256Hex(orphan))"
        try orphan.write(to: store.directory.appendingPathComponent(orphanPath))
        let orphanList = "lists/\(Digest.sha256Hex(Data("list".utf8)))"
        try Data("list".utf8).write(to: store.directory.appendingPathComponent(orphanList))

        let kept = try store.collectGarbage()
        #expect(kept.removedFiles.isEmpty, "\(kept.removedFiles)")
        #expect(kept.keptUnindexedFiles.sorted() == [orphanList, orphanPath].sorted())
        #expect(FileManager.default.fileExists(atPath: store.directory.appendingPathComponent(orphanPath).path))

        // Dropping an entry deletes the files only it used, and still keeps the orphans.
        let copy = published.www.appendingPathComponent("second.qcow2")
        try Data("second image bytes".utf8).write(to: copy)
        let second = try await store.fetch(
            try ImageSourcePlan(
                url: published.server.url("second.qcow2"), sha256: Digest.sha256Hex(Data("second image bytes".utf8))))
        let dropped = try store.collectGarbage(remove: [second.sha256])
        #expect(dropped.removedRecords == 1)
        #expect(dropped.removedFiles == ["sha256/\(second.sha256)"])
        #expect(FileManager.default.fileExists(atPath: store.directory.appendingPathComponent(orphanPath).path))

        let removed = try store.collectGarbage(removeUnindexed: true)
        #expect(removed.removedFiles.sorted() == [orphanList, orphanPath].sorted())
        #expect(try store.records().map(\.sha256) == [published.sha256])
        try expectCacheClean(store)
    }

    /// `kill -9` of `seedgen image fetch` at spread-out moments of a slow download: after every
    /// kill the index is readable, every blob in sha256/ has the digest its name says and every
    /// entry verifies; the next fetch completes the image.
    @Test func aFetchKilledAtAnyMomentLeavesNothingUnverifiedInTheCache() throws {
        let published = try PublishedImage()
        let cache = published.directory.path("killed-cache")
        let binary = TestPaths.seedgenBinary.path
        if let problem = TestPaths.seedgenBinaryProblem() { Issue.record(Comment(rawValue: problem)); return }
        // 150 ms per 256 KiB: each attempt resumes the part the last one left, so the file must stay slow to
        // fetch even on an idle machine for most of the kills to land mid-download.
        let url = published.server.url("disk.qcow2", fault: "slow150").absoluteString
        let arguments = [
            "image", "fetch", url, "--sha256", published.sha256, "--cache", cache.path, "--progress", "none",
        ]
        var generator = SystemRandomNumberGenerator()
        var delays = (0..<10).map { UInt32($0) * 60_000 }  // 0 to 540 ms, microseconds
        delays.shuffle(using: &generator)
        var interrupted = 0
        for delay in delays {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(delay + UInt32.random(in: 0..<20_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { interrupted += 1 }
            try expectNothingUnverified(cache, published: published, after: "a kill after \(delay / 1000) ms")
        }
        #expect(
            interrupted >= 3,
            "only \(interrupted) fetches were killed before they finished; the download is too fast for this test")
        let finish = try ProcessRunner.run(binary, arguments)
        #expect(finish.exitCode == 0, "\(finish.stderr)")
        let verify = try ProcessRunner.run(binary, ["image", "verify", "--cache", cache.path])
        #expect(
            verify.exitCode == 0 && verify.stdout.contains("1 of 1 cached images verified"),
            "\(verify.stdout)\(verify.stderr)")
        try expectNothingUnverified(cache, published: published, after: "the last fetch")
    }

    func expectNothingUnverified(
        _ cache: URL, published: PublishedImage, after moment: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let indexURL = cache.appendingPathComponent("index.json")
        if FileManager.default.fileExists(atPath: indexURL.path) {
            let object = try? JSONSerialization.jsonObject(with: try Data(contentsOf: indexURL)) as? [String: Any]
            #expect(object?["version"] as? Int == 1, "index.json unreadable \(moment)", sourceLocation: sourceLocation)
            for case let record as [String: Any] in (object?["images"] as? [Any]) ?? [] {
                #expect(
                    record["sha256"] as? String == published.sha256, "\(moment): \(record)",
                    sourceLocation: sourceLocation)
            }
        }
        let blobs =
            (try? FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("sha256").path)) ?? []
        for name in blobs {
            let data = try Data(contentsOf: cache.appendingPathComponent("sha256/\(name)"))
            #expect(
                Digest.sha256Hex(data) == name, "\(moment): sha256/\(name) holds other bytes (\(data.count))",
                sourceLocation: sourceLocation)
        }
    }
}
