import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage

struct ImageFetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch", abstract: "Download and verify an image into the cache (catalog name, URL or file).",
        discussion: """
            Examples:
              seedgen image fetch ubuntu-24.04
              seedgen image fetch https://example.org/disk.qcow2 --checksums-url https://example.org/SHA256SUMS
              seedgen image fetch https://example.org/disk.qcow2 --sha256 3f0c…
            """)

    @Argument(help: "A catalog name (see `seedgen image list`), an http(s):// or file:// URL, or a local file.")
    var image: String

    @Option(help: "Expected SHA-256 of the image.") var sha256: String?
    @Option(help: "Expected SHA-512 of the image.") var sha512: String?
    @Option(help: "Checksum list (SHA256SUMS-style) in which the digest is looked up by file name.") var checksumsURL:
        String?
    @Option(help: "Detached OpenPGP signature of the checksum list.") var signatureURL: String?
    @Option(help: "Keyring whose keys may sign the checksum list.") var keyring: String?
    @Option(parsing: .upToNextOption, help: "Only these key fingerprints are trusted.") var fingerprint: [String] = []
    @Flag(help: "Fetch again even when the cache has it.") var refresh = false

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            let request = ImageFetchRequest(
                image: image, sha256: sha256, sha512: sha512, checksumsURL: checksumsURL, signatureURL: signatureURL,
                keyring: keyring, fingerprints: fingerprint)
            let plan = try ImageSourcePlan(request, catalog: imageStore.catalog)
            let resolved = try await imageStore.fetch(plan, refresh: refresh)
            if output.json {
                try printJSON(resolved)
            } else {
                Terminal.standardOutput.write(
                    """
                    \(resolved.path.path)
                      file \(resolved.fileName), \(resolved.size) bytes, \(resolved.format), virtual size \(resolved.virtualSize)
                      sha256 \(resolved.sha256)
                      \(resolved.verification)

                    """)
            }
        }
    }
}
