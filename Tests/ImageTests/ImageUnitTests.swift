import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenTestSupport
import Testing

@Suite struct ImageCatalogTests {
    @Test func builtInCatalogHasTheRequiredNamesAndTrustPolicies() throws {
        for name in [
            "ubuntu-24.04", "ubuntu-22.04", "debian-12", "debian-11", "debian-13", "ubuntu-26.04", "almalinux-9",
        ] {
            #expect(ImageCatalog.knownNames.contains(name), "\(name)")
        }
        let catalog = ImageCatalog.builtIn()
        let noble = try #require(catalog.entry(named: "ubuntu-24.04"))
        #expect(noble.url == "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img")
        #expect(noble.signatureStyle == .detached && noble.signature == "SHA256SUMS.gpg")
        #expect(noble.fingerprints == ["D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81"])
        #expect(noble.keyring == "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg")
        let bookworm = try #require(catalog.entry(named: "debian-12"))
        #expect(
            bookworm.signatureStyle == .none && bookworm.digestAlgorithm == .sha512
                && bookworm.checksums == "SHA512SUMS")
        let alma = try #require(catalog.entry(named: "almalinux-9"))
        #expect(alma.checksumFormat == .bsd && alma.signature == "CHECKSUM.asc")
        for entry in catalog.entries where entry.signatureStyle != .none {
            #expect(!entry.fingerprints.isEmpty && entry.fingerprints.allSatisfy { $0.count == 40 }, "\(entry.name)")
        }
        #expect(catalog.suggestion(for: "ubuntu-2404") == "ubuntu-24.04")
        #expect(catalog.suggestion(for: "debain-12") == "debian-12")
        #expect(catalog.suggestion(for: "windows-server") == nil)
    }

    @Test func newestDatedBuildIsChosenByItsNumbers() throws {
        let catalog = ImageCatalog.builtIn()
        func serialPattern(_ name: String) throws -> String {
            guard case .serialDirectory(_, let pattern, _, _, _) = try #require(catalog.entry(named: name)?.latest)
            else {
                throw SeedgenError.runtime(message: "\(name) has no dated directories")
            }
            return pattern
        }
        // Debian names dated directories <date>-<build number>; the build number has no fixed width.
        let debianIndex = """
            <a href="../">../</a> <a href="20210425-618/">20210425-618/</a> <a href="20250416-2084/">20250416-2084/</a>
            <a href="20250501-87/">20250501-87/</a> <a href="20250501-100/">20250501-100/</a>
            <a href="daily/">daily/</a> <a href="latest/">latest/</a>
            """
        #expect(
            try ImageLatestPages.newestSerial(in: debianIndex, matching: serialPattern("debian-12")) == "20250501-100")
        let ubuntuIndex = """
            <a href="20240423/">20240423/</a> <a href="20240612/">20240612/</a> <a href="20240612.1/">20240612.1/</a>
            <a href="current/">current/</a> <a href="release/">release/</a>
            """
        #expect(
            try ImageLatestPages.newestSerial(in: ubuntuIndex, matching: serialPattern("ubuntu-24.04")) == "20240612.1")
        #expect(
            try ImageLatestPages.newestSerial(
                in: "<a href=\"latest/\">latest/</a>", matching: serialPattern("debian-12")) == nil)
    }

    @Test func userCatalogExtendsAndReportsErrors() throws {
        let directory = try TemporaryDirectory()
        let good = try directory.write(
            "catalog.yaml",
            """
            images:
              my-image:
                url: https://example.org/images/current/disk.qcow2
                checksums: SHA256SUMS
                signature: detached
                signature_url: SHA256SUMS.gpg
                keyring: /etc/seedgen/example.gpg
                fingerprints: ["0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"]
              ubuntu-24.04:
                url: https://mirror.example.org/noble.img
                checksums: SHA256SUMS
            """)
        let catalog = try ImageCatalog.load(userCatalog: good)
        let mine = try #require(catalog.entry(named: "my-image"))
        #expect(mine.fingerprints == ["0123456789ABCDEF0123456789ABCDEF01234567"])
        #expect(catalog.entry(named: "ubuntu-24.04")?.url == "https://mirror.example.org/noble.img")
        #expect(catalog.entry(named: "debian-12") != nil)
        let bad = try directory.write(
            "bad.yaml",
            """
            images:
              broken:
                ulr: https://example.org/x.img
              signed:
                url: https://example.org/y.img
                signature: detached
            """)
        do {
            _ = try ImageCatalog.load(userCatalog: bad)
            Issue.record("a bad catalog was accepted")
        } catch let error as SeedgenError {
            #expect(error.exitCode == 2)
            #expect(error.description.contains("unknown key `ulr`"))
            #expect(error.description.contains("did you mean `url`?"))
            #expect(error.description.contains("fingerprints"))
        }
    }
}

