import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage

struct ImageListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the catalog and the cached images.")

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Only the cached images.")
    var cached = false

    struct Result: Encodable {
        var catalog: [ImageCatalogEntry]
        var publishers: [ImagePublisher]
        var cached: [ImageCacheRecord]
        /// Why the cached images cannot be listed (a damaged index.json); the catalog still is.
        var cacheError: ErrorReport.Body?
    }

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            // A damaged index still lets the catalog be listed; the error follows, and the exit code is 1.
            let records: [ImageCacheRecord]
            var indexError: SeedgenError?
            do {
                records = try imageStore.records()
            } catch {
                records = []
                indexError = SeedgenError.wrap(error, "cannot read the image cache index")
            }
            if output.json {
                try printJSON(
                    Result(
                        catalog: cached ? [] : imageStore.catalog.entries,
                        publishers: cached ? [] : imageStore.catalog.publishers, cached: records,
                        cacheError: indexError.map { ErrorReport($0).error }))
                if let indexError { throw indexError }
                return
            }
            var lines: [String] = []
            if !cached {
                lines.append("Catalog:")
                let width = imageStore.catalog.names.map(\.count).max() ?? 0
                for entry in imageStore.catalog.entries {
                    let isCached = records.contains { $0.name == entry.name || $0.source == entry.url }
                    lines.append(
                        "  \(entry.name.padding(toLength: width, withPad: " ", startingAt: 0))  "
                            + "\(isCached ? "cached" : "      ")  \(entry.description)"
                    )
                    lines.append("  \(String(repeating: " ", count: width))          \(entry.url)")
                    lines.append("  \(String(repeating: " ", count: width))          trust: \(entry.trustSummary)")
                }
                lines.append("")
                lines.append("Publishers (any image URL under these is checked by the list beside it):")
                for publisher in imageStore.catalog.publishers {
                    lines.append("  \(publisher.root)")
                    lines.append("      trust: \(publisher.trustSummary)")
                }
                lines.append("")
            }
            lines.append("Cache \(imageStore.directory.path):")
            if indexError != nil {
                lines.append("  (index.json cannot be read; see the error below)")
            } else if records.isEmpty {
                lines.append("  (empty)")
            }
            for record in records {
                lines.append(
                    "  \(record.sha256.prefix(12))  "
                        + "\(ByteSize.readable(record.size).padding(toLength: 10, withPad: " ", startingAt: 0))  "
                        + "\(record.format)  \(record.name ?? "-")  \(record.fileName)"
                )
                lines.append("                \(record.source)")
                lines.append("                \(record.verification), fetched \(record.fetchedAt)")
            }
            Terminal.standardOutput.write(lines.joined(separator: "\n") + "\n")
            if let indexError { throw indexError }
        }
    }
}
