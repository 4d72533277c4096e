import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// URLs under a publisher's image directories are verified with the publisher's policy for
/// exactly the file they name; URLs nothing verifies are pinned only on first use, and say so.
@Suite struct ImagePublisherTests {
    static let roleURLs = [
        "ubuntu-24.04": "https://cloud-images.ubuntu.com/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img",
        "ubuntu-22.04": "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img",
        "debian-12": "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
        "debian-11": "https://cloud.debian.org/images/cloud/bullseye/latest/debian-11-generic-amd64.qcow2",
    ]

    func plan(_ url: String, catalog: ImageCatalog = .builtIn()) throws -> ImageSourcePlan {
        try ImageSourcePlan(spec: ImageSpec(url: URL(string: url)), catalog: catalog)
    }

    // MARK: The production mapping, on the real URLs (no network)

    @Test func theRolesNamesAreExactlyTheRolesURLs() throws {
        let catalog = ImageCatalog.builtIn()
        #expect(Set(AnsibleRoleImages.names) == Set(Self.roleURLs.keys))
        for (name, url) in Self.roleURLs {
            #expect(catalog.ansibleRoleImageURL(named: name)?.absoluteString == url, "\(name)")
        }
        #expect(catalog.ansibleRoleImageURL(named: "almalinux-9") == nil)
    }

    @Test func ubuntuURLsAreCheckedBySHA256SUMSSignedByThePinnedKey() throws {
        for url in [
            Self.roleURLs["ubuntu-24.04"]!, Self.roleURLs["ubuntu-22.04"]!,
            "https://cloud-images.ubuntu.com/noble/20240423/noble-server-cloudimg-amd64.img",
        ] {
            let plan = try plan(url)
            let directory = url[..<url.lastIndex(of: "/")!]
            #expect(plan.imageURL.absoluteString == url)
            #expect(plan.fileName == String(url[url.index(after: url.lastIndex(of: "/")!)...]))
            #expect(plan.checksumsURL?.absoluteString == "\(directory)/SHA256SUMS")
            #expect(plan.signatureURL?.absoluteString == "\(directory)/SHA256SUMS.gpg")
            #expect(plan.signatureStyle == .detached)
            #expect(plan.listAlgorithm == .sha256)
            #expect(plan.fingerprints == ["D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81"])
            #expect(plan.keyring == "/usr/share/keyrings/ubuntu-cloudimage-keyring.gpg")
            #expect(plan.pinnedHex == nil)
        }
    }

    @Test func debianURLsAreCheckedBySHA512SUMSForTheFileTheyName() throws {
        for url in [
            Self.roleURLs["debian-12"]!, Self.roleURLs["debian-11"]!,
            "https://cloud.debian.org/images/cloud/bookworm/20250428-2096/debian-12-genericcloud-amd64-20250428-2096.qcow2",
        ] {
            let plan = try plan(url)
            let directory = url[..<url.lastIndex(of: "/")!]
            #expect(plan.checksumsURL?.absoluteString == "\(directory)/SHA512SUMS")
            #expect(plan.listAlgorithm == .sha512)
            #expect(plan.signatureStyle == ImageSignatureStyle.none)
            #expect(plan.signatureURL == nil)
        }
        // The role names `generic`, the catalog `genericcloud`: the list is searched for the former.
        #expect(try plan(Self.roleURLs["debian-12"]!).fileName == "debian-12-generic-amd64.qcow2")
    }

