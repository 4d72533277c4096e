import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

/// One `seedgen build --json` of every sample, shared by the per-sample checks below.
final class SampleBuild: @unchecked Sendable {
    let images: LoopbackImages
    let workspace: SampleWorkspace
    let output: URL
    let cache: URL
    let result: ProcessResult
    let report: BuildJSON

    private init() throws {
        images = try LoopbackImages()
        workspace = try SampleWorkspace(images: images)
        output = workspace.directory.path("out")
        cache = workspace.directory.path("cache")
        result = try seedgen(
            [
                "build", "--json", "--progress", "none", "-o", output.path, "--cache", cache.path, "--catalog",
                images.catalog.path,
            ]
                + SampleWorkspace.sampleFiles.map(workspace.path))
        report = try BuildJSON.decode(result)
    }

    private static let shared: Result<SampleBuild, any Error> = Result { try SampleBuild() }
    static func get() throws -> SampleBuild { try shared.get() }

    func outcome(_ sample: String) throws -> BuildJSON.VM {
        let file = workspace.path(sample)
        guard
            let vm = report.vms.first(where: {
                $0.file == file || URL(fileURLWithPath: $0.file).standardized.path == file
            })
        else {
            throw TestFixtureError("no outcome for \(sample) in \(report.vms.map(\.file))")
        }
        return vm
    }
}

/// Reads an extracted seed the way cloud-init's NoCloud datasource does (pathprefix2dict, its YAML
/// loader, UserDataProcessor for multipart) and prints what a guest would get, as JSON.
private let noCloudReader = """
    import json, sys
    from cloudinit import helpers, user_data, util
    seed = util.pathprefix2dict(sys.argv[1], required=["user-data", "meta-data"], optional=["vendor-data", "network-config"])
    meta = util.load_yaml(seed["meta-data"])
    message = user_data.UserDataProcessor(helpers.Paths({})).process(seed["user-data"])
    configs = [part.get_payload(decode=True).decode("utf-8") for part in message.walk()
               if part.get_content_type() == "text/cloud-config"]
    network = util.load_yaml(seed.get("network-config", b"")) or {}
    macs = []
    if network.get("version") == 2:
        for name in sorted(network.get("ethernets", {})):
            macs.append(network["ethernets"][name].get("match", {}).get("macaddress"))
    else:
        macs = [entry.get("mac_address") for entry in network.get("config", []) if entry.get("type") == "physical"]
    print(json.dumps({"meta": meta, "configs": configs, "macs": macs, "vendor": "vendor-data" in seed}))
    """

private struct NoCloudView: Decodable {
    var meta: [String: String]
    var configs: [String]
    var macs: [String?]
    var vendor: Bool
}

@Suite struct SampleBuildTests {
    @Test func everySampleBuilds() throws {
        let build = try SampleBuild.get()
        #expect(build.result.exitCode == 0, "\(build.result.stderr)")
        #expect(build.report.vms.count == SampleWorkspace.sampleFiles.count)
        #expect(build.report.failed == 0)
        #expect(build.report.built == SampleWorkspace.sampleFiles.count)
        for vm in build.report.vms {
            #expect(vm.status == "built", "\(vm.name): \(vm.error ?? "")")
        }
        // Nothing but the VM directories: no temporary or set-aside directories left behind.
        let entries = try FileManager.default.contentsOfDirectory(atPath: build.output.path).sorted()
        #expect(entries == build.report.vms.map(\.name).sorted())
    }

    /// The sample password (samples/secrets/ops.pass) appears nowhere: not in any artifact, not
    /// on stdout or stderr.
    @Test func noPlaintextSecretAnywhere() throws {
        let build = try SampleBuild.get()
        let password = try String(
            contentsOf: TestPaths.samples.appendingPathComponent("secrets/ops.pass"), encoding: .utf8
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!password.isEmpty)
        let web = try build.outcome("web01.yaml")
        #expect(
            try String(
                contentsOf: URL(fileURLWithPath: try #require(web.directory)).appendingPathComponent("user-data"),
                encoding: .utf8
            )
            .contains("$6$"), "web01's password should be there as a SHA-512 crypt hash")
        let grep = try ProcessRunner.run("grep", ["-rlaF", password, build.output.path])
        #expect(grep.exitCode == 1, "plaintext password found in: \(grep.stdout)\(grep.stderr)")
        #expect(!build.result.stdout.contains(password) && !build.result.stderr.contains(password))
    }

    /// `--json` prints exactly one JSON object on stdout.
    @Test func jsonIsOneObject() throws {
        let build = try SampleBuild.get()
        let object = try JSONSerialization.jsonObject(with: build.result.stdoutData)
        #expect(object is [String: Any])
        #expect(build.report.outputDirectory == build.output.path)
    }

