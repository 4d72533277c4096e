import ArgumentParser
import Foundation
import SeedgenKit

struct ImageLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve each vm.yaml's image to a dated URL and digest and write seedgen.lock beside it.",
        discussion: """
            `latest`/`current` URLs move; seedgen.lock pins what they pointed to today, and every later
            `seedgen build` uses the pinned URL and sha256. Commit seedgen.lock with vm.yaml. Re-run to update.
            """)

    @Argument(help: "vm.yaml files.")
    var files: [String]

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    struct Result: Encodable {
        var lockfile: String
        var key: String
        var entry: ImageLockEntry
    }

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            var results: [Result] = []
            for file in files {
                let vmFile = URL(fileURLWithPath: file)
                // The full vm.yaml loader: `extends`, validation and relative paths as `build` sees them.
                guard let spec = try SpecLoader.standard(catalog: imageStore.catalog).load(file).image else {
                    Terminal.standardError.write("\(file): no image: key, nothing to lock\n")
                    continue
                }
                guard let (key, entry) = try await imageStore.lockEntry(for: spec) else {
                    Terminal.standardError.write("\(file): image is a local path, nothing to lock\n")
                    continue
                }
                let lockURL = ImageLockfile.url(besides: vmFile)
                var lockfile = try ImageLockfile.read(lockURL)
                lockfile.images[key] = entry
                try lockfile.write(to: lockURL)
                results.append(Result(lockfile: lockURL.path, key: key, entry: entry))
                if !output.json {
                    Terminal.standardOutput.write("\(lockURL.path): \(key) → \(entry.url)\n  sha256 \(entry.sha256) (\(entry.verification))\n")
                }
            }
            if output.json { try printJSON(results) }
        }
    }
}
