import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

struct ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract:
            "Print the vm.yaml equivalent of an Ansible proxmox_vm_* variables file, or write one per proxmox role "
            + "task of a playbook.",
        discussion: """
            Examples:
              seedgen convert vars.yml > web01.yaml
              seedgen convert site.yml -o vms/     # vms/<proxmox_vm_name>.yaml for every task of the proxmox role
            """)

    @Argument(help: "The Ansible variables file, playbook or task file (YAML).")
    var file: String

    @Option(
        name: .shortAndLong,
        help: "Write DIR/<name>.yaml for each VM instead of printing (needed when the file holds several).")
    var output: String?

    @Option(help: "A user catalog file that adds to or overrides the built-in image catalog and publishers.")
    var catalog: String?

    func run() async throws {
        try await reportingErrors {
            let converted = try SpecLoader.standard(
                catalog: try ImageCatalog.load(userCatalog: catalog.map { URL(fileURLWithPath: $0) })
            ).convertedDocuments(file, outputDirectory: output)
            for warning in converted.warnings { Terminal.standardError.write(warning.description + "\n") }
            guard let output else {
                guard converted.documents.count == 1, let only = converted.documents.first else {
                    throw SeedgenError.usage(
                        "\(file) holds \(converted.documents.count) VMs: write them with `seedgen convert \(file) -o "
                            + "DIR`"
                    )
                }
                Terminal.standardOutput.write(only.document)
                return
            }
            let written = try ConvertedDocument.write(converted.documents, to: URL(fileURLWithPath: output))
            for file in written { Terminal.standardOutput.write("wrote \(file.path)\n") }
        }
    }
}
