import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage

struct ImageGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Drop index entries (--remove), the files only they used, and stale partial downloads.",
        discussion: """
            Files under sha256/, lists/ and keyrings/ that no index entry names are kept and listed (an index \
            restored from a backup may not name an image that is the only copy); --remove-unindexed deletes them. \
            A damaged index.json stops gc before anything is deleted.
            """)

    @Option(parsing: .upToNextOption, help: "First drop these entries (catalog name, URL, file name or sha256).")
    var remove: [String] = []

    @Flag(help: "Also delete files under sha256/, lists/ and keyrings/ that no index entry names.")
    var removeUnindexed = false

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            let report = try imageStore.collectGarbage(remove: remove, removeUnindexed: removeUnindexed)
            if output.json {
                try printJSON(report)
            } else {
                Terminal.standardOutput.write(
                    "removed \(report.removedRecords) entries and \(report.removedFiles.count) files, freed "
                        + "\(ByteSize.readable(report.freedBytes))\n"
                )
                if !report.keptUnindexedFiles.isEmpty {
                    Terminal.standardOutput.write(
                        "kept \(report.keptUnindexedFiles.count) files the index does not name (delete them with "
                            + "--remove-unindexed):\n"
                            + report.keptUnindexedFiles.map { "  \($0)\n" }.joined())
                }
            }
        }
    }
}