    @Test(arguments: SampleWorkspace.sampleFiles)
    func sampleArtifactsPassTheRealConsumers(sample: String) throws {
        let build = try SampleBuild.get()
        let vm = try build.outcome(sample)
        try #require(vm.status == "built", "\(sample): \(vm.error ?? "")")
        let directory = try #require(vm.directory.map { URL(fileURLWithPath: $0) })

        // --json names exactly the files on disk, with their real digests.
        let onDisk = try regularFiles(directory)
        #expect(
            Set(onDisk) == Set(vm.files.keys).union(["SHA256SUMS"]), "\(sample): \(onDisk) vs \(vm.files.keys.sorted())"
        )
        for (name, digest) in vm.files {
            #expect(
                Digest.sha256Hex(try Data(contentsOf: directory.appendingPathComponent(name))) == digest,
                "\(sample): \(name)")
        }
        #expect(try checksumList(directory) == vm.files, "\(sample): SHA256SUMS and --json disagree")

        // SHA256SUMS verifies with coreutils.
        try requireTool("sha256sum")
        let sums = try ProcessRunner.run("sha256sum", ["--strict", "-c", "SHA256SUMS"], currentDirectory: directory)
        #expect(sums.exitCode == 0, "\(sample): sha256sum -c: \(sums.stdout)\(sums.stderr)")

        let iso = try #require(vm.seedISO.map { directory.appendingPathComponent($0) }, "\(sample): no seed ISO")
        let seedNames =
            ["user-data", "meta-data", "network-config"] + (onDisk.contains("vendor-data") ? ["vendor-data"] : [])
        let extracted = try checkISOReaders(iso, names: seedNames, sample: sample)
        for name in seedNames {
            #expect(
                try Data(contentsOf: extracted.path("seed/\(name)"))
                    == Data(contentsOf: directory.appendingPathComponent(name)),
                "\(sample): \(name) in the ISO differs from the file beside it")
        }
        let view = try checkCloudInit(extracted.path("seed"), sample: sample)
        try checkDeploy(directory, sample: sample, vm: vm, seedMACs: view.macs)
    }

    /// isoinfo, xorriso and blkid all read the seed: label cidata, Rock Ridge + Joliet, the
    /// expected names; returns the directory whose `seed/` holds what xorriso extracted.
    private func checkISOReaders(_ iso: URL, names: [String], sample: String) throws -> TemporaryDirectory {
        for tool in ["isoinfo", "xorriso", "blkid"] { try requireTool(tool) }
        let description = try runChecked("isoinfo", ["-d", "-i", iso.path]).stdout
        #expect(description.contains("Volume id: cidata\n"), "\(sample): isoinfo -d: \(description)")
        #expect(description.contains("Rock Ridge signatures"), "\(sample): no Rock Ridge")
        #expect(description.contains("Joliet"), "\(sample): no Joliet")
        for tree in ["-R", "-J"] {
            let listing = try runChecked("isoinfo", ["-f", tree, "-i", iso.path]).stdout
            #expect(
                listing.split(separator: "\n").map(String.init).sorted() == names.map { "/" + $0 }.sorted(),
                "\(sample): isoinfo -f \(tree): \(listing)")
        }
        let pvd = try runChecked("xorriso", ["-indev", iso.path, "-pvd_info"]).stdout
        #expect(pvd.contains("Volume Id    : cidata\n"), "\(sample): xorriso -pvd_info: \(pvd)")
        let probe = try runChecked("blkid", ["-p", "-o", "export", iso.path]).stdout
        #expect(
            probe.contains("\nLABEL=cidata\n") && probe.contains("\nTYPE=iso9660\n"), "\(sample): blkid -p: \(probe)")
        let extracted = try TemporaryDirectory(prefix: "seedgen-e2e-extract")
        try runChecked("xorriso", ["-osirrox", "on", "-indev", iso.path, "-extract", "/", extracted.path("seed").path])
        return extracted
    }

    /// cloud-init itself reads the extracted seed (NoCloud), validates every cloud-config part
    /// with `cloud-init schema` and renders network-config to netplan.
    private func checkCloudInit(_ seed: URL, sample: String) throws -> NoCloudView {
        try requireTool("cloud-init")
        let read = try ProcessRunner.run("/usr/bin/python3", ["-c", noCloudReader, seed.path + "/"])
        try #require(read.exitCode == 0, "\(sample): cloud-init's NoCloud reader: \(read.stderr)")
        let view = try JSONDecoder().decode(NoCloudView.self, from: read.stdoutData)
        #expect(view.meta["instance-id"]?.isEmpty == false, "\(sample): meta-data \(view.meta)")
        #expect(view.meta["local-hostname"]?.isEmpty == false, "\(sample): meta-data \(view.meta)")
        #expect(!view.configs.isEmpty, "\(sample): no cloud-config in user-data")
        let scratch = try TemporaryDirectory(prefix: "seedgen-e2e-cloudinit")
        for (index, config) in view.configs.enumerated() {
            let file = try scratch.write("cloud-config-\(index)", config)
            let schema = try ProcessRunner.run("cloud-init", ["schema", "--config-file", file.path])
            #expect(schema.exitCode == 0, "\(sample): cloud-init schema: \(schema.stdout)\(schema.stderr)")
        }
        let convert = try ProcessRunner.run(
            "cloud-init",
            [
                "devel", "net-convert", "-p", seed.appendingPathComponent("network-config").path, "-k", "yaml",
                "-d", scratch.path("netplan").path, "-D", "ubuntu", "-O", "netplan",
            ])
        #expect(
            convert.exitCode == 0 && !convert.stderr.contains("Traceback"), "\(sample): net-convert: \(convert.stderr)")
        let netplan =
            (try? String(contentsOf: scratch.path("netplan/etc/netplan/50-cloud-init.yaml"), encoding: .utf8)) ?? ""
        for case let mac? in view.macs {
            #expect(
                netplan.contains("macaddress: \(mac.lowercased())"),
                "\(sample): \(mac) missing from netplan: \(netplan)")
        }
        return view
    }

    /// deploy.sh passes shellcheck, runs on a fake node shaped like the plan, and the MACs of the
    /// VM's netN lines are the ones network-config matches on.
    private func checkDeploy(_ directory: URL, sample: String, vm: BuildJSON.VM, seedMACs: [String?]) throws {
        try requireTool("shellcheck")
        let script = directory.appendingPathComponent("deploy.sh")
        let lint = try ProcessRunner.run("shellcheck", ["--shell=bash", "--severity=style", script.path])
        #expect(lint.exitCode == 0, "\(sample): shellcheck: \(lint.stdout)\(lint.stderr)")

        let plan = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("plan.json")))
                as? [String: Any])
        let node = try FakeNode(fakeNodeSetup(for: plan))
        let first = try node.deploy(script)
        #expect(first.exitCode == 0, "\(sample): deploy.sh: \(first.stdout)\(first.stderr)")
        for call in try node.calls() {
            let problems = QMOptionChecker.problems(in: call, version: (8, 4))
            #expect(problems.isEmpty, "\(sample): \(call): \(problems)")
        }
        #expect(try node.vmStatus(vm.vmid) == "running", "\(sample): \(first.stdout)")
        let config = try #require(try node.vmConfig(vm.vmid))
        let netMACs = (0..<8).compactMap { index in config["net\(index)"] }.map { line -> String in
            // "virtio=BC:24:11:…,bridge=…": the MAC is the value of the model key.
            String(line.split(separator: ",").first?.split(separator: "=").last ?? "")
        }
        #expect(!netMACs.isEmpty, "\(sample): no netN in \(config)")
        #expect(
            netMACs.map { $0.lowercased() } == seedMACs.map { $0?.lowercased() ?? "" },
            "\(sample): netN MACs \(netMACs) vs network-config \(seedMACs)")
        let planNetMACs = planNetLines(plan).map { line in
            String(line.split(separator: ",").first?.split(separator: "=").last ?? "").lowercased()
        }
        #expect(
            planNetMACs == seedMACs.map { $0?.lowercased() ?? "" },
            "\(sample): plan.json netN MACs \(planNetMACs) vs network-config \(seedMACs)")

        let again = try node.deploy(script)
        #expect(
            again.exitCode == 0 && again.stdout.contains("already deployed"),
            "\(sample): re-run: \(again.stdout)\(again.stderr)")
    }
}

