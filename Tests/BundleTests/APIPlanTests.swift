import Foundation
import SeedgenApply
import SeedgenBundle
import SeedgenCore
import SeedgenNoCloud
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Perl's URI::Escape, which `qm` encodes the sshkeys file with and Proxmox's API decodes it with.
private func perlURIEscape(_ function: String, _ text: String) throws -> String {
    let result = try ProcessRunner.run(
        "perl", ["-MURI::Escape", "-e", "binmode STDOUT; local $/; print \(function)(<STDIN>)"], stdin: Data(text.utf8))
    try #require(
        result.exitCode == 0, "perl URI::Escape (Debian liburi-perl, scripts/install-deps.sh): \(result.stderr)")
    return result.stdout
}

@Suite struct APIPlanTests {
    private func planner(
        mode: CloudInitMode = .iso, bios: Firmware = .ovmf, version: (Int, Int) = (8, 4), in work: TemporaryDirectory
    ) throws -> (ProxmoxAPIPlanner, BundleFixture) {
        let spec = BundleFixture.spec(mode: mode, bios: bios)
        let fixture = try BundleFixture.make(spec: spec, in: work.path("out/web01"))
        let keys = ProxmoxBundle.pveSSHKeysFile(for: spec).map { String(decoding: $0, as: UTF8.self) }
        return (
            ProxmoxAPIPlanner(plan: fixture.plan, node: "pve01", version: (version.0, version.1), sshKeys: keys),
            fixture
        )
    }

    @Test(arguments: CloudInitMode.allCases.filter { $0 != .snippets }, [Firmware.seabios, .ovmf])
    func everyCallIsOneProxmoxsSchemaAccepts(mode: CloudInitMode, bios: Firmware) throws {
        let schema = PublishedAPISchema.load()
        try #require(!schema.isEmpty, "Tests/Fixtures/pve-api/apidata-subset.json is missing")
        let work = try TemporaryDirectory()
        let (planner, _) = try planner(mode: mode, bios: bios, in: work)
        let calls =
            try planner.firstDeploymentCalls()
            + planner.seedSwapCalls(oldSeedVolume: "local:iso/seedgen-9001-00000000.iso")
        #expect(!calls.isEmpty)
        for call in calls {
            let problems = PublishedAPISchema.problems(call, in: schema)
            #expect(problems.isEmpty, "\(call.redactedDescription): \(problems)")
        }
    }

