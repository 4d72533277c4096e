import ArgumentParser
import Foundation
import SeedgenBuild
import SeedgenCore

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract:
            "Build every artifact for one VM or a fleet: seed ISO, rendered files, deploy.sh, plan.json, SHA256SUMS.",
        discussion: """
            Every file is validated first; any invalid file stops the run with exit code 2 before anything is written.
            Each VM is built into DIR/<name>/, replacing an earlier build only when the new one is complete.
            """)

    @Argument(
        help:
            """
            vm.yaml files (or Ansible proxmox_vm_* variable files, or playbooks: one VM per proxmox role task); quoted \
            globs like 'fleet/*.yaml' are expanded.
            """
    )
    var files: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output directory; each VM gets DIR/<name>/.")
    var outputDirectory = "out"

    @Option(name: .shortAndLong, help: "VMs built in parallel (default: the number of cores).")
    var jobs: Int?

    @Flag(
        help:
            "Put the verified image into DIR/<name>/image/ so the directory alone can be carried to an air-gapped node."
    )
    var includeImage = false

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var saltKey: SaltKeyOptions
    @OptionGroup var display: OutputOptions

    func run() async throws {
        let report = try await reportingErrors(json: display.json) {
            var options = BuildOptions(
                outputDirectory: URL(fileURLWithPath: outputDirectory), environment: saltKey.environment)
            if let jobs {
                guard jobs >= 1 else { throw SeedgenError.usage("--jobs must be at least 1") }
                options.jobs = jobs
            }
            store.apply(to: &options)
            options.includeImage = includeImage
            options.progress = display.progress
            let pipeline = ArtifactPipeline(options: options) { Terminal.standardError.write($0 + "\n") }
            return try await pipeline.build(files: try FileArguments.expand(files))
        }
        if display.json {
            StandardOutputJSON.write(report)
        } else {
            Terminal.standardError.write(report.table)
        }
        if report.failed > 0 {
            for outcome in report.vms where outcome.status == .failed {
                Terminal.standardError.write("\(outcome.name): \(outcome.error ?? "failed")\n")
            }
            throw ExitCode(1)
        }
    }
}
