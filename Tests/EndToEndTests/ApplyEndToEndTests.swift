import Foundation
import SeedgenApply
import SeedgenCore
import SeedgenTestSupport
import Testing

/// Runs the binary on a thread of its own, so that the fake API (served from this process) keeps
/// the Swift concurrency threads it needs while the child runs.
private func seedgenOffPool(_ arguments: [String], environment: [String: String]) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try seedgen(arguments, environment: environment) })
        }
    }
}

/// Any blocking child-process run on a thread of its own (see `seedgenOffPool`).
private func offPool(_ body: @escaping @Sendable () throws -> ProcessResult) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// What `/proc` showed of a running `seedgen` and of every process below it.
private struct ProcessScan: Sendable {
    var exitCode: Int32
    var stderr: String
    /// Each distinct command line seen (NUL-separated words joined by spaces), seedgen's first.
    var commandLines: [String]
    /// Distinct processes seen (seedgen and its descendants).
    var processes: Int
    var environmentHeldSecret: Bool
    var samples: Int
}

/// Starts `executable`, and until it exits reads `/proc/PID/cmdline` and `/proc/PID/environ` of it
/// and of every descendant (`/proc/PID/task/TID/children`) every few milliseconds. Blocking: run
/// it off the Swift concurrency pool.
private func scanWhileRunning(
    _ executable: String, _ arguments: [String], environment: [String: String], secret: String
) throws -> ProcessScan {
    let scratch = try TemporaryDirectory(prefix: "seedgen-proc-scan")
    let errFile = scratch.path("stderr")
    try Data().write(to: errFile)
    let errors = try FileHandle(forWritingTo: errFile)
    defer { try? errors.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    let exit = ProcessExit(process)
    try process.run()
    let root = process.processIdentifier
    func read(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
    func descendants(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let children = tasks.flatMap { task in
            String(decoding: read("/proc/\(pid)/task/\(task)/children") ?? Data(), as: UTF8.self).split(separator: " ")
                .compactMap { Int32($0) }
        }
        return children + children.flatMap(descendants(of:))
    }
    var commandLines: [String] = []
    var seen: Set<Int32> = []
    var environmentHeldSecret = false
    var samples = 0
    while process.isRunning {
        for pid in [root] + descendants(of: root) {
            guard let words = read("/proc/\(pid)/cmdline"), !words.isEmpty else { continue }
            seen.insert(pid)
            let line = words.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            if !commandLines.contains(line) { commandLines.append(line) }
            if pid == root, let environ = read("/proc/\(pid)/environ"), environ.range(of: Data(secret.utf8)) != nil {
                environmentHeldSecret = true
            }
        }
        samples += 1
        usleep(2_000)
    }
    exit.wait()
    return ProcessScan(
        exitCode: process.terminationStatus, stderr: String(decoding: read(errFile.path) ?? Data(), as: UTF8.self),
        commandLines: commandLines, processes: seen.count, environmentHeldSecret: environmentHeldSecret,
        samples: samples)
}

/// `seedgen apply` as a pipeline runs it: the built binary, over HTTPS with a pinned fingerprint, to
/// the fake Proxmox API, with the token only in the environment.
@Suite(.serialized) struct ApplyEndToEndTests {
    static let secret = "5f0c7e2a-1b9d-4c3e-9a8f-d00dfeedbeef"
    static let tokenID = "ci@pve!deploy"

    final class Node: @unchecked Sendable {
        let certificates: TestCertificates
        let server: FakeProxmoxAPIServer
        let work: TemporaryDirectory
        init(_ setup: FakeProxmoxAPI.Setup) throws {
            certificates = try TestCertificates()
            server = try FakeProxmoxAPIServer(
                api: FakeProxmoxAPI(setup), token: "\(ApplyEndToEndTests.tokenID)=\(ApplyEndToEndTests.secret)",
                certificate: certificates.leafCertificate, key: certificates.leafKey)
            work = try TemporaryDirectory(prefix: "seedgen-apply")
        }

        func arguments(_ extra: [String] = [], fingerprint: String? = nil, progress: String = "none") -> [String] {
            [
                "apply", TestPaths.samples.appendingPathComponent("web01.yaml").path,
                "-o", work.path("out").path, "--cache", work.path("cache").path, "--progress", progress,
                "--api", server.url.absoluteString, "--fingerprint", fingerprint ?? certificates.leafFingerprint,
            ] + extra
        }

        func apply(_ extra: [String] = [], fingerprint: String? = nil, progress: String = "none") async throws
            -> ProcessResult
        {
            try await seedgenOffPool(
                arguments(extra, fingerprint: fingerprint, progress: progress),
                environment: buildEnvironment([
                    "PVE_API_TOKEN": "\(ApplyEndToEndTests.tokenID)=\(ApplyEndToEndTests.secret)"
                ]))
        }
    }

    private static func everything() -> FakeProxmoxAPI.Setup {
        var setup = FakeProxmoxAPI.Setup()
        setup.grantEverything()
        return setup
    }

    @Test func theSampleIsCreatedAndASecondRunChangesNothing() async throws {
        let node = try Node(Self.everything())
        let first = try await node.apply()
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        let api = node.server.api
        #expect(await api.isRunning(9001))
        let config = try #require(await api.vmConfig(9001))
        #expect(config["name"] == "web01.example.com")
        let firstCalls = await api.changingCalls()
        let changes = firstCalls.count
        #expect(changes >= 5, "\(firstCalls)")

        let second = try await node.apply()
        #expect(second.exitCode == 0, "\(second.stderr)")
        #expect(second.stderr.contains("unchanged"), "\(second.stderr)")
        let secondCalls = await api.changingCalls()
        #expect(secondCalls.count == changes, "a re-run changed: \(secondCalls.dropFirst(changes))")

        // The token's secret is in no output and no artifact.
        for output in [first.stdout, first.stderr, second.stdout, second.stderr] {
            #expect(!output.contains(Self.secret))
        }
        let grep = try ProcessRunner.run("grep", ["-rlaF", Self.secret, node.work.path("out").path])
        #expect(grep.exitCode == 1, "the token's secret is in \(grep.stdout)")
    }

    @Test func aWrongFingerprintIsRefusedWithBoth() async throws {
        let node = try Node(Self.everything())
        let result = try await node.apply(fingerprint: node.certificates.otherFingerprint)
        #expect(result.exitCode == 1)
        #expect(
            result.stderr.contains(node.certificates.otherFingerprint)
                && result.stderr.contains(node.certificates.leafFingerprint), "\(result.stderr)")
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func aMissingPrivilegeIsReportedBeforeAnyChangeWithTheGrants() async throws {
        var setup = Self.everything()
        setup.tokenACL["/sdn"] = []
        let node = try Node(setup)
        let result = try await node.apply()
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("SDN.Use on /sdn/zones/localnetwork/vmbr0"), "\(result.stderr)")
        #expect(result.stderr.contains("pveum acl modify /sdn/zones/localnetwork/vmbr0"), "\(result.stderr)")
        #expect(result.stderr.contains("--tokens 'ci@pve!deploy'"))
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func dryRunPrintsTheCallsAndChangesNothing() async throws {
        let node = try Node(Self.everything())
        let result = try await node.apply(["--dry-run"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("POST /nodes/pve01/qemu vmid=9001"), "\(result.stdout)")
        #expect(result.stdout.contains("POST /nodes/pve01/storage/"))
        #expect(await node.server.api.changingCalls().isEmpty)
    }

    @Test func theTokenIsNeverTakenFromTheCommandLine() async throws {
        let node = try Node(Self.everything())
        var environment = buildEnvironment()
        environment["PVE_API_TOKEN"] = nil
        let result = try await seedgenOffPool(
            [
                "apply", TestPaths.samples.appendingPathComponent("web01.yaml").path, "--api",
                node.server.url.absoluteString,
                "-o", node.work.path("out").path, "--cache", node.work.path("cache").path,
            ], environment: environment)
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("PVE_API_TOKEN"))
    }

    @Test func snippetsModeIsRefusedAtValidationNamingIsoMode() async throws {
        let node = try Node(Self.everything())
        let file = try node.work.write(
            "snip.yaml",
            """
            name: snip01
            vmid: 9100
            node: pve01
            image: {path: \(TestPaths.samples.appendingPathComponent("images/demo.qcow2").path)}
            cloud_init:
              mode: snippets

            """)
        let result = try await seedgenOffPool(
            [
                "apply", file.path, "--api", node.server.url.absoluteString, "--fingerprint",
                node.certificates.leafFingerprint,
                "-o", node.work.path("out").path, "--cache", node.work.path("cache").path,
            ],
            environment: buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"]))
        #expect(result.exitCode == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "snip.yaml:6:9: error: cloud_init.mode: snippets mode cannot be applied over the API"),
            "\(result.stderr)")
        #expect(result.stderr.contains("cloud_init.mode: iso"))
        #expect(await node.server.api.changingCalls().isEmpty)
        #expect(
            !FileManager.default.fileExists(atPath: node.work.path("out/snip01").path),
            "nothing is written for invalid input")
    }

    /// A vm.yaml that names no node, no --node, and a cluster of two: a positioned validation error
    /// (exit 2, at the top-level mapping where `node:` would go), naming both nodes; nothing built or
    /// changed. With --node the same file is applied.
    @Test func noNodeOnAMultiNodeClusterIsAPositionedError() async throws {
        var setup = Self.everything()
        setup.nodes = ["pve01", "pve02"]
        let node = try Node(setup)
        let workspace = try TemporaryDirectory(prefix: "seedgen-apply-node")
        try FileManager.default.copyItem(at: TestPaths.samples, to: workspace.path("samples"))
        let file = workspace.path("samples/web01.yaml")
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: "node: pve01\n", with: "")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let arguments = [
            "apply", file.path, "-o", node.work.path("out").path, "--cache", node.work.path("cache").path,
            "--progress", "none", "--api", node.server.url.absoluteString, "--fingerprint",
            node.certificates.leafFingerprint,
        ]
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let result = try await seedgenOffPool(arguments, environment: environment)
        #expect(result.exitCode == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "\(file.path):2:1: error: node: no node is named, and the cluster has 2 nodes (pve01, pve02)"),
            "\(result.stderr)")
        #expect(result.stderr.contains("or pass --node NAME"), "\(result.stderr)")
        #expect(await node.server.api.changingCalls().isEmpty)
        #expect(
            !FileManager.default.fileExists(atPath: node.work.path("out/web01.example.com").path),
            "nothing is built for invalid input")

        let placed = try await seedgenOffPool(arguments + ["--node", "pve02"], environment: environment)
        #expect(placed.exitCode == 0, "\(placed.stderr)")
        #expect(await node.server.api.isRunning(9001))
    }

    /// A pipeline's second stage: the artifact directory was built elsewhere without the image, and
    /// this machine's cache does not have it. Without --node-downloads apply says which commands
    /// provide it; with it the node fetches the image from its URL (loopback here) with the pinned
    /// sha256, and nothing but the seed is uploaded. --print-grants lists Sys.AccessNetwork.
    @Test func nodeDownloadsFetchTheImageOnTheNodeWhenNothingHereHasIt() async throws {
        let node = try Node(Self.everything())
        let images = try LoopbackImages()
        let workspace = try SampleWorkspace(images: images)
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let built = try await seedgenOffPool(
            [
                "build", workspace.path("dhcp-minimal.yaml"), "-o", node.work.path("out").path, "--cache",
                node.work.path("build-cache").path,
                "--catalog", images.catalog.path, "--progress", "none",
            ], environment: environment)
        try #require(built.exitCode == 0, "\(built.stderr)")
        try FileManager.default.removeItem(at: node.work.path("build-cache"))
        let directory = node.work.path("out/minimal").path
        let common = [
            directory, "--cache", node.work.path("cache").path, "--progress", "none", "--node", "pve01",
            "--api", node.server.url.absoluteString, "--fingerprint", node.certificates.leafFingerprint,
        ]

        let nowhere = try await seedgenOffPool(["apply"] + common, environment: environment)
        #expect(nowhere.exitCode == 1, "\(nowhere.stderr)")
        #expect(
            nowhere.stderr.contains("seedgen build --include-image") && nowhere.stderr.contains("seedgen image fetch"),
            "\(nowhere.stderr)")
        #expect(nowhere.stderr.contains("seedgen apply --node-downloads"), "\(nowhere.stderr)")
        #expect(await node.server.api.vmConfig(9100) == nil)

        let grants = try await seedgenOffPool(
            ["apply", "--print-grants", "--node-downloads"] + common, environment: environment)
        #expect(grants.exitCode == 0, "\(grants.stderr)")
        #expect(grants.stdout.contains("pveum acl modify /nodes/pve01 --roles Seedgen-"), "\(grants.stdout)")
        #expect(grants.stdout.contains("Sys.AccessNetwork"), "\(grants.stdout)")

        let applied = try await seedgenOffPool(
            ["apply", "--node-downloads", "--json"] + common, environment: environment)
        #expect(applied.exitCode == 0, "\(applied.stderr)")
        #expect(await node.server.api.fetchedURLs == [images.server.url(images.imageName).absoluteString])
        #expect(await node.server.api.isRunning(9100))
        let received = await node.server.api.changingCalls()
        #expect(received.filter { $0.hasSuffix("/upload") }.count == 1, "only the seed is uploaded: \(received)")
        #expect(received.contains("POST /nodes/pve01/storage/local/download-url"), "\(received)")
        let volumes = await node.server.api.volumes(on: "local")
        #expect(volumes.values.contains { $0.sha256 == images.imageSHA256 }, "\(volumes.keys)")
    }

    /// Uploads report progress: `--progress plain` a line per tenth and a last line per file;
    /// under a terminal (a pty from `script`) `auto` redraws a bar; `none` prints neither.
    @Test func uploadsShowTheirProgressAsLinesOrAsABarOnATerminal() async throws {
        let plainNode = try Node(Self.everything())
        let plain = try await plainNode.apply(progress: "plain")
        #expect(plain.exitCode == 0, "\(plain.stderr)")
        let image = try #require(
            plain.stderr.split(separator: "\n").first {
                $0.hasPrefix("upload ") && $0.contains(".qcow2: ") && $0.contains("(100%)")
            }, "\(plain.stderr)")
        #expect(image.contains(" / "), "\(image)")
        #expect(plain.stderr.contains(".iso: ") && plain.stderr.contains("sent (HTTP 200)"), "\(plain.stderr)")
        #expect(!plain.stderr.contains("\u{1B}[K"), "no terminal control in plain mode")

        try requireTool("script")
        let barNode = try Node(Self.everything())
        let command = ([TestPaths.seedgenBinary.path] + barNode.arguments(progress: "auto")).map(ShellQuoting.quote)
            .joined(separator: " ")
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let terminal = try await offPool {
            try ProcessRunner.run("script", ["-q", "-e", "-c", command, "/dev/null"], environment: environment)
        }
        #expect(terminal.exitCode == 0, "\(terminal.stdout)")
        #expect(
            terminal.stdout.contains("\r\u{1B}[Kupload ")
                && terminal.stdout.contains(".qcow2 [########################] 100%"), "\(terminal.stdout)")
        #expect(!terminal.stdout.contains(Self.secret))

        let quietNode = try Node(Self.everything())
        let quiet = try await quietNode.apply(progress: "none")
        #expect(quiet.exitCode == 0 && !quiet.stderr.contains("upload "), "\(quiet.stderr)")
    }

    /// The token is in seedgen's environment (where it was given) and in no command line: not
    /// seedgen's, not any child's. The node answers task polls slowly so the run lasts long enough
    /// to be watched; the environment check shows the scan looked at the right process.
    @Test func theTokenIsInNoCommandLineWhileApplyRuns() async throws {
        let node = try Node(Self.everything())
        node.server.slowAnswers.set("/status", milliseconds: 150)
        let arguments = node.arguments(["--no-start"])
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        if let problem = TestPaths.seedgenBinaryProblem() { throw TestFixtureError(problem) }
        let binary = TestPaths.seedgenBinary.path
        let scan = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<ProcessScan, any Error>) in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        try scanWhileRunning(binary, arguments, environment: environment, secret: Self.secret)
                    })
            }
        }
        #expect(scan.exitCode == 0, "\(scan.stderr)")
        #expect(scan.samples >= 20, "the run was too short to watch: \(scan.samples) samples")
        #expect(scan.environmentHeldSecret, "the scan never saw seedgen's environment")
        #expect(scan.commandLines.first?.contains(" apply ") == true, "\(scan.commandLines)")
        for line in scan.commandLines {
            #expect(!line.contains(Self.secret), "the token's secret is in a command line: \(line)")
        }
        #expect(await node.server.api.vmConfig(9001) != nil)
    }

    /// The HTTPS fake checks every request on the wire against Proxmox's published schema, as
    /// pve-http-server does before a handler runs: an unknown parameter, a missing one, a value of
    /// the wrong type or outside its enum, a property string with an unknown key, each get 400 with
    /// `errors` per parameter and change nothing. (Every other test here shows seedgen's own requests pass.)
    @Test func theFakeNodeRefusesRequestsTheSchemaDoesNotAllow() async throws {
        try requireTool("curl")
        let node = try Node(Self.everything())
        let headers = try node.work.write("headers", "Authorization: PVEAPIToken=\(Self.tokenID)=\(Self.secret)\n")
        let seed = try node.work.write("seed.iso", "not really an iso")
        let base = node.server.url.absoluteString + "/api2/json"
        func request(_ arguments: [String]) async throws -> (status: Int, errors: [String: String]) {
            let body = node.work.path("body-\(UUID().uuidString)")
            let curl =
                [
                    "-sS", "--cacert", node.certificates.caCertificate.path, "-H", "@\(headers.path)", "-o", body.path,
                    "-w", "%{http_code}",
                ] + arguments
            let result = try await offPool { try ProcessRunner.run("curl", curl) }
            let object = (try? JSONSerialization.jsonObject(with: Data(contentsOf: body))) as? [String: Any]
            return (Int(result.stdout) ?? 0, (object?["errors"] as? [String: String]) ?? [:])
        }
        let unknownKey = try await request([
            "--data-urlencode", "vmid=9001", "--data-urlencode",
            "net0=virtio=BC:24:11:12:34:56,bridge=vmbr0,frobnicate=1", "\(base)/nodes/pve01/qemu",
        ])
        #expect(unknownKey.status == 400 && unknownKey.errors["net0"]?.contains("frobnicate") == true, "\(unknownKey)")
        let unknown = try await request([
            "--data-urlencode", "vmid=9001", "--data-urlencode", "bogus=1", "\(base)/nodes/pve01/qemu",
        ])
        #expect(
            unknown.status == 400 && unknown.errors["bogus"]?.contains("not defined in schema") == true, "\(unknown)")
        let missing = try await request([
            "--data-urlencode", "content=import", "--data-urlencode", "filename=x.qcow2",
            "\(base)/nodes/pve01/storage/local/download-url",
        ])
        #expect(missing.status == 400 && missing.errors["url"]?.contains("property is missing") == true, "\(missing)")
        let wrongType = try await request(["\(base)/cluster/nextid?vmid=abc"])
        #expect(
            wrongType.status == 400 && wrongType.errors["vmid"]?.contains("type check ('integer') failed") == true,
            "\(wrongType)")
        let badMAC = try await request([
            "--data-urlencode", "vmid=9001", "--data-urlencode", "net0=virtio=BD:24:11:12:34:56,bridge=vmbr0",
            "\(base)/nodes/pve01/qemu",
        ])
        #expect(
            badMAC.status == 400 && badMAC.errors["net0"]?.contains("unicast MAC") == true, "a multicast MAC: \(badMAC)"
        )
        let badEnum = try await request([
            "-F", "content=snippets", "-F", "filename=@\(seed.path);filename=seed.iso;type=application/octet-stream",
            "\(base)/nodes/pve01/storage/local/upload",
        ])
        #expect(badEnum.status == 400 && badEnum.errors["content"]?.contains("enumeration") == true, "\(badEnum)")
        let fine = try await request(["\(base)/cluster/nextid?vmid=9001"])
        #expect(fine.status == 200, "\(fine)")
        #expect(await node.server.api.changingCalls().isEmpty)
        #expect(await node.server.api.vmConfig(9001) == nil)
    }

    /// The same pipeline stage after `seedgen image fetch` on this machine: the image is uploaded
    /// from this machine's cache (found by its sha256, not the build machine's path).
    @Test func anImageFetchedIntoThisMachinesCacheIsUploadedFromThere() async throws {
        let node = try Node(Self.everything())
        let images = try LoopbackImages()
        let workspace = try SampleWorkspace(images: images)
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let built = try await seedgenOffPool(
            [
                "build", workspace.path("dhcp-minimal.yaml"), "-o", node.work.path("out").path, "--cache",
                node.work.path("build-cache").path,
                "--catalog", images.catalog.path, "--progress", "none",
            ], environment: environment)
        try #require(built.exitCode == 0, "\(built.stderr)")
        try FileManager.default.removeItem(at: node.work.path("build-cache"))
        let fetched = try await seedgenOffPool(
            [
                "image", "fetch", "debian-12", "--cache", node.work.path("cache").path, "--catalog",
                images.catalog.path, "--progress", "none",
            ],
            environment: environment)
        try #require(fetched.exitCode == 0, "\(fetched.stderr)")
        let applied = try await seedgenOffPool(
            [
                "apply", node.work.path("out/minimal").path, "--cache", node.work.path("cache").path, "--progress",
                "none", "--node", "pve01",
                "--api", node.server.url.absoluteString, "--fingerprint", node.certificates.leafFingerprint,
            ], environment: environment)
        #expect(applied.exitCode == 0, "\(applied.stderr)")
        #expect(
            await node.server.api.changingCalls().filter { $0.hasSuffix("/upload") }.count == 2,
            "the image and the seed")
        #expect(await node.server.api.fetchedURLs.isEmpty)
        #expect(await node.server.api.volumes(on: "local").values.contains { $0.sha256 == images.imageSHA256 })
    }

    /// Every sample, as one fleet: built, preflighted together, created on two nodes; a second run
    /// changes nothing.
    @Test func everySampleIsAppliedAndTheFleetReRunsUnchanged() async throws {
        var setup = Self.everything()
        setup.nodes = ["pve01", "pve02"]
        setup.storages["local-zfs"] = FakeProxmoxAPI.Storage(type: "zfspool", content: ["images", "rootdir"])
        let node = try Node(setup)
        let images = try LoopbackImages()
        let workspace = try SampleWorkspace(images: images)
        let arguments =
            [
                "apply", "--json", "--progress", "none", "-o", node.work.path("fleet").path, "--cache",
                node.work.path("cache").path,
                "--catalog", images.catalog.path, "--api", node.server.url.absoluteString,
                "--fingerprint", node.certificates.leafFingerprint, "--node", "pve01", "-j", "3",
            ]
            + SampleWorkspace.sampleFiles.map(workspace.path)
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let first = try await seedgenOffPool(arguments, environment: environment)
        #expect(first.exitCode == 0, "\(first.stderr)")
        let report = try JSONDecoder().decode(ApplyReport.self, from: first.stdoutData)
        #expect(report.vms.count == SampleWorkspace.sampleFiles.count)
        for vm in report.vms {
            #expect(vm.status == "created", "\(vm.name): \(vm.error ?? "")")
            #expect(await node.server.api.isRunning(vm.vmid), "\(vm.name)")
            #expect(!vm.tasks.isEmpty)
        }
        let second = try await seedgenOffPool(arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let again = try JSONDecoder().decode(ApplyReport.self, from: second.stdoutData)
        #expect(
            again.vms.allSatisfy { $0.status == "unchanged" },
            "\(again.vms.map { "\($0.name): \($0.status) \($0.drift)" })")
    }

    /// A changed vm.yaml (one more package: a new seed) is applied as a seed swap: the new ISO is
    /// uploaded and attached, the old one removed, nothing else touched.
    @Test func aChangedSeedIsSwappedThroughTheBinary() async throws {
        let node = try Node(Self.everything())
        let workspace = try TemporaryDirectory(prefix: "seedgen-apply-seed")
        try FileManager.default.copyItem(at: TestPaths.samples, to: workspace.path("samples"))
        let file = workspace.path("samples/web01.yaml")
        let arguments = [
            "apply", file.path, "-o", node.work.path("out").path, "--cache", node.work.path("cache").path,
            "--api", node.server.url.absoluteString, "--fingerprint", node.certificates.leafFingerprint, "--json",
        ]
        let environment = buildEnvironment(["PVE_API_TOKEN": "\(Self.tokenID)=\(Self.secret)"])
        let first = try await seedgenOffPool(arguments, environment: environment)
        try #require(first.exitCode == 0, "\(first.stderr)")
        let oldSeed = try #require(await node.server.api.vmConfig(9001)?["sata0"])
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(
            of: "packages: [qemu-guest-agent]", with: "packages: [qemu-guest-agent, htop]")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let second = try await seedgenOffPool(arguments, environment: environment)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let report = try JSONDecoder().decode(ApplyReport.self, from: second.stdoutData)
        #expect(report.vms.first?.status == "seed-swapped")
        let newSeed = try #require(await node.server.api.vmConfig(9001)?["sata0"])
        #expect(newSeed != oldSeed && newSeed.hasSuffix(",media=cdrom"))
        let isoVolumes = await node.server.api.volumes(on: "local").keys
        #expect(isoVolumes.contains(String(newSeed.prefix { $0 != "," })))
        #expect(!isoVolumes.contains(String(oldSeed.prefix { $0 != "," })), "the old seed was not removed")
    }

    /// A task that fails (the start, here) ends the run with exit 1, its exit status, the task id
    /// and the log's last lines; the next run completes it.
    @Test func aFailedTaskEndsWithExit1AndTheNextRunCompletes() async throws {
        var setup = Self.everything()
        setup.failingTasks = ["qmstart": "start failed: QEMU exited with code 1"]
        let node = try Node(setup)
        let failed = try await node.apply()
        #expect(failed.exitCode == 1, "\(failed.stderr)")
        #expect(
            failed.stderr.contains("start failed: QEMU exited with code 1") && failed.stderr.contains("UPID:"),
            "\(failed.stderr)")
        #expect(failed.stderr.contains("Could not open"), "the task log's last lines: \(failed.stderr)")
        let created = await node.server.api.vmConfig(9001) != nil
        let running = await node.server.api.isRunning(9001)
        #expect(created && !running)

        await node.server.api.setFailingTasks([:])
        let again = try await node.apply(["--json"])
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(try JSONDecoder().decode(ApplyReport.self, from: again.stdoutData).vms.first?.status == "started")
        #expect(await node.server.api.isRunning(9001))
    }

    /// The connection breaks in the middle of the image upload: exit 1 with a clear message,
    /// nothing created; the next run completes.
    @Test func aConnectionCutMidUploadEndsWithExit1AndTheNextRunCompletes() async throws {
        let node = try Node(Self.everything())
        node.server.cutNextUpload.arm(afterBytes: 2048)
        let cut = try await node.apply()
        #expect(cut.exitCode == 1, "\(cut.stderr)")
        #expect(
            cut.stderr.contains("VM 9001: POST /nodes/pve01/storage/local/upload (place-image) failed"), "\(cut.stderr)"
        )
        #expect(cut.stderr.contains("run seedgen apply again"), "\(cut.stderr)")
        #expect(await node.server.api.vmConfig(9001) == nil)
        let again = try await node.apply()
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(await node.server.api.isRunning(9001))
    }
}
