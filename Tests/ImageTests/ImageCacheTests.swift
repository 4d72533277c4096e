import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenTestSupport
import Testing

/// Lockfile, air-gap export/import, gc and the multi-process cache.
@Suite struct ImageCacheTests {
    /// A publisher tree with dated serial directories and a moving `current/`, like Ubuntu's.
    func publishSerials(_ published: PublishedImage) throws -> ImageCatalogEntry {
        let fileManager = FileManager.default
        for serial in ["20240101", "20240202", "current"] {
            let folder = published.www.appendingPathComponent("noble/\(serial)")
            try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in ["disk.qcow2", "SHA256SUMS", "SHA256SUMS.gpg"] {
                try fileManager.copyItem(
                    at: published.www.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
        }
        try published.write("noble/20240101/SHA256SUMS", "\(String(repeating: "1", count: 64)) *disk.qcow2\n")
        let base = published.server.url("noble").absoluteString
        return ImageCatalogEntry(
            name: "test-serial", description: "", url: "\(base)/current/disk.qcow2", checksums: "SHA256SUMS",
            checksumFormat: .gnu,
            digestAlgorithm: .sha256, signatureStyle: .detached, signature: "SHA256SUMS.gpg",
            keyring: published.keys.trusted.keyring.path,
            fingerprints: [published.keys.trusted.fingerprint],
            latest: .serialDirectory(
                indexURL: "\(base)/", serialPattern: "^[0-9]{8}$", imageURL: "\(base)/{serial}/disk.qcow2",
                checksumsURL: "\(base)/{serial}/SHA256SUMS", signatureURL: "\(base)/{serial}/SHA256SUMS.gpg"))
    }

    @Test func lockPinsTheNewestDatedURLAndBuildsUseIt() async throws {
        let published = try PublishedImage()
        let entry = try publishSerials(published)
        let store = try published.makeStore([entry])
        let locked = try #require(try await store.lockEntry(for: ImageSpec(catalogName: "test-serial")))
        #expect(locked.key == "test-serial")
        #expect(locked.entry.url.hasSuffix("/noble/20240202/disk.qcow2"))
        #expect(locked.entry.sha256 == published.sha256)
        #expect(locked.entry.verification.hasPrefix("signed (VALIDSIG"))
        let lockURL = published.directory.path("seedgen.lock")
        var lockfile = ImageLockfile()
        lockfile.images[locked.key] = locked.entry
        try lockfile.write(to: lockURL)
        #expect(try ImageLockfile.read(lockURL) == lockfile)

        // A fresh cache with the lockfile fetches the dated URL, pinned by sha256.
        let fresh = try published.makeStore([entry], cache: published.directory.path("cache2"))
        let resolved = try await fresh.resolve(ImageSpec(catalogName: "test-serial"), lockfile: lockURL)
        #expect(resolved.source.hasSuffix("/noble/20240202/disk.qcow2"))
        #expect(resolved.verification.hasPrefix("sha256 pinned by seedgen.lock"))
        // If the publisher's bytes change under the dated URL, the lock refuses them.
        try published.write("noble/20240202/disk.qcow2", "not the image")
        let third = try published.makeStore([entry], cache: published.directory.path("cache3"))
        await expectRuntimeError(
            { _ = try await third.resolve(ImageSpec(catalogName: "test-serial"), lockfile: lockURL) },
            containing: "seedgen.lock")
        try expectCacheClean(third)
    }

    @Test func lockResolvesALatestTwinInTheList() async throws {
        let published = try PublishedImage()
        try FileManager.default.copyItem(
            at: published.www.appendingPathComponent("disk.qcow2"),
            to: published.www.appendingPathComponent("disk-9.4-20240507.qcow2"))
        try published.write(
            "TWIN/SHA256SUMS", "\(published.sha256) *disk.qcow2\n\(published.sha256) *disk-9.4-20240507.qcow2\n")
        let entry = ImageCatalogEntry(
            name: "test-twin", description: "", url: published.server.url("disk.qcow2").absoluteString,
            checksums: published.server.url("TWIN/SHA256SUMS").absoluteString, checksumFormat: .gnu,
            digestAlgorithm: .sha256,
            signatureStyle: .none, latest: .sameDigestInList(datedNamePattern: "^disk-9\\.[0-9]+-[0-9]{8}\\.qcow2$"))
        let store = try published.makeStore([entry])
        let locked = try #require(try await store.lockEntry(for: ImageSpec(catalogName: "test-twin")))
        #expect(locked.entry.fileName == "disk-9.4-20240507.qcow2")
        #expect(locked.entry.sha256 == published.sha256)
    }

    @Test func exportImportReverifiesEverything() async throws {
        let published = try PublishedImage()
        let entry = published.signedEntry()
        let connected = try published.makeStore([entry])
        _ = try await connected.resolve(ImageSpec(catalogName: entry.name), lockfile: nil)
        _ = try await connected.resolve(
            ImageSpec(
                url: published.server.url("disk.qcow2", fault: "slow0"),
                checksumsURL: published.server.url("SHA512SUMS")), lockfile: nil)
        let export = published.directory.path("export")
        let exported = try connected.export(to: export)
        #expect(exported.count == 2)

        let airGapped = try published.makeStore([entry], cache: published.directory.path("airgap"), offline: true)
        let findings = try airGapped.importImages(from: export)
        #expect(findings.count == 2 && findings.allSatisfy { $0.ok })
        let resolved = try await airGapped.resolve(ImageSpec(catalogName: entry.name), lockfile: nil)
        #expect(resolved.sha256 == published.sha256)
        #expect(resolved.verification.hasPrefix("signed (VALIDSIG \(published.keys.trusted.fingerprint)"))
        try expectCacheClean(airGapped)

        // A tampered export is refused and nothing of it enters the cache.
        let blob = export.appendingPathComponent("sha256/\(published.sha256)")
        _ = chmod(blob.path, 0o644)
        let handle = try FileHandle(forWritingTo: blob)
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data("tampered".utf8))
        try handle.close()
        let other = try published.makeStore([entry], cache: published.directory.path("airgap2"), offline: true)
        let refused = try #require(throws: SeedgenError.self) { try other.importImages(from: export) }
        guard case .runtime(let message, _, _) = refused else {
            Issue.record("not a runtime error: \(refused)"); return
        }
        // Every exported entry names the tampered blob, so every one is refused: "N of N exported images failed…".
        let counts = message.split(separator: " ").prefix(3).map(String.init)
        #expect(counts.count == 3 && counts[1] == "of" && counts[0] == counts[2], "\(message)")
        #expect(message.contains("exported images failed verification and were not imported"), "\(message)")
        #expect(
            message.contains("\(published.sha256.prefix(12))") && message.contains("corrupt"),
            "the bad image and why: \(message)")
        #expect(try other.records().isEmpty)
        try expectCacheClean(other)
    }