@Suite struct ImageChecksumListTests {
    @Test func parsesGNUAndBSDLinesByExactName() {
        let a = String(repeating: "a", count: 64), b = String(repeating: "B", count: 64),
            c = String(repeating: "c", count: 128)
        let list = ImageChecksumList(
            parsing: """
                # comment
                \(a) *noble-server-cloudimg-amd64.img
                \(b)  noble-server-cloudimg-amd64.img.manifest
                \(c)  debian-12-genericcloud-amd64.qcow2
                SHA256 (AlmaLinux-9-GenericCloud-latest.x86_64.qcow2) = \(a)
                -----BEGIN PGP SIGNATURE-----
                """)
        #expect(list.digest(for: "noble-server-cloudimg-amd64.img", algorithm: .sha256) == a)
        #expect(list.digest(for: "noble-server-cloudimg-amd64.img.manifest", algorithm: .sha256) == b.lowercased())
        #expect(list.digest(for: "noble-server-cloudimg", algorithm: .sha256) == nil)
        #expect(list.digest(for: "debian-12-genericcloud-amd64.qcow2", algorithm: .sha512) == c)
        #expect(list.digest(for: "debian-12-genericcloud-amd64.qcow2", algorithm: .sha256) == nil)
        #expect(list.digest(for: "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2", algorithm: .sha256) == a)
        #expect(
            Set(list.fileNames(withDigest: a)) == [
                "noble-server-cloudimg-amd64.img", "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2",
            ])
    }
}

@Suite struct ImageInspectorTests {
    @Test func readsQcow2HeaderAndRefusesBackingFiles() throws {
        try requireTool("qemu-img")
        let directory = try TemporaryDirectory()
        let base = directory.path("base.qcow2")
        try runChecked("qemu-img", ["create", "-f", "qcow2", base.path, "3G"])
        let info = try ImageInspector.inspect(base)
        #expect(info.format == "qcow2")
        #expect(info.virtualSize == 3 << 30)
        #expect(info.qcow2Version == 3)
        let compat = directory.path("v2.qcow2")
        try runChecked("qemu-img", ["create", "-f", "qcow2", "-o", "compat=0.10", compat.path, "1G"])
        #expect(try ImageInspector.inspect(compat).qcow2Version == 2)
        let overlay = directory.path("overlay.qcow2")
        try runChecked("qemu-img", ["create", "-f", "qcow2", "-b", base.path, "-F", "qcow2", overlay.path])
        do {
            _ = try ImageInspector.inspect(overlay)
            Issue.record("an overlay was accepted")
        } catch let error as SeedgenError {
            #expect(error.description.contains("backing file \(base.path)"))
        }
        let raw = directory.path("disk.raw")
        try runChecked("qemu-img", ["create", "-f", "raw", raw.path, "8M"])
        let rawInfo = try ImageInspector.inspect(raw)
        #expect(rawInfo.format == "raw" && rawInfo.virtualSize == 8 << 20)
        let xz = try directory.write("disk.img.xz", "\u{FD}7zXZ\u{0}rest")
        try Data([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2]).write(to: xz)
        let compressed = try #require(throws: SeedgenError.self) { try ImageInspector.inspect(xz) }
        guard case .runtime(let message, let hint, _) = compressed else {
            Issue.record("not a runtime error: \(compressed)"); return
        }
        #expect(message == "disk.img.xz is xz-compressed", "\(message)")
        #expect(hint?.contains("decompress it first") == true)
    }
}

