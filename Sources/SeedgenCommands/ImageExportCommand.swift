import ArgumentParser
import Foundation
import SeedgenCore

struct ImageExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract:
            "Copy cached images with their index, checksum lists, signatures and keyrings into DIR (for an air-gapped "
            + "host)."
    )

    @Argument(help: "Target directory (created; existing files are kept).")
    var directory: String

    @Option(parsing: .upToNextOption, help: "Only these images (catalog name, URL, file name or sha256).")
    var only: [String] = []

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            let records = try imageStore.export(to: URL(fileURLWithPath: directory), only: only)
            if output.json {
                try printJSON(records)
            } else {
                for record in records {
                    Terminal.standardOutput.write("exported \(record.fileName) (\(record.sha256.prefix(12))…)\n")
                }
                Terminal.standardOutput.write(
                    "\(records.count) images in \(directory); on the offline host: seedgen image import \(directory)\n")
            }
        }
    }
}