    @Test func verifyDetectsCorruptionAndGCRemovesIt() async throws {
        let published = try PublishedImage()
        let store = try published.makeStore()
        let resolved = try await store.resolve(
            ImageSpec(url: published.server.url("disk.qcow2"), sha256: published.sha256), lockfile: nil)
        #expect(try store.verifyAll().allSatisfy { $0.ok })
        _ = chmod(resolved.path.path, 0o644)
        try Data("corrupt".utf8).write(to: resolved.path)
        let findings = try store.verifyAll()
        #expect(findings.count == 1 && !findings[0].ok)
        try FileManager.default.createDirectory(
            at: store.directory.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        try Data("stale".utf8).write(to: store.directory.appendingPathComponent("tmp/stale.part"))
        let report = try store.collectGarbage(remove: [published.sha256])
        #expect(report.removedRecords == 1)
        #expect(report.removedFiles.contains("sha256/\(published.sha256)"))
        #expect(report.removedFiles.contains("tmp/stale.part"))
        #expect(try store.records().isEmpty)
        try expectCacheClean(store)
    }

    @Test func parallelProcessesShareOneDownload() async throws {
        let published = try PublishedImage()
        let cache = published.directory.path("shared-cache")
        let url = published.server.url("disk.qcow2", fault: "slow20").absoluteString
        let binary = TestPaths.seedgenBinary.path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "run `swift build` first")
        let results = try await withThrowingTaskGroup(of: ProcessResult.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try ProcessRunner.run(
                        binary,
                        [
                            "image", "fetch", url, "--sha256", published.sha256, "--cache", cache.path, "--progress",
                            "none", "--json",
                        ])
                }
            }
            return try await group.reduce(into: [ProcessResult]()) { $0.append($1) }
        }
        for result in results {
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(result.stdout.contains(published.sha256))
        }
        #expect(
            try published.server.requests().filter { $0.path.hasSuffix("disk.qcow2") }.count == 1,
            "one download for four processes")
        let verify = try ProcessRunner.run(binary, ["image", "verify", "--cache", cache.path])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("1 of 1 cached images verified"))
    }

    /// The binary's own downloads through faults. scripts/test.sh runs this suite a second time
    /// against the static release binary, the build that is shipped.
    @Test func binaryResumesAfterResetAndShortBodyAndRefusesAWrongDigest() throws {
        let published = try PublishedImage()
        let binary = TestPaths.seedgenBinary.path
        var environment = ProcessInfo.processInfo.environment
        environment["SEEDGEN_FETCH_BACKOFF"] = "0.05"
        // A cache of its own per fetch: a cached digest would be found without downloading.
        func fetch(_ fault: String, sha256: String) throws -> (ProcessResult, URL) {
            let cache = published.directory.path("cache-\(fault)")
            let url = published.server.url("disk.qcow2", fault: fault).absoluteString
            let result = try ProcessRunner.run(
                binary, ["image", "fetch", url, "--sha256", sha256, "--cache", cache.path, "--progress", "none"],
                environment: environment)
            return (result, cache)
        }
        func verify(_ cache: URL) throws -> ProcessResult {
            try ProcessRunner.run(binary, ["image", "verify", "--cache", cache.path])
        }
        for fault in ["reset1", "truncate1"] {
            let (result, cache) = try fetch(fault, sha256: published.sha256)
            #expect(result.exitCode == 0, "\(fault): \(result.stderr)")
            #expect(result.stdout.contains(published.sha256), "\(fault)")
            let check = try verify(cache)
            #expect(check.stdout.contains("1 of 1 cached images verified"), "\(fault): \(check.stdout)")
        }
        let (wrong, cache) = try fetch("reset2", sha256: String(repeating: "ab", count: 32))
        #expect(wrong.exitCode == 1)
        #expect(wrong.stderr.contains("sha256 mismatch"), "\(wrong.stderr)")
        let check = try verify(cache)
        #expect(check.exitCode == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("0 of 0 cached images verified"), "nothing may be cached: \(check.stdout)")
        let partials =
            (try? FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("tmp").path)) ?? []
        #expect(partials.filter { $0.hasSuffix(".part") }.isEmpty, "\(partials)")
    }

    /// The binary over HTTPS from a private CA: refused without it, fetched with `--ca-file`, with
    /// `SEEDGEN_CA_FILE`, and through an https_proxy (CONNECT) on loopback.
    @Test func binaryFetchesOverHTTPSWithACAFileAndThroughAProxy() throws {
        let published = try PublishedImage()
        let certificates = try TestCertificates()
        let secure = try FaultServer(root: published.www, tls: (certificates.leafCertificate, certificates.leafKey))
        let proxy = try ProxyServer()
        let url = secure.url("disk.qcow2").absoluteString
        var environment = ProcessInfo.processInfo.environment
        for name in [
            "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
            "SEEDGEN_CA_FILE",
        ] {
            environment[name] = nil
        }
        func fetch(_ name: String, _ extra: [String] = [], _ variables: [String: String] = [:]) throws -> ProcessResult
        {
            try ProcessRunner.run(
                TestPaths.seedgenBinary.path,
                [
                    "image", "fetch", url, "--sha256", published.sha256, "--cache",
                    published.directory.path("cache-\(name)").path, "--progress", "none",
                ] + extra,
                environment: environment.merging(variables) { $1 })
        }
        let untrusted = try fetch("untrusted", [], ["SEEDGEN_FETCH_ATTEMPTS": "1"])
        #expect(untrusted.exitCode == 1)
        #expect(untrusted.stderr.contains("--ca-file"), "\(untrusted.stderr)")
        let option = try fetch("option", ["--ca-file", certificates.caCertificate.path])
        #expect(option.exitCode == 0, "\(option.stderr)")
        #expect(option.stdout.contains(published.sha256))
        let variable = try fetch("variable", [], ["SEEDGEN_CA_FILE": certificates.caCertificate.path])
        #expect(variable.exitCode == 0, "\(variable.stderr)")
        #expect(try proxy.requests().isEmpty)
        let proxied = try fetch(
            "proxied", ["--ca-file", certificates.caCertificate.path], ["https_proxy": "http://127.0.0.1:\(proxy.port)"]
        )
        #expect(proxied.exitCode == 0, "\(proxied.stderr)")
        #expect(try proxy.requests().map(\.method) == ["CONNECT"])
    }
}