@Suite struct ImageCommandTests {
    @Test func listAndUsageErrors() throws {
        let binary = TestPaths.seedgenBinary.path
        let cache = try TemporaryDirectory()
        let list = try ProcessRunner.run(binary, ["image", "list", "--cache", cache.url.path])
        #expect(list.exitCode == 0, "\(list.stderr)")
        #expect(
            list.stdout.contains("ubuntu-24.04")
                && list.stdout.contains("D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81".suffix(16)))
        let json = try ProcessRunner.run(binary, ["image", "list", "--cache", cache.url.path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdoutData) as? [String: Any])
        #expect((object["catalog"] as? [Any])?.count == ImageCatalog.knownNames.count)
        let unknown = try ProcessRunner.run(binary, ["image", "fetch", "ubuntu-2404", "--cache", cache.url.path])
        #expect(unknown.exitCode == 2)
        #expect(unknown.stderr.contains("did you mean ubuntu-24.04"))
        let offline = try ProcessRunner.run(
            binary, ["image", "fetch", "debian-12", "--offline", "--cache", cache.url.path])
        #expect(offline.exitCode == 1)
        #expect(offline.stderr.contains("seedgen image fetch debian-12"))
    }

    @Test func lockCommandWritesTheLockfileBesideVMFile() async throws {
        let published = try PublishedImage()
        let directory = published.directory
        let vm = try directory.write(
            "vm/vm.yaml",
            """
            name: web01
            vmid: 9001
            image:
              url: \(published.server.url("disk.qcow2").absoluteString)
              checksums_url: \(published.server.url("SHA256SUMS").absoluteString)
              signature_url: \(published.server.url("SHA256SUMS.gpg").absoluteString)
              keyring: \(published.keys.trusted.keyring.path)
              fingerprints: [\(published.keys.trusted.fingerprint)]
            """)
        let result = try ProcessRunner.run(
            TestPaths.seedgenBinary.path,
            ["image", "lock", vm.path, "--cache", directory.path("cache").path, "--progress", "none"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let lockfile = try ImageLockfile.read(directory.path("vm/seedgen.lock"))
        let entry = try #require(lockfile.images[published.server.url("disk.qcow2").absoluteString])
        #expect(entry.sha256 == published.sha256)
        #expect(entry.verification == "signed (VALIDSIG \(published.keys.trusted.fingerprint))")
    }
}

/// `seedgen image fetch`'s argument, planned in the image stage (the command only parses it).
@Suite struct ImageFetchRequestTests {
    private let catalog = ImageCatalog.builtIn()

    @Test func aCatalogNameIsItsEntryAndSha256PinsIt() throws {
        let plan = try ImageSourcePlan(
            ImageFetchRequest(image: "debian-12", sha256: String(repeating: "AB", count: 32)), catalog: catalog)
        #expect(plan.imageURL.absoluteString.hasPrefix("https://cloud.debian.org/"))
        #expect(plan.pinnedAlgorithm == .sha256 && plan.pinnedHex == String(repeating: "ab", count: 32))
    }

    @Test func aURLUnderAPublisherIsVerifiedByItsListUnlessTheRequestSaysHow() throws {
        let url =
            "https://cloud-images.ubuntu.com/releases/noble/release-20250403/ubuntu-24.04-server-cloudimg-amd64.img"
        let published = try ImageSourcePlan(ImageFetchRequest(image: url), catalog: catalog)
        #expect(published.checksumsURL?.lastPathComponent == "SHA256SUMS")
        let pinned = try ImageSourcePlan(
            ImageFetchRequest(image: url, sha256: String(repeating: "0", count: 64)), catalog: catalog)
        #expect(pinned.checksumsURL == nil && pinned.pinnedHex == String(repeating: "0", count: 64))
    }

    @Test func anUnknownNameIsAUsageErrorWithASuggestion() {
        #expect {
            try ImageSourcePlan(ImageFetchRequest(image: "debain-12"), catalog: catalog)
        } throws: { error in
            guard case SeedgenError.usage(let message) = error else { return false }
            return message.contains("did you mean debian-12?")
        }
        #expect(throws: SeedgenError.self) {
            try ImageSourcePlan(
                ImageFetchRequest(image: "https://example.org/x.img", checksumsURL: "no scheme"), catalog: catalog)
        }
    }
}

@Suite struct ImageLockfileRecordTests {
    @Test func recordKeepsTheOtherEntriesAndReplacesItsOwn() throws {
        let directory = try TemporaryDirectory()
        let vmFile = directory.path("vm.yaml")
        let first = ImageLockEntry(
            url: "https://a/x-1.img", fileName: "x-1.img", sha256: String(repeating: "1", count: 64), size: 1,
            verification: "v")
        let second = ImageLockEntry(
            url: "https://b/y-1.img", fileName: "y-1.img", sha256: String(repeating: "2", count: 64), size: 2,
            verification: "v")
        let lockURL = try ImageLockfile.record(first, key: "x", besides: vmFile)
        #expect(lockURL == directory.path("seedgen.lock"))
        try ImageLockfile.record(second, key: "y", besides: vmFile)
        var updated = first
        updated.url = "https://a/x-2.img"
        try ImageLockfile.record(updated, key: "x", besides: vmFile)
        let lockfile = try ImageLockfile.read(lockURL)
        #expect(lockfile.images == ["x": updated, "y": second])
        // Nothing but the lockfile itself is left in the directory (the write was atomic).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted() == ["seedgen.lock"])
    }

    @Test func aDamagedLockfileIsNotOverwritten() throws {
        let directory = try TemporaryDirectory()
        let lockURL = try directory.write("seedgen.lock", "{ not json")
        let entry = ImageLockEntry(
            url: "https://a/x.img", fileName: "x.img", sha256: String(repeating: "1", count: 64), size: 1,
            verification: "v")
        #expect(throws: SeedgenError.self) {
            try ImageLockfile.record(entry, key: "x", besides: directory.path("vm.yaml"))
        }
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == "{ not json")
    }
}
