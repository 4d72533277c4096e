import ArgumentParser
import Foundation
import SeedgenKit

struct ImageGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete cache files no index entry references and stale partial downloads.")

    @Option(parsing: .upToNextOption, help: "First drop these entries (catalog name, URL, file name or sha256).")
    var remove: [String] = []

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            let report = try imageStore.collectGarbage(remove: remove)
            if output.json {
                try printJSON(report)
            } else {
                Terminal.standardOutput.write("removed \(report.removedRecords) entries and \(report.removedFiles.count) files, freed \(ImageProgressReporter.formatBytes(report.freedBytes))\n")
            }
        }
    }
}
