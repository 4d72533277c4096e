import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenSpec

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented starter vm.yaml (NAME.yaml) in the current directory.")

    @Argument(help: "The VM's DNS name.")
    var name: String = "vm01"

    @Option(help: "The VMID to put in the file.")
    var vmid: Int = 9000

    @Flag(help: "Print the file instead of writing it.")
    var stdout = false

    func run() async throws {
        try await reportingErrors {
            guard AddressRules.isDNSName(name) else {
                throw SeedgenError.usage("'\(name)' is not a valid DNS name (letters, digits, inner hyphens; no '_')")
            }
            guard (100...999_999_999).contains(vmid) else {
                throw SeedgenError.usage("--vmid \(vmid) is out of range (100..999999999)")
            }
            let text = StarterFile.text(name: name, vmid: vmid)
            if stdout {
                Terminal.standardOutput.write(text)
                return
            }
            let file = URL(fileURLWithPath: "\(name).yaml")
            guard !FileManager.default.fileExists(atPath: file.path) else {
                throw SeedgenError.usage("\(file.path) already exists; remove it or use --stdout")
            }
            try AtomicFile.write(Data(text.utf8), to: file)
            Terminal.standardError.write(
                "wrote \(file.lastPathComponent): edit it, then `seedgen validate \(file.lastPathComponent)`\n")
        }
    }
}