    @Test func urlsOutsideThePublishersDirectoriesGetNoPolicy() throws {
        let catalog = ImageCatalog.builtIn()
        for url in [
            "https://cloud-images.ubuntu.com.evil.example/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img",
            "http://cloud-images.ubuntu.com/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img",
            "https://cloud-images.ubuntu.com/releases/../../x.img",
            "https://cloud-images.ubuntu.com/releases/24.04/release/ubuntu.img?token=1",
            "https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS",
            "https://cloud.debian.org/images/openstack/current/debian.qcow2",
            "https://repo.almalinux.org/almalinux/8/cloud/x86_64/images/AlmaLinux-8-GenericCloud-latest.x86_64.qcow2",
        ] {
            #expect(catalog.publisher(covering: try #require(URL(string: url))) == nil, "\(url)")
            #expect(try plan(url).checksumsURL == nil, "\(url)")
        }
        #expect(
            catalog.publisher(
                covering: URL(
                    string:
                        "https://repo.almalinux.org/almalinux/9/cloud/x86_64/images/AlmaLinux-9-GenericCloud-9.5-20241120.x86_64.qcow2"
                )!)?.name == "almalinux-9")
        // A digest the user pinned is what verifies the file; the publisher's list is then not asked.
        let pinned = try ImageSourcePlan(
            spec: ImageSpec(
                url: URL(string: Self.roleURLs["ubuntu-24.04"]!), sha256: String(repeating: "ab", count: 32)),
            catalog: catalog)
        #expect(pinned.checksumsURL == nil && pinned.pinnedHex == String(repeating: "ab", count: 32))
    }

    @Test func aUserCatalogCanAddOrReplacePublishers() throws {
        let directory = try TemporaryDirectory(prefix: "seedgen-publishers")
        let file = try directory.write(
            "catalog.yaml",
            """
            publishers:
              debian:
                root: http://127.0.0.1:9/debian/
                checksums: SHA512SUMS
                digest: sha512
              mirror:
                root: https://mirror.example.invalid/ubuntu/
                checksums: SHA256SUMS
                signature: detached
                signature_url: SHA256SUMS.gpg
                keyring: /usr/share/keyrings/ubuntu-cloudimage-keyring.gpg
                fingerprints: [D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81]
            """)
        let catalog = try ImageCatalog.load(userCatalog: file)
        #expect(
            catalog.ansibleRoleImageURL(named: "debian-12")?.absoluteString
                == "http://127.0.0.1:9/debian/bookworm/latest/debian-12-generic-amd64.qcow2")
        #expect(catalog.publisher(covering: URL(string: Self.roleURLs["debian-12"]!)!) == nil)
        #expect(
            catalog.publisher(covering: URL(string: "https://mirror.example.invalid/ubuntu/noble/current/x.img")!)?.name
                == "mirror")
        #expect(catalog.entry(named: "ubuntu-24.04") != nil)

        let bad = try directory.write(
            "bad.yaml",
            "publishers:\n  x:\n    root: https://example.invalid/\n    checksums: SHA256SUMS\n    signature: "
                + "detached\n"
        )
        #expect(throws: SeedgenError.self) { _ = try ImageCatalog.load(userCatalog: bad) }
    }

    // MARK: End to end on loopback: the same mapping with the publishers' roots on 127.0.0.1

    /// `published`'s image copied into `path` under www, with `listName` beside it naming `listedName`.
    func publish(
        _ published: PublishedImage, at path: String, list listName: String, naming listedName: String? = nil,
        sign: Bool
    ) throws {
        let target = published.www.appendingPathComponent(path)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: published.www.appendingPathComponent(published.fileName), to: target)
        let name = listedName ?? target.lastPathComponent
        let line = listName == "SHA512SUMS" ? "\(published.sha512)  \(name)\n" : "\(published.sha256) *\(name)\n"
        let list = target.deletingLastPathComponent().appendingPathComponent(listName)
        try Data(line.utf8).write(to: list)
        if sign { try published.keys.trusted.detachSign(list, output: list.appendingPathExtension("gpg")) }
    }

    func loopbackCatalog(_ published: PublishedImage, keyring: URL? = nil) -> ImageCatalog {
        ImageCatalog(
            entries: [],
            publishers: [
                ImagePublisher(
                    name: "ubuntu", root: published.server.url("ubuntu/").absoluteString, checksums: "SHA256SUMS",
                    checksumFormat: .gnu,
                    digestAlgorithm: .sha256, signatureStyle: .detached, signature: "SHA256SUMS.gpg",
                    keyring: (keyring ?? published.keys.trusted.keyring).path,
                    fingerprints: [published.keys.trusted.fingerprint]),
                ImagePublisher(
                    name: "debian", root: published.server.url("debian/").absoluteString, checksums: "SHA512SUMS",
                    checksumFormat: .gnu,
                    digestAlgorithm: .sha512, signatureStyle: .none),
            ])
    }

    /// The Ansible variables file the role's docs show, loaded with `catalog`.
    func roleVM(_ name: String, catalog: ImageCatalog) throws -> VMSpec {
        let directory = try TemporaryDirectory(prefix: "seedgen-role-vm")
        let file = try directory.write(
            "vars.yml",
            """
            proxmox_operation: create_vm
            proxmox_vm_name: web01
            proxmox_vm_vmid: 9001
            proxmox_vm_cloud_image_url: "{{ proxmox_cloud_image_urls['\(name)'] }}"
            """)
        return try SpecLoader(options: .init(imageCatalog: catalog)).load(file.path)
    }

    @Test func roleUbuntuImageIsVerifiedBySignedSHA256SUMSOnLoopback() async throws {
        let published = try PublishedImage(dataMiB: 1)
        try publish(
            published, at: "ubuntu/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img", list: "SHA256SUMS",
            sign: true)
        let catalog = loopbackCatalog(published)
        let spec = try roleVM("ubuntu-24.04", catalog: catalog)
        #expect(
            spec.image?.url
                == published.server.url("ubuntu/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img"))
        let store = try ImageStore(
            directory: published.directory.path("cache"), catalog: catalog, progress: .none, offline: false)
        let resolved = try await store.resolve(try #require(spec.image), lockfile: nil)
        #expect(resolved.sha256 == published.sha256)
        #expect(resolved.fileName == "ubuntu-24.04-server-cloudimg-amd64.img")
        #expect(resolved.verification == "signed (VALIDSIG \(published.keys.trusted.fingerprint))")
        let paths = try published.server.requests().map(\.path)
        #expect(
            paths.contains("/ubuntu/releases/24.04/release/SHA256SUMS")
                && paths.contains("/ubuntu/releases/24.04/release/SHA256SUMS.gpg"))
        try expectCacheClean(store)
    }

    @Test func importTrustsThePublishersPinsOfTheLocalCatalogNotTheExport() async throws {
        let published = try PublishedImage(dataMiB: 1)
        try publish(
            published, at: "ubuntu/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img", list: "SHA256SUMS",
            sign: true)
        let catalog = loopbackCatalog(published)
        let connected = try ImageStore(
            directory: published.directory.path("cache"), catalog: catalog, progress: .none, offline: false)
        _ = try await connected.resolve(try #require(try roleVM("ubuntu-24.04", catalog: catalog).image), lockfile: nil)
        let export = published.directory.path("export")
        _ = try connected.export(to: export)

        // The offline host pins another key for that publisher: the exported record's own pin does not count.
        var distrusting = catalog
        distrusting.merge(publishers: [
            ImagePublisher(
                name: "ubuntu", root: published.server.url("ubuntu/").absoluteString, checksums: "SHA256SUMS",
                checksumFormat: .gnu,
                digestAlgorithm: .sha256, signatureStyle: .detached, signature: "SHA256SUMS.gpg",
                keyring: published.keys.trusted.keyring.path,
                fingerprints: [published.keys.other.fingerprint])
        ])
        let refusing = try ImageStore(
            directory: published.directory.path("offline1"), catalog: distrusting, progress: .none, offline: true)
        #expect(throws: SeedgenError.self) { _ = try refusing.importImages(from: export) }
        #expect(try refusing.records().isEmpty)

        let accepting = try ImageStore(
            directory: published.directory.path("offline2"), catalog: catalog, progress: .none, offline: true)
        let findings = try accepting.importImages(from: export)
        #expect(findings.allSatisfy(\.ok) && findings.count == 1)
        #expect(
            try accepting.records().first?.verification == "signed (VALIDSIG \(published.keys.trusted.fingerprint))")
    }

    @Test func roleUbuntuImageSignedByAnotherKeyIsRefused() async throws {
        let published = try PublishedImage(dataMiB: 1)
        try publish(
            published, at: "ubuntu/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img", list: "SHA256SUMS",
            sign: false)
        let list = published.www.appendingPathComponent("ubuntu/releases/22.04/release/SHA256SUMS")
        try published.keys.other.detachSign(list, output: list.appendingPathExtension("gpg"))
        let catalog = loopbackCatalog(published, keyring: published.keys.combinedKeyring)
        let spec = try roleVM("ubuntu-22.04", catalog: catalog)
        let store = try ImageStore(
            directory: published.directory.path("cache"), catalog: catalog, progress: .none, offline: false)
        await expectRuntimeError(
            { _ = try await store.resolve(try #require(spec.image), lockfile: nil) }, containing: "not a pinned key")
        #expect(try store.records().isEmpty)
    }

    @Test func roleDebianImageIsVerifiedBySHA512SUMSForExactlyItsFile() async throws {
        let published = try PublishedImage(dataMiB: 1)
        try publish(
            published, at: "debian/bookworm/latest/debian-12-generic-amd64.qcow2", list: "SHA512SUMS", sign: false)
        let catalog = loopbackCatalog(published)
        let spec = try roleVM("debian-12", catalog: catalog)
        let store = try ImageStore(
            directory: published.directory.path("cache"), catalog: catalog, progress: .none, offline: false)
        let resolved = try await store.resolve(try #require(spec.image), lockfile: nil)
        #expect(resolved.verification == "digest-pinned, unsigned")
        #expect(try store.records().first?.sha512 == published.sha512)

        // A list that has only the catalog's genericcloud file does not vouch for the role's generic one.
        try publish(
            published, at: "debian/bullseye/latest/debian-11-generic-amd64.qcow2", list: "SHA512SUMS",
            naming: "debian-11-genericcloud-amd64.qcow2", sign: false)
        let other = try roleVM("debian-11", catalog: catalog)
        await expectRuntimeError(
            { _ = try await store.resolve(try #require(other.image), lockfile: nil) },
            containing: "SHA512SUMS has no sha512 line for debian-11-generic-amd64.qcow2")
    }

    // MARK: Trust on first use

    @Test func firstUseTrustIsRecordedOnceAndDemandedAfterwards() async throws {
        let published = try PublishedImage(dataMiB: 1)
        let url = published.server.url("disk.qcow2")
        let spec = ImageSpec(url: url)
        let store = try published.makeStore()
        do {
            _ = try await store.lockEntry(for: spec)
            Issue.record("an unverifiable URL was locked without --trust-on-first-use")
        } catch let error as SeedgenError {
            #expect(error.description.contains("--trust-on-first-use"), "\(error)")
        }
        #expect(try published.server.requests().isEmpty)

        let locked = try #require(try await store.lockEntry(for: spec, trustOnFirstUse: true))
        #expect(locked.key == url.absoluteString)
        #expect(locked.entry.sha256 == published.sha256)
        #expect(locked.entry.trust == "first-use")
        #expect(locked.entry.verification == "pinned on first use, unsigned")
        #expect(try store.records().first?.verification == "pinned on first use, unsigned")
        var lockfile = ImageLockfile()
        lockfile.images[locked.key] = locked.entry
        let lockURL = published.directory.path("seedgen.lock")
        try lockfile.write(to: lockURL)
        let reread = try ImageLockfile.read(lockURL)
        #expect(reread.images[locked.key]?.trust == "first-use")

        // A later build with an empty cache downloads again and demands the recorded digest.
        let fresh = try published.makeStore(cache: published.directory.path("cache2"))
        let resolved = try await fresh.resolve(spec, lockfile: lockURL)
        #expect(resolved.sha256 == published.sha256)
        #expect(resolved.verification == "pinned on first use, unsigned")
        #expect(try fresh.records().first?.verification == "pinned on first use, unsigned")

        // The server now serves other bytes under the same URL: refused.
        try FileManager.default.removeItem(at: published.www.appendingPathComponent("disk.qcow2"))
        try Data(repeating: 7, count: 4096).write(to: published.www.appendingPathComponent("disk.qcow2"))
        let third = try published.makeStore(cache: published.directory.path("cache3"))
        await expectRuntimeError(
            { _ = try await third.resolve(spec, lockfile: lockURL) }, containing: "(from seedgen.lock)")
        #expect(try third.records().isEmpty)
    }
}