    /// --node-downloads: the image is not uploaded; the node is asked to fetch it by URL into the
    /// import storage under the same content-addressed `.qcow2` name, sha256 pinned; the call is one
    /// Proxmox's schema accepts.
    @Test func nodeDownloadsAskTheNodeForTheImageByURLWithThePinnedChecksum() throws {
        let schema = PublishedAPISchema.load()
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(
            spec: BundleFixture.spec(bios: .ovmf), in: work.path("out/web01"), includeImage: false,
            imageURL: "https://cloud-images.example/noble-server-cloudimg-amd64.img")
        let calls = try ProxmoxAPIPlanner(plan: fixture.plan, node: "pve01", version: (8, 4), nodeDownloads: true)
            .firstDeploymentCalls()
        #expect(!calls.contains { $0.upload?.role == .image })
        let download = try #require(calls.first { $0.endpoint == "/nodes/{node}/storage/{storage}/download-url" })
        #expect(
            download.method == .post && download.startsTask
                && download.pathValues == ["node": "pve01", "storage": "local"])
        let image = try #require(fixture.plan.file(role: .image))
        let options = Dictionary(
            download.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(options["url"] == "https://cloud-images.example/noble-server-cloudimg-amd64.img")
        #expect(options["content"] == "import")
        #expect(options["checksum-algorithm"] == "sha256" && options["checksum"] == image.sha256)
        let filename = try #require(options["filename"])
        #expect(filename.hasSuffix(".qcow2") && "local:import/\(filename)" == image.volume, "\(filename)")
        #expect(
            PublishedAPISchema.problems(download, in: schema).isEmpty,
            "\(PublishedAPISchema.problems(download, in: schema))")
        // The VM imports from the volume the download makes.
        let create = try #require(calls.first { $0.endpoint == "/nodes/{node}/qemu" })
        #expect(create.parameters.contains { $0.value.contains("import-from=\(image.volume ?? "-"),") })
    }

    @Test func firstDeploymentUploadsByContentThenCreatesResizesAndStarts() throws {
        let work = try TemporaryDirectory()
        let (planner, fixture) = try planner(in: work)
        let calls = try planner.firstDeploymentCalls()
        #expect(
            calls.map { "\($0.method.rawValue) \($0.endpoint)" } == [
                "POST /nodes/{node}/storage/{storage}/upload",
                "POST /nodes/{node}/storage/{storage}/upload",
                "POST /nodes/{node}/qemu",
                "PUT /nodes/{node}/qemu/{vmid}/resize",
                "GET /nodes/{node}/qemu/{vmid}/config",
                "POST /nodes/{node}/qemu/{vmid}/status/start",
            ])
        // Uploads: the fields in the order Proxmox's multipart parser requires, a name it keeps.
        let image = try #require(calls.first { $0.upload?.role == .image })
        #expect(image.parameters.map(\.name) == ["content", "checksum-algorithm", "checksum"])
        #expect(
            image.parameters.map(\.value) == ["import", "sha256", try #require(fixture.plan.file(role: .image)).sha256])
        let storedImage = try #require(image.upload?.storedName)
        #expect(storedImage.hasSuffix(".qcow2"), "Proxmox refuses .img in import storage: \(storedImage)")
        #expect(ProxmoxAPIEncoding.normalizedUploadName(storedImage) == storedImage)
        let seed = try #require(calls.first { $0.upload?.role == .seedISO })
        #expect(seed.parameters.first?.value == "iso")
        #expect(seed.upload?.storedName == fixture.plan.file(role: .seedISO)?.source)
        // Create: import-from by volume id (tokens may not name absolute paths), the seed as a CD-ROM.
        let create = try #require(calls.first { $0.endpoint == "/nodes/{node}/qemu" })
        let options = Dictionary(create.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let importVolume = try #require(fixture.plan.file(role: .image)?.volume)
        #expect(options["scsi0"]?.contains("import-from=\(importVolume),") == true, "\(options["scsi0"] ?? "")")
        #expect(options["sata0"] == "local:iso/\(seed.upload?.storedName ?? ""),media=cdrom")
        #expect(options["efidisk0"]?.contains("efitype=4m") == true)
        #expect(options["net0"]?.hasPrefix("virtio=bc:24:11:12:34:56,") == true)
        #expect(options["vmid"] == "9001")
        #expect(create.path == "/nodes/pve01/qemu")
        #expect(try planner.firstDeploymentCalls(startVM: false).allSatisfy { !$0.endpoint.hasSuffix("/status/start") })
    }

    /// One plan, two executors: the options the API create sends are the options deploy.sh passes
    /// to `qm create` on a PVE 8.4 node (the fake node records them), value for value.
    @Test(arguments: CloudInitMode.allCases.filter { $0 != .snippets })
    func apiCreatesTheVMDeployShCreates(mode: CloudInitMode) throws {
        let work = try TemporaryDirectory()
        let (planner, fixture) = try planner(mode: mode, in: work)
        var setup = FakeNode.Setup()
        setup.version = "8.4.1"
        let node = try FakeNode(setup)
        let result = try deploy(fixture, on: node)
        try #require(result.exitCode == 0, "\(result.stdout)\(result.stderr)")
        let qmCreate = try #require(try node.calls().first { $0.starts(with: ["qm", "create"]) })
        var deployOptions: [String: String] = ["vmid": qmCreate[2]]
        var index = 3
        while index + 1 < qmCreate.count {
            deployOptions[String(qmCreate[index].dropFirst(2))] = qmCreate[index + 1]
            index += 2
        }
        let create = try #require(try planner.firstDeploymentCalls().first { $0.endpoint == "/nodes/{node}/qemu" })
        var apiOptions = Dictionary(
            create.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        if mode == .pve {
            // qm reads the keys file and sends it URL-encoded: the API call carries that text.
            let keysPath = try #require(deployOptions["sshkeys"])
            let keys = try String(contentsOfFile: keysPath, encoding: .utf8)
            #expect(apiOptions["sshkeys"] == (try perlURIEscape("uri_escape", keys)))
            deployOptions["sshkeys"] = nil
            apiOptions["sshkeys"] = nil
        }
        #expect(apiOptions == deployOptions)
        // Both pass Proxmox's qm option formats.
        // (sshkeys is the encoded text here, a file path for qm: compared above.)
        let argv =
            ["qm", "create", "9001"]
            + create.parameters.filter { !["vmid", "sshkeys"].contains($0.name) }.flatMap {
                ["--\($0.name)", $0.value]
            }
        #expect(
            QMOptionChecker.problems(in: argv, version: (8, 4)).isEmpty,
            "\(QMOptionChecker.problems(in: argv, version: (8, 4)))")
    }

    @Test func sshKeysAreEncodedAsQmEncodesThemAndDecodeAsProxmoxDecodes() throws {
        let keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample+/= ops@laptop é\nssh-rsa AAAAB3Nza== ci@runner\n"
        let encoded = ProxmoxAPIEncoding.percentEncoded(keys)
        #expect(encoded == (try perlURIEscape("uri_escape", keys)))
        #expect(try perlURIEscape("uri_unescape", encoded) == keys)
    }

    @Test func thePasswordHashIsNeverPrinted() throws {
        let work = try TemporaryDirectory()
        let (planner, fixture) = try planner(mode: .pve, in: work)
        let calls = try planner.firstDeploymentCalls()
        let setPassword = try #require(calls.first { $0.stepID == "set-password" })
        let hash = try #require(fixture.plan.steps.first { $0.kind == .setPassword }?.options.first?.value.literalValue)
        #expect(setPassword.parameters.contains { $0.name == "cipassword" && $0.secret && $0.value == hash })
        for call in calls { #expect(!call.redactedDescription.contains(hash)) }
        #expect(setPassword.redactedDescription.contains("cipassword=<redacted>"))
    }

    /// A node download's source URL may carry credentials; the dry run and errors show it without.
    @Test func credentialsInADownloadURLAreRedacted() {
        let call = ProxmoxAPICall(
            .post, "/nodes/{node}/storage/{storage}/download-url", ["node": "pve01", "storage": "local"],
            parameters: [
                .init("url", "https://mirror-user:s3cr3t@mirror.example.org/images/noble.img"),
                .init("filename", "seedgen-abc.qcow2"),
            ], startsTask: true, stepID: "place-image")
        #expect(!call.redactedDescription.contains("s3cr3t") && !call.redactedDescription.contains("mirror-user"))
        #expect(call.redactedDescription.contains("url=https://<redacted>@mirror.example.org/images/noble.img"))
        #expect(ProxmoxAPICall.withoutCredentials("https://mirror.example.org/a@b") == "https://mirror.example.org/a@b")
    }

    @Test(arguments: [(7, 4), (8, 3), (8, 2)])
    func nodesBeforePVE84AreReferredToDeploySh(version: (Int, Int)) throws {
        let work = try TemporaryDirectory()
        let (planner, _) = try planner(version: version, in: work)
        #expect {
            try planner.firstDeploymentCalls()
        } throws: { error in
            "\(error)".contains("8.4") && "\(error)".contains("deploy.sh")
                && "\(error)".contains("\(version.0).\(version.1)")
        }
    }

    @Test func snippetsModeIsRefusedNamingIsoMode() throws {
        let work = try TemporaryDirectory()
        let (planner, _) = try planner(mode: .snippets, in: work)
        #expect {
            try planner.firstDeploymentCalls()
        } throws: { error in
            "\(error)".contains("cannot upload snippets") && "\(error)".contains("mode: iso")
        }
    }

    @Test func pathSegmentsArePercentEncoded() {
        let call = ProxmoxAPICall(
            .get, "/nodes/{node}/tasks/{upid}/status",
            ["node": "pve01", "upid": "UPID:pve01:0000A1B2:01:6747A0F1:qmcreate:9001:ci@pve!deploy:"],
            startsTask: false, stepID: "wait")
        #expect(
            call.path
                == "/nodes/pve01/tasks/UPID%3Apve01%3A0000A1B2%3A01%3A6747A0F1%3Aqmcreate%3A9001%3Aci%40pve%21deploy%3A/status"
        )
    }
}

