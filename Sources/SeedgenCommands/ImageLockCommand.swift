import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

struct ImageLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve each vm.yaml's image to a dated URL and digest and write seedgen.lock beside it.",
        discussion: """
            `latest`/`current` URLs move; seedgen.lock pins what they pointed to today, and every later
            `seedgen build` uses the pinned URL and sha256. Commit seedgen.lock with vm.yaml. Re-run to update.
            An image URL that no digest, checksum list or known publisher verifies is locked only with
            --trust-on-first-use: its first download is recorded as the truth, marked as first-use trust.
            """)

    @Argument(help: "vm.yaml files (or Ansible variables files and playbooks).")
    var files: [String]

    @Flag(
        help:
            """
            Lock image URLs that nothing verifies: download them now and pin the digest seen (marked as first-use \
            trust).
            """
    )
    var trustOnFirstUse = false

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
                let loader = SpecLoader.standard(catalog: imageStore.catalog, trustOnFirstUse: trustOnFirstUse)
                for vm in try loader.loadAll([file]).get() {
                    guard let spec = vm.image else {
                        Terminal.standardError.write("\(file): \(vm.name) has no image: key, nothing to lock\n")
                        continue
                    }
                    guard let (key, entry) = try await imageStore.lockEntry(for: spec, trustOnFirstUse: trustOnFirstUse)
                    else {
                        Terminal.standardError.write("\(file): \(vm.name)'s image is a local file, nothing to lock\n")
                        continue
                    }
                    let lockURL = try ImageLockfile.record(entry, key: key, besides: vmFile)
                    results.append(Result(lockfile: lockURL.path, key: key, entry: entry))
                    if !output.json {
                        Terminal.standardOutput.write(
                            "\(lockURL.path): \(key) → \(entry.url)\n  sha256 \(entry.sha256) (\(entry.verification))\n"
                        )
                    }
                }
            }
            if output.json { try printJSON(results) }
        }
    }
}
