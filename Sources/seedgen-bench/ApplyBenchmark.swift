import ArgumentParser
import Foundation
import SeedgenApply
import SeedgenCore
import SeedgenHTTP
import SeedgenImage
import SeedgenTestSupport

/// Upload throughput of `apply`'s multipart upload (ProxmoxHTTPClient on HTTPTransport, the
/// multipart head, the file in 1 MiB pieces, the tail, `Content-Length` known) against `curl -F`
/// with the same fields, to one loopback HTTPS server in the same run (target ≥ 0.9×), and the CPU
/// each spends per GiB.
struct UploadBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload", abstract: "apply's image upload vs curl -F to one loopback HTTPS server.")

    @Option(help: "Test file size in MiB.") var sizeMib: Int = 1024
    @Option(help: "Runs per tool; the fastest counts.") var iterations: Int = 3
    @Option(help: "Directory for the test file (default: the system temp directory).") var directory: String?

    func run() async throws {
        let folder = URL(fileURLWithPath: directory ?? NSTemporaryDirectory()).appendingPathComponent(
            "seedgen-bench-upload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("image.qcow2")
        try BenchClock.runExternal(
            "dd", ["if=/dev/urandom", "of=\(source.path)", "bs=1M", "count=\(sizeMib)", "status=none"])
        let certificates = try TestCertificates()
        let server = try UploadSinkServer(certificate: certificates.leafCertificate, key: certificates.leafKey)
        let base = "https://127.0.0.1:\(server.port)"
        // Not a secret: the sink checks nothing. Passed to curl in a header file all the same.
        let token = try ProxmoxAPIToken(
            parsing: "bench@pve!bench=00000000-0000-0000-0000-000000000000", source: "the benchmark")
        let headers = folder.appendingPathComponent("headers")
        try Data("Authorization: \(token.authorization)\nExpect:\n".utf8).write(to: headers)
        let checksum = String(repeating: "ab", count: 32)
        let size = UInt64(sizeMib) << 20
        let call = ProxmoxAPICall(
            .post, "/nodes/{node}/storage/{storage}/upload", ["node": "bench", "storage": "local"],
            parameters: [
                .init("content", "import"), .init("checksum-algorithm", "sha256"), .init("checksum", checksum),
            ],
            upload: .init(role: .image, source: source.path, storedName: "image.qcow2", sha256: checksum, size: size),
            startsTask: true, stepID: "bench")

        func client(pinned: Bool) throws -> ProxmoxHTTPClient {
            let options =
                pinned
                ? HTTPTransportOptions(caFile: nil, pinnedFingerprint: certificates.leafFingerprint)
                : HTTPTransportOptions(caFile: certificates.caCertificate.path, pinnedFingerprint: nil)
            return try ProxmoxHTTPClient(
                api: URL(string: base)!, token: token, transport: try HTTPTransport(options: options))
        }
        let pinnedClient = try client(pinned: true)
        let caClient = try client(pinned: false)
        var pinned: [Double] = [], viaCA: [Double] = [], peer: [Double] = []
        var pinnedCPU: [Double] = [], peerCPU: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<iterations {
            for (client, pinnedRun) in [(pinnedClient, true), (caClient, false)] {
                let cpuBefore = Self.cpuSeconds(Int32(RUSAGE_SELF.rawValue))
                let before = server.receivedBytes
                let start = clock.now
                let response = try await client.send(call, artifactDirectory: folder)
                let seconds = BenchClock.seconds(clock.now - start)
                guard response.status == 200, server.receivedBytes - before >= size else {
                    throw BenchFailure(
                        "seedgen's upload: HTTP \(response.status), \(server.receivedBytes - before) bytes arrived")
                }
                if pinnedRun {
                    pinned.append(seconds)
                    pinnedCPU.append(Self.cpuSeconds(Int32(RUSAGE_SELF.rawValue)) - cpuBefore)
                } else {
                    viaCA.append(seconds)
                }
            }
            let before = server.receivedBytes
            let childrenBefore = Self.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue))
            peer.append(
                try BenchClock.measure(iterations: 1) {
                    try BenchClock.runExternal(
                        "curl",
                        [
                            "-sS", "-f", "--noproxy", "127.0.0.1", "--cacert", certificates.caCertificate.path, "-H",
                            "@\(headers.path)",
                            "-F", "content=import", "-F", "checksum-algorithm=sha256", "-F", "checksum=\(checksum)",
                            "-F", "filename=@\(source.path);filename=image.qcow2;type=application/octet-stream",
                            "-o", "/dev/null", "\(base)/api2/json/nodes/bench/storage/local/upload",
                        ])
                }[0])
            peerCPU.append(Self.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue)) - childrenBefore)
            guard server.receivedBytes - before >= size else {
                throw BenchFailure("curl's upload did not arrive whole")
            }
        }
        let bytes = Double(size)
        func rate(_ seconds: Double) -> String { String(format: "%.0f MiB/s", bytes / seconds / 1_048_576) }
        func runs(_ samples: [Double]) -> String { samples.map { String(format: "%.2f", $0) }.joined(separator: " ") }
        print("upload benchmark: \(sizeMib) MiB multipart over loopback HTTPS, best of \(iterations)")
        print("runs (s): seedgen pinned \(runs(pinned)), seedgen --ca-file \(runs(viaCA)), curl -F \(runs(peer))")
        let gib = bytes / 1_073_741_824
        let cpu = BenchClock.median(pinnedCPU) / gib, cpuPeer = BenchClock.median(peerCPU) / gib
        BenchRow.printTable([
            BenchRow(
                measurement: "upload (--fingerprint) vs curl -F", seedgen: rate(pinned.min()!), peer: rate(peer.min()!),
                ratio: peer.min()! / pinned.min()!, target: ">= 0.9x"),
            BenchRow(
                measurement: "upload (--ca-file) vs curl -F", seedgen: rate(viaCA.min()!), peer: rate(peer.min()!),
                ratio: peer.min()! / viaCA.min()!, target: ">= 0.9x"),
            BenchRow(
                measurement: "client CPU per GiB (median; seedgen's includes the server's thread)",
                seedgen: String(format: "%.2f s", cpu),
                peer: String(format: "%.2f s", cpuPeer), ratio: cpuPeer / cpu, target: "reported"),
        ])
    }

    static func cpuSeconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(who, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// `seedgen apply` of a 100-VM fleet (artifact directories built first) against the fake Proxmox
/// API over loopback HTTPS, with the image already in the node's import storage: the client's CPU
/// per VM (user + system of the seedgen process), a first run that creates every VM and a second
/// that finds nothing to do.
struct ApplyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Client CPU per VM of seedgen apply, 100 VMs, image already on the node (fake API).")

    @Option(help: "VMs in the fleet.") var vms: Int = 100
    @Option(name: .shortAndLong, help: "seedgen apply -j.") var jobs: Int = 4
    @Option(help: "The seedgen binary.") var seedgen: String = ".build-release/release/seedgen"
    @Option(help: "The demo image (a small qcow2).") var image: String = "samples/images/demo.qcow2"
    @Option(help: "Directory for the fleet (default: the system temp directory).") var directory: String?

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: seedgen) else {
            throw BenchFailure("\(seedgen) not found: build it or pass --seedgen")
        }
        let folder = URL(fileURLWithPath: directory ?? NSTemporaryDirectory()).appendingPathComponent(
            "seedgen-bench-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let imagePath = URL(fileURLWithPath: image).standardizedFileURL.path
        let digest = try ImageFileHasher.digests(of: URL(fileURLWithPath: imagePath), includeSHA512: false).sha256
        var files: [String] = []
        for index in 0..<vms {
            let file = folder.appendingPathComponent("vm\(index).yaml")
            try Data(
                """
                name: bench\(index)
                vmid: \(20000 + index)
                node: pve01
                image: {path: \(imagePath), sha256: \(digest)}
                cloud_init:
                  packages: [qemu-guest-agent]

                """.utf8
            ).write(to: file)
            files.append(file.path)
        }
        let out = folder.appendingPathComponent("out")
        try BenchClock.runExternal(
            seedgen,
            ["build", "-o", out.path, "--progress", "none", "--cache", folder.appendingPathComponent("cache").path]
                + files)
        let directories = (0..<vms).map { out.appendingPathComponent("bench\($0)").path }

        let plan = try AppliedArtifacts(directory: URL(fileURLWithPath: directories[0])).plan
        guard let imageFile = plan.file(role: .image), let volume = imageFile.volume else {
            throw BenchFailure("the plan has no image")
        }
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        setup.storages["local"]?.volumes[volume] = (imageFile.sha256, imageFile.size)
        let certificates = try TestCertificates()
        let secret = "ci@pve!bench=\(UUID().uuidString.lowercased())"
        var processEnvironment = ProcessInfo.processInfo.environment
        processEnvironment["PVE_API_TOKEN"] = secret
        let environment = processEnvironment
        // Per way of trusting the node, a fresh node: a first run creates every VM, a re-run finds
        // nothing to do. `--fingerprint` makes a new TLS connection per request (HTTPTransport's
        // pinned mode), `--ca-file` pools keep-alive connections. This node keeps the connection
        // open after an upload, unlike pve-http-server: when it closes it, some seed uploads fail
        // with "I/O on closed channel" although the node answered 200 (the client's last write
        // races the close; see the README's benchmarks).
        let trusts: [(name: String, arguments: [String], labels: [String])] = [
            (
                "--fingerprint", ["--fingerprint", certificates.leafFingerprint],
                ["first run (creates \(vms) VMs)", "re-run (nothing to do)"]
            ),
            (
                "--ca-file", ["--ca-file", certificates.caCertificate.path],
                ["first run (creates \(vms) VMs)", "re-run (nothing to do)"]
            ),
        ]
        var rows: [BenchRow] = []
        for trust in trusts {
            let server = try FakeProxmoxAPIServer(
                api: FakeProxmoxAPI(setup), token: secret, certificate: certificates.leafCertificate,
                key: certificates.leafKey,
                closesAfterUpload: false)
            let arguments =
                ["apply", "--api", server.url.absoluteString, "-j", String(jobs), "--progress", "none", "--json"]
                + trust.arguments + directories
            for label in trust.labels {
                let childrenBefore = UploadBenchmark.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue))
                let log = folder.appendingPathComponent("apply-\(rows.count).log")
                let seconds = try await Self.offPool {
                    try BenchClock.measure(iterations: 1) {
                        try Self.run(seedgen, arguments, environment: environment, log: log)
                    }[0]
                }
                let cpu = UploadBenchmark.cpuSeconds(Int32(RUSAGE_CHILDREN.rawValue)) - childrenBefore
                rows.append(
                    BenchRow(
                        measurement: "apply \(trust.name), \(label), -j \(jobs)",
                        seedgen: String(
                            format: "%.1f ms CPU/VM (%.2f s CPU, %.2f s wall)", cpu * 1000 / Double(vms), cpu, seconds),
                        peer: "", ratio: .nan, target: "reported"))
            }
            let created = await server.api.changingCalls().filter { $0 == "POST /nodes/pve01/qemu" }.count
            let uploads = await server.api.changingCalls().filter { $0.hasSuffix("/upload") }.count
            guard created == vms, uploads == vms else {
                throw BenchFailure(
                    "expected \(vms) VMs created and \(vms) seed uploads (the image was there), got \(created) and "
                        + "\(uploads)"
                )
            }
        }
        print(
            "apply benchmark: \(vms) VMs from artifact directories, fake Proxmox API over loopback HTTPS, image "
                + "already in import storage"
        )
        BenchRow.printTable(rows)
    }

    /// Runs `executable`, its stdout and stderr into `log`; a failure shows the log's end.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], log: URL) throws {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        let exit = ProcessExit(process)
        try process.run()
        exit.wait()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw BenchFailure("seedgen apply exited \(process.terminationStatus): \(text.suffix(2000))")
        }
    }

    /// A blocking child-process wait on a thread of its own: the fake API answers on threads of
    /// its own too, and Swift's cooperative pool stays free.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