@Suite struct PrivilegeTests {
    private func needs(mode: CloudInitMode = .iso, nodeDownloads: Bool = false) throws -> [ProxmoxPrivilegeNeed] {
        let work = try TemporaryDirectory()
        let spec = BundleFixture.spec(mode: mode, bios: .ovmf)
        let fixture = try BundleFixture.make(
            spec: spec, in: work.path("out/web01"), imageURL: "https://images.example/noble.img")
        let keys = ProxmoxBundle.pveSSHKeysFile(for: spec).map { String(decoding: $0, as: UTF8.self) }
        let planner = ProxmoxAPIPlanner(
            plan: fixture.plan, node: "pve01", version: (8, 4), sshKeys: keys, nodeDownloads: nodeDownloads)
        let calls =
            try planner.firstDeploymentCalls()
            + planner.seedSwapCalls(oldSeedVolume: "local:iso/seedgen-9001-00000000.iso")
        return ProxmoxPrivileges.needs(for: calls, node: "pve01")
    }

    private func privileges(_ needs: [ProxmoxPrivilegeNeed], _ path: String) -> Set<String> {
        Set(needs.first { $0.path == path }?.privileges ?? [])
    }

    /// The fixture VM: image and seed on `local`, disks on `local-lvm`, NIC 0 on vmbr0 VLAN 20, NIC 1
    /// on vmbr1. The sets are Proxmox's checks for exactly those calls (pve-api.md's table).
    @Test func isoModeNeedsExactlyWhatProxmoxChecks() throws {
        let needs = try needs()
        #expect(
            Set(needs.map(\.path)) == [
                "/vms/9001", "/storage/local", "/storage/local-lvm",
                "/sdn/zones/localnetwork/vmbr0/20", "/sdn/zones/localnetwork/vmbr1",
            ])
        #expect(
            privileges(needs, "/vms/9001") == [
                "VM.Allocate", "VM.Audit", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Disk", "VM.Config.Network",
                "VM.Config.HWType", "VM.Config.Options", "VM.PowerMgmt", "VM.Config.CDROM",
            ])
        #expect(
            privileges(needs, "/storage/local") == [
                "Datastore.AllocateTemplate", "Datastore.Audit", "Datastore.Allocate",
            ])
        #expect(privileges(needs, "/storage/local-lvm") == ["Datastore.AllocateSpace"])
        #expect(privileges(needs, "/sdn/zones/localnetwork/vmbr0/20") == ["SDN.Use"])
        #expect(!needs.contains { $0.privileges.contains("Sys.AccessNetwork") })
    }

    @Test func pveModeNeedsCloudinitAndNoCDROMSwap() throws {
        let vm = privileges(try needs(mode: .pve), "/vms/9001")
        #expect(vm.contains("VM.Config.Cloudinit"))
        #expect(!vm.contains("VM.Config.CDROM"))
    }

    @Test func nodeDownloadsNeedSysAccessNetworkOnTheNode() throws {
        let needs = try needs(nodeDownloads: true)
        #expect(privileges(needs, "/nodes/pve01") == ["Sys.AccessNetwork"])
        #expect(privileges(needs, "/storage/local").isSuperset(of: ["Datastore.AllocateTemplate", "Datastore.Audit"]))
    }

    @Test func missingListsOnlyWhatTheTokenLacks() throws {
        let needs = try needs()
        var granted = Dictionary(uniqueKeysWithValues: needs.map { ($0.path, Set($0.privileges)) })
        #expect(ProxmoxPrivileges.missing(needs, granted: granted).isEmpty)
        granted["/sdn/zones/localnetwork/vmbr0/20"] = nil
        granted["/vms/9001"]?.remove("VM.PowerMgmt")
        let missing = ProxmoxPrivileges.missing(needs, granted: granted)
        #expect(missing.map(\.path).sorted() == ["/sdn/zones/localnetwork/vmbr0/20", "/vms/9001"])
        #expect(missing.first { $0.path == "/vms/9001" }?.privileges == ["VM.PowerMgmt"])
    }

    @Test func grantCommandsGiveTheUserAndTheTokenOneRolePerPrivilegeSet() throws {
        let needs = try needs()
        let commands = ProxmoxPrivileges.grantCommands(needs, tokenID: "ci@pve!deploy")
        let roleAdds = commands.filter { $0.hasPrefix("pveum role add ") }
        let grants = commands.filter { $0.hasPrefix("pveum acl modify ") }
        #expect(grants.count == needs.count)
        // Both SDN paths need only SDN.Use: one role serves both.
        #expect(roleAdds.count == Set(needs.map { $0.privileges.sorted() }).count)
        for grant in grants {
            #expect(grant.hasSuffix("--users ci@pve --tokens 'ci@pve!deploy'"), "\(grant)")
        }
        let sdnRole = ProxmoxPrivileges.grantCommands(
            [needs.first { $0.path.hasPrefix("/sdn/") }!], tokenID: "ci@pve!deploy")
        #expect(sdnRole.first?.hasSuffix("--privs SDN.Use") == true, "\(sdnRole)")
        // A role is named by its privileges: the same set, the same name, run after run.
        #expect(commands == ProxmoxPrivileges.grantCommands(needs, tokenID: "ci@pve!deploy"))
    }
}

