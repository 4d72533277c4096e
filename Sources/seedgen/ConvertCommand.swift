import ArgumentParser
import Foundation
import SeedgenKit

struct ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Print the vm.yaml equivalent of an Ansible proxmox_vm_* variables file.")

    @Argument(help: "The Ansible variables file (YAML).")
    var file: String

    func run() async throws {
        try await reportingErrors {
            let converted = try SpecLoader.standard().convertedDocument(file)
            for warning in converted.warnings { Terminal.standardError.write(warning.description + "\n") }
            Terminal.standardOutput.write(converted.document)
        }
    }
}
