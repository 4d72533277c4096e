import ArgumentParser
import Foundation
import SeedgenKit

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check vm.yaml files (or Ansible proxmox_vm_* variable files); report every problem, write nothing.")

    @Argument(help: "VM files to check.")
    var files: [String]

    @Flag(help: "Print one JSON object with every diagnostic on stdout.")
    var json = false

    @OptionGroup var saltKey: SaltKeyOptions

    func run() async throws {
        let result = SpecLoader.standard(environment: saltKey.environment).loadAll(files)
        if json {
            let report = ValidationReport(
                valid: !result.hasErrors, files: files, vms: result.specs.map { "\($0.name) (\($0.vmid))" }, diagnostics: result.diagnostics,
                error: result.hasErrors ? ErrorReport(.invalidInput(result.diagnostics)).error : nil)
            StandardOutputJSON.write(report)
        } else {
            for diagnostic in result.diagnostics { Terminal.standardError.write(diagnostic.description + "\n") }
            if !result.hasErrors {
                Terminal.standardError.write("ok: \(result.specs.count) VM file\(result.specs.count == 1 ? "" : "s") valid\n")
            }
        }
        if result.hasErrors { throw ExitCode(2) }
    }
}

private struct ValidationReport: Encodable {
    var valid: Bool
    var files: [String]
    var vms: [String]
    var diagnostics: [Diagnostic]
    /// Present when the files are invalid: the same error object every command prints under --json.
    var error: ErrorReport.Body?
}
