import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check vm.yaml files (or Ansible proxmox_vm_* variable files); report every problem, write nothing.",
        discussion: """
            Everything `seedgen build --offline` would check: the files, and the images that need no network (local \
            files, and images already in the cache): readable, importable, the pinned digest, and a boot disk at least \
            as large as the image. Images not yet cached are checked by `build`.
            """)

    @Argument(help: "VM files to check.")
    var files: [String]

    @Flag(help: "Print one JSON object with every diagnostic on stdout.")
    var json = false

    @Option(
        help:
            """
            Image cache directory whose images are checked (default: $SEEDGEN_CACHE, else $XDG_CACHE_HOME/seedgen, \
            else ~/.cache/seedgen).
            """
    )
    var cache: String?

    @Option(help: "A user catalog file that adds to or overrides the built-in image catalog.")
    var catalog: String?

    @OptionGroup var saltKey: SaltKeyOptions

    func run() async throws {
        let imageCatalog = try await reportingErrors(json: json) {
            try ImageCatalog.load(userCatalog: catalog.map { URL(fileURLWithPath: $0) })
        }
        let result = SpecLoader.standard(environment: saltKey.environment, catalog: imageCatalog).loadAll(files)
            .addingOfflineImageChecks(
                files: files, catalog: imageCatalog,
                cacheDirectory: cache.map { URL(fileURLWithPath: $0) } ?? ImageCacheLocation.defaultDirectory())
        if json {
            let report = ValidationReport(
                valid: !result.hasErrors, files: files, vms: result.specs.map { "\($0.name) (\($0.vmid))" },
                diagnostics: result.diagnostics,
                error: result.hasErrors ? ErrorReport(.invalidInput(result.diagnostics)).error : nil)
            StandardOutputJSON.write(report)
        } else {
            for diagnostic in result.diagnostics { Terminal.standardError.write(diagnostic.description + "\n") }
            if !result.hasErrors {
                Terminal.standardError.write(
                    "ok: \(result.specs.count) VM file\(result.specs.count == 1 ? "" : "s") valid\n")
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