@Suite struct MultipartUploadTests {
    /// The body as Python's multipart reader (the email package) sees it: the three fields in
    /// Proxmox's order, then the file part named `filename` with the stored name and the bytes.
    @Test func theBodyReadsBackAsTheFieldsAndTheFile() throws {
        let work = try TemporaryDirectory()
        let fixture = try BundleFixture.make(spec: BundleFixture.spec(), in: work.path("out/web01"))
        let planner = ProxmoxAPIPlanner(plan: fixture.plan, node: "pve01", version: (8, 4))
        let call = try #require(try planner.firstDeploymentCalls().first { $0.upload?.role == .seedISO })
        let upload = try ProxmoxMultipartUpload(call)
        let file = try Data(contentsOf: fixture.directory.appendingPathComponent(try #require(call.upload?.source)))
        let body = upload.head + file + upload.tail
        #expect(UInt64(body.count) == upload.contentLength(fileSize: UInt64(file.count)))
        #expect(file.range(of: Data(upload.boundary.utf8)) == nil)

        let script = """
            import json, sys, hashlib, email.parser, email.policy
            body = sys.stdin.buffer.read()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + sys.argv[1].encode() + b"\\r\\n\\r\\n" + body)
            parts = []
            for part in message.iter_parts():
                payload = part.get_payload(decode=True)
                parts.append({"name": part.get_param("name", header="content-disposition"),
                              "filename": part.get_filename(), "type": part.get_content_type(),
                              "first_header": part.keys()[0],
                              "value": payload.decode() if part.get_filename() is None else None,
                              "sha256": hashlib.sha256(payload).hexdigest()})
            print(json.dumps(parts))
            """
        let result = try ProcessRunner.run("/usr/bin/python3", ["-c", script, upload.contentType], stdin: body)
        try #require(result.exitCode == 0, "\(result.stderr)")
        let parts = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [[String: Any]])
        #expect(parts.map { $0["name"] as? String } == ["content", "checksum-algorithm", "checksum", "filename"])
        #expect(parts.prefix(3).map { $0["value"] as? String } == ["iso", "sha256", Digest.sha256Hex(file)])
        let filePart = try #require(parts.last)
        #expect(filePart["filename"] as? String == call.upload?.storedName)
        #expect(filePart["type"] as? String == "application/octet-stream")
        #expect(filePart["first_header"] as? String == "Content-Disposition")
        #expect(filePart["sha256"] as? String == Digest.sha256Hex(file))
    }
}
