import ArgumentParser
import Foundation
import SeedgenApply
import SeedgenBuild
import SeedgenCore

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create the VMs over the Proxmox VE API with an API token: no SSH, no root shell (PVE 8.4 or newer).",
        discussion: """
            Each PATH is a vm.yaml (built first, as seedgen build does) or an artifact directory seedgen build wrote \
            earlier, whose SHA256SUMS is checked first. The token comes from PVE_API_TOKEN or --token-file \
            (USER@REALM!TOKENID=SECRET), never from the command line. A preflight checks everything before anything \
            changes: the node's version, the node, storages and content types, VMIDs, and the token's privileges \
            (each missing one is listed with the pveum commands that grant it). Re-runs are safe.
            """)

    @Argument(help: "vm.yaml files or artifact directories.")
    var paths: [String]

    @Option(help: "The node's API, https://HOST:8006 (default: $PVE_API_URL).")
    var api: String?

    @Option(help: "A file holding the API token USER@REALM!TOKENID=SECRET (default: $PVE_API_TOKEN).")
    var tokenFile: String?

    @Option(help: "SHA-256 fingerprint of the node's certificate, as `pvenode cert info` shows it.")
    var fingerprint: String?

    @Option(help: "The node for VMs whose vm.yaml names none (default: the only node of a single-node cluster).")
    var node: String?

    @Option(name: .shortAndLong, help: "VMs applied in parallel.")
    var jobs: Int = 2

    @Flag(help: "Run the preflight and print the calls that would be made (secrets redacted); change nothing.")
    var dryRun = false

    @Flag(help: "Create the VMs but do not start them.")
    var noStart = false

    @Flag(
        help:
            """
            Let the node download each cloud image itself from its URL (download-url, sha256 pinned) instead of \
            uploading it from here; needs Sys.AccessNetwork on the node.
            """
    )
    var nodeDownloads = false

    @Flag(help: "Print only the pveum commands that grant the token what these VMs need, for an administrator.")
    var printGrants = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where vm.yaml files are built (DIR/<name>/).")
    var outputDirectory = "out"

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var display: OutputOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var build = BuildOptions(outputDirectory: URL(fileURLWithPath: outputDirectory))
        store.apply(to: &build)
        build.progress = display.progress
        build.caFile = store.caFile ?? environment["SEEDGEN_CA_FILE"]
        let report = try await reportingErrors { () -> ApplyReport? in
            let token = try ApplyCommandInputs.token(file: tokenFile, environment: environment)
            if printGrants {
                let grants = try await ApplyGrants.commands(
                    paths: paths, build: build, node: node, tokenID: token.id, nodeDownloads: nodeDownloads)
                Terminal.standardOutput.write(grants.map { $0 + "\n" }.joined())
                return nil
            }
            var options = ApplyOptions(
                api: try ApplyCommandInputs.api(api, environment: environment), token: token, build: build)
            options.fingerprint = fingerprint
            options.caFile = build.caFile
            options.node = node
            options.jobs = jobs
            options.dryRun = dryRun
            options.startVM = !noStart
            options.nodeDownloads = nodeDownloads
            return try await ApplyRun(options: options) { Terminal.standardError.write($0 + "\n") }.run(paths: paths)
        }
        guard let report else { return }
        if display.json {
            Terminal.standardOutput.write(try JSONOutput.string(report))
        } else if dryRun {
            Terminal.standardOutput.write(report.plannedCalls.map { $0 + "\n" }.joined())
        } else {
            Terminal.standardError.write(report.table)
        }
        if report.failed > 0 {
            for vm in report.vms where vm.error != nil {
                Terminal.standardError.write("\(vm.name): \(vm.error ?? "")\n")
            }
            throw ExitCode(1)
        }
    }
}
