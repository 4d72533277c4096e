import ArgumentParser
import Foundation
import SeedgenBuild
import SeedgenCore
import SeedgenImage

/// `seedgen image …`: the catalog, the verified image cache, seedgen.lock and air-gap transfer.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Cloud images: catalog, verified downloads, cache, lockfile, air-gap transfer.",
        subcommands: [
            ImageListCommand.self, ImageFetchCommand.self, ImageVerifyCommand.self, ImageLockCommand.self,
            ImageExportCommand.self, ImageImportCommand.self, ImageGCCommand.self,
        ]
    )
}

/// Where the cache and the catalog are, and whether the network may be used.
struct ImageStoreOptions: ParsableArguments {
    @Option(
        help: "Image cache directory (default: $SEEDGEN_CACHE, else $XDG_CACHE_HOME/seedgen, else ~/.cache/seedgen).")
    var cache: String?

    @Option(help: "Extra image catalog (YAML); default: ~/.config/seedgen/catalog.yaml when it exists.")
    var catalog: String?

    @Flag(help: "Never open a network connection; a missing image is an error naming the command to run elsewhere.")
    var offline = false

    @Option(
        help:
            """
            PEM file of CA certificates trusted beside the system store, for downloads and apply's API (default: \
            $SEEDGEN_CA_FILE).
            """
    )
    var caFile: String?

    func makeCatalog() throws -> ImageCatalog {
        try ImageCatalog.load(userCatalog: catalog.map { URL(fileURLWithPath: $0) })
    }

    /// The same choices for a build, which opens the store itself.
    func apply(to options: inout BuildOptions) {
        options.offline = offline
        if let cache { options.cacheDirectory = URL(fileURLWithPath: cache) }
        options.catalogFile = catalog.map { URL(fileURLWithPath: $0) }
        options.caFile = caFile
    }

    func makeStore(progress: ProgressMode) throws -> ImageStore {
        let directory = cache.map { URL(fileURLWithPath: $0) } ?? ImageCacheLocation.defaultDirectory()
        var policy = ImageFetchPolicy.fromEnvironment()
        if let caFile { policy.caFile = caFile }
        return try ImageStore(
            directory: directory, catalog: try makeCatalog(), progress: progress, offline: offline, policy: policy)
    }
}

/// Prints `value` as one JSON object on stdout.
func printJSON(_ value: some Encodable) throws {
    StandardOutputJSON.write(value)
}
