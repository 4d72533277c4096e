import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenTestSupport
import Testing

/// Fails with a message naming the installer when a consumer tool is missing.
func requireTool(_ name: String) throws {
    guard ProcessRunner.isInstalled(name) else {
        Issue.record("\(name) is not installed: run scripts/install-deps.sh as root")
        throw FixtureError("\(name) missing")
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@discardableResult
func runChecked(_ tool: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Data? = nil) throws
    -> ProcessResult
{
    let result = try ProcessRunner.run(tool, arguments, environment: environment, stdin: stdin)
    guard result.exitCode == 0 else {
        throw FixtureError("\(tool) \(arguments.joined(separator: " ")) exited \(result.exitCode): \(result.stderr)")
    }
    return result
}

/// Runs gpg with its output in files: gpg starts a gpg-agent daemon that would inherit (and hold
/// open) pipes, so reading a pipe to its end would never finish.
@discardableResult
func runGPG(_ arguments: [String], home: URL) throws -> (stdout: Data, stderr: String) {
    let out = home.appendingPathComponent("out-\(UUID().uuidString)")
    let err = home.appendingPathComponent("err-\(UUID().uuidString)")
    defer {
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
    }
    let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    let environment = ["GNUPGHOME": home.path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    let result = try ProcessRunner.run(
        "sh", ["-c", "gpg \(quoted) >'\(out.path)' 2>'\(err.path)' </dev/null"], environment: environment)
    let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
    guard result.exitCode == 0 else {
        throw FixtureError("gpg \(arguments.joined(separator: " ")) exited \(result.exitCode): \(stderr)")
    }
    return ((try? Data(contentsOf: out)) ?? Data(), stderr)
}

/// Stops the gpg-agent that gpg started for `home`.
func stopAgent(home: URL) {
    let environment = ["GNUPGHOME": home.path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    _ = try? ProcessRunner.run(
        "sh", ["-c", "gpgconf --kill gpg-agent >/dev/null 2>&1 </dev/null"], environment: environment)
}

/// A throwaway OpenPGP key in its own GNUPGHOME (no passphrase), and a binary keyring exporting it.
final class TestSigningKey: Sendable {
    let home: URL
    let fingerprint: String
    let keyring: URL

    init(name: String, in directory: URL) throws {
        try requireTool("gpg")
        let home = directory.appendingPathComponent("gnupg-\(name)")
        self.home = home
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        _ = chmod(home.path, 0o700)
        defer { stopAgent(home: home) }
        try runGPG(
            [
                "--batch", "--passphrase", "", "--quick-gen-key", "seedgen test \(name) <\(name)@example.invalid>",
                "ed25519", "sign", "never",
            ], home: home)
        let listing = String(
            decoding: try runGPG(["--batch", "--with-colons", "--list-keys"], home: home).stdout, as: UTF8.self)
        guard let line = listing.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }) else {
            throw FixtureError("no fingerprint in \(listing)")
        }
        fingerprint = String(line.split(separator: ":", omittingEmptySubsequences: false)[9])
        keyring = directory.appendingPathComponent("\(name).gpg")
        try runGPG(["--batch", "--export", fingerprint], home: home).stdout.write(to: keyring)
    }

    /// One gpg at a time per key home: parallel tests would otherwise race on the agent.
    private static let signing = NSLock()

    func detachSign(_ file: URL, output: URL) throws {
        Self.signing.lock()
        defer { Self.signing.unlock() }
        defer { stopAgent(home: home) }
        try runGPG(
            [
                "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--detach-sign", "-o",
                output.path, file.path,
            ], home: home)
    }

    func clearsign(_ file: URL, output: URL) throws {
        Self.signing.lock()
        defer { Self.signing.unlock() }
        defer { stopAgent(home: home) }
        try runGPG(
            [
                "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--clearsign", "-o", output.path,
                file.path,
            ], home: home)
    }
}

/// Two keys shared by all tests (key generation is the slow part): `trusted` is pinned, `other` is not.
/// Both are in `combinedKeyring`, so a signature by `other` verifies cryptographically but is not pinned.
final class SharedKeys: Sendable {
    static let shared: Result<SharedKeys, FixtureError> = {
        do { return .success(try SharedKeys()) } catch { return .failure(FixtureError("\(error)")) }
    }()

    let directory: URL
    let trusted: TestSigningKey
    let other: TestSigningKey
    let combinedKeyring: URL

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "seedgen-image-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        trusted = try TestSigningKey(name: "trusted", in: directory)
        other = try TestSigningKey(name: "other", in: directory)
        combinedKeyring = directory.appendingPathComponent("combined.gpg")
        var combined = try Data(contentsOf: trusted.keyring)
        combined.append(try Data(contentsOf: other.keyring))
        try combined.write(to: combinedKeyring)
    }

    static func get() throws -> SharedKeys { try shared.get() }
}

/// A published image tree: a qcow2 with random content, its SHA256SUMS (signed), SHA512SUMS
/// (unsigned), a BSD CHECKSUM (clearsigned) served from a fresh loopback server.
final class PublishedImage: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: FaultServer
    let keys: SharedKeys
    let fileName = "disk.qcow2"
    let sha256: String
    let sha512: String
    let size: UInt64
    let virtualSize: UInt64 = 4 << 20

    init(dataMiB: Int = 3) throws {
        try requireTool("qemu-img")
        keys = try SharedKeys.get()
        directory = try TemporaryDirectory(prefix: "seedgen-image")
        let published = directory.path("www")
        try FileManager.default.createDirectory(at: published, withIntermediateDirectories: true)
        let raw = directory.path("disk.raw")
        var bytes =
            try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).read(upToCount: dataMiB << 20)
            ?? Data()
        bytes.append(Data(count: Int(virtualSize) - bytes.count))
        try bytes.write(to: raw)
        let image = published.appendingPathComponent(fileName)
        try runChecked("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw.path, image.path])
        let data = try Data(contentsOf: image)
        sha256 = Digest.sha256Hex(data)
        sha512 = Digest.sha512Hex(data)
        size = UInt64(data.count)
        try Self.write(
            published, "SHA256SUMS", "\(sha256) *\(fileName)\n\(String(repeating: "0", count: 64)) *other.img\n")
        try Self.write(published, "SHA512SUMS", "\(sha512)  \(fileName)\n")
        try Self.write(
            published, "CHECKSUM.unsigned", "# \(fileName): \(size) bytes\nSHA256 (\(fileName)) = \(sha256)\n")
        try keys.trusted.detachSign(
            published.appendingPathComponent("SHA256SUMS"), output: published.appendingPathComponent("SHA256SUMS.gpg"))
        try keys.other.detachSign(
            published.appendingPathComponent("SHA256SUMS"),
            output: published.appendingPathComponent("SHA256SUMS.other.gpg"))
        // Two signatures in one file, as OpenPGP allows: the pinned key's and one by a key that a
        // keyring of the trusted key alone does not hold.
        let bothSignatures =
            try Data(contentsOf: published.appendingPathComponent("SHA256SUMS.gpg"))
            + Data(contentsOf: published.appendingPathComponent("SHA256SUMS.other.gpg"))
        try bothSignatures.write(to: published.appendingPathComponent("SHA256SUMS.both.gpg"))
        try keys.trusted.clearsign(
            published.appendingPathComponent("CHECKSUM.unsigned"), output: published.appendingPathComponent("CHECKSUM"))
        server = try FaultServer(root: published)
    }

    var www: URL { directory.path("www") }

    func write(_ name: String, _ text: String) throws { try Self.write(www, name, text) }

    static func write(_ root: URL, _ name: String, _ text: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// A catalog entry for the image behind `fault`, trusting `trusted` only.
    func signedEntry(
        name: String = "test-signed", fault: String? = nil, signature: String = "SHA256SUMS.gpg", keyring: URL? = nil
    ) -> ImageCatalogEntry {
        ImageCatalogEntry(
            name: name, description: "test image", url: server.url(fileName, fault: fault).absoluteString,
            checksums: server.url("SHA256SUMS").absoluteString, checksumFormat: .gnu, digestAlgorithm: .sha256,
            signatureStyle: .detached,
            signature: server.url(signature).absoluteString, keyring: (keyring ?? keys.trusted.keyring).path,
            fingerprints: [keys.trusted.fingerprint])
    }

    func makeStore(
        _ entries: [ImageCatalogEntry] = [], cache: URL? = nil, offline: Bool = false, attempts: Int = 3,
        timeout: TimeInterval = 5
    ) throws -> ImageStore {
        try ImageStore(
            directory: cache ?? directory.path("cache"), catalog: ImageCatalog(entries: entries), progress: .none,
            offline: offline,
            policy: ImageFetchPolicy(attempts: attempts, stallTimeout: timeout, backoff: 0.05))
    }
}

/// Asserts the cache holds nothing corrupt: no stray blob, every indexed image verifies.
func expectCacheClean(_ store: ImageStore, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let blobs = try FileManager.default.contentsOfDirectory(
        atPath: store.directory.appendingPathComponent("sha256").path)
    let indexed = Set(try store.records().map(\.sha256))
    #expect(
        Set(blobs) == indexed, "blobs without index entries: \(Set(blobs).subtracting(indexed))",
        sourceLocation: sourceLocation)
    for finding in try store.verifyAll() {
        #expect(finding.ok, "\(finding.problems)", sourceLocation: sourceLocation)
    }
}

func expectRuntimeError(
    _ body: () async throws -> Void, containing text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
) async {
    do {
        try await body()
        Issue.record("expected an error containing \(text)", sourceLocation: sourceLocation)
    } catch let error as SeedgenError {
        #expect(error.exitCode == 1, sourceLocation: sourceLocation)
        #expect(error.description.contains(text), "\(error.description)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