/// The `netN` option values of the plan's create step, in index order.
func planNetLines(_ plan: [String: Any]) -> [String] {
    var found: [String: String] = [:]
    func visit(_ value: Any) {
        if let map = value as? [String: Any] {
            if let key = map["key"] as? String, key.hasPrefix("net"), Int(key.dropFirst(3)) != nil {
                if let literal = map["value"] as? String {
                    found[key] = literal
                } else if let parts = (map["value"] as? [String: Any])?["parts"] {
                    found[key] = flatten(parts)
                } else if let parts = map["value"] as? [Any] {
                    found[key] = flatten(parts)
                }
            }
            map.values.forEach(visit)
        } else if let list = value as? [Any] {
            list.forEach(visit)
        }
    }
    func flatten(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let list = value as? [Any] { return list.map(flatten).joined() }
        if let map = value as? [String: Any] { return map.values.map(flatten).joined() }
        return ""
    }
    visit(plan)
    return found.keys.sorted { Int($0.dropFirst(3))! < Int($1.dropFirst(3))! }.map { found[$0]! }
}

/// A fake node with the node name and every storage the plan needs.
func fakeNodeSetup(for plan: [String: Any]) -> FakeNode.Setup {
    var setup = FakeNode.Setup()
    if let vm = plan["vm"] as? [String: Any], let node = vm["node"] as? String { setup.hostname = node }
    if let needs = plan["storages"] as? [[String: Any]] {
        for need in needs {
            guard let storage = need["storage"] as? String, let content = need["content"] as? String else { continue }
            let isFileStorage = ["iso", "import", "snippets", "vztmpl", "backup"].contains(content)
            var entry =
                setup.storages[storage] ?? FakeNode.Storage(type: isFileStorage ? "dir" : "lvmthin", content: [])
            if !entry.content.contains(content) { entry.content.append(content) }
            setup.storages[storage] = entry
        }
    }
    return setup
}
