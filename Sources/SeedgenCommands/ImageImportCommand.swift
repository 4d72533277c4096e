import ArgumentParser
import Foundation
import SeedgenCore

struct ImageImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Re-verify every image of an export directory and add the good ones to the cache (no network).")

    @Argument(help: "A directory written by `seedgen image export`.")
    var directory: String

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            let findings = try imageStore.importImages(from: URL(fileURLWithPath: directory))
            if output.json {
                try printJSON(findings)
            } else {
                for finding in findings {
                    Terminal.standardOutput.write(
                        "imported \(finding.record.fileName) (\(finding.record.sha256.prefix(12))…): "
                            + "\(finding.checks.joined(separator: "; "))\n"
                    )
                }
            }
        }
    }
}
