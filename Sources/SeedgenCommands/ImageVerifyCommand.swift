import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage

struct ImageVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-verify the cache offline (digests, checksum lists, signatures), or check image files.",
        discussion: """
            Without FILE: every cached image is re-hashed and its checksum list and signature re-checked.
            With FILE: the file is hashed, inspected (qcow2 header or raw) and matched against the cache.
            """)

    @Argument(help: "Image files to check instead of the whole cache.")
    var files: [String] = []

    @Option(help: "Expected SHA-256 of FILE.") var sha256: String?

    @OptionGroup var store: ImageStoreOptions
    @OptionGroup var output: OutputOptions

    struct FileResult: Encodable {
        var path: String
        var sha256: String
        var size: UInt64
        var format: String
        var virtualSize: UInt64
        var cachedAs: [String]
        var ok: Bool
        var problem: String?
    }

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let imageStore = try store.makeStore(progress: output.progress)
            if files.isEmpty {
                let findings = try imageStore.verifyAll()
                if output.json {
                    try printJSON(findings)
                } else {
                    for finding in findings {
                        let status = finding.ok ? "ok  " : "FAIL"
                        let detail =
                            finding.ok
                            ? finding.checks.joined(separator: "; ") : finding.problems.joined(separator: "; ")
                        Terminal.standardOutput.write(
                            "\(status) \(finding.record.fileName) \(finding.record.sha256.prefix(12)): \(detail)\n")
                    }
                    Terminal.standardOutput.write(
                        "\(findings.filter(\.ok).count) of \(findings.count) cached images verified\n")
                }
                let bad = findings.filter { !$0.ok }
                if !bad.isEmpty {
                    throw SeedgenError.runtime(
                        message: "\(bad.count) cached images failed verification",
                        hint: "remove them with `seedgen image gc --remove SHA256` and fetch them again")
                }
                return
            }
            var results: [FileResult] = []
            for file in files {
                let url = URL(fileURLWithPath: file)
                let spec = ImageSpec(path: url.standardizedFileURL.path, sha256: sha256)
                do {
                    let resolved = try await imageStore.resolve(spec, lockfile: nil)
                    let cachedAs = try imageStore.records().filter { $0.sha256 == resolved.sha256 }.map {
                        "\($0.name ?? $0.source) (\($0.verification))"
                    }
                    results.append(
                        FileResult(
                            path: file, sha256: resolved.sha256, size: resolved.size, format: resolved.format,
                            virtualSize: resolved.virtualSize, cachedAs: cachedAs, ok: true))
                } catch let error as SeedgenError {
                    results.append(
                        FileResult(
                            path: file, sha256: "", size: 0, format: "", virtualSize: 0, cachedAs: [], ok: false,
                            problem: error.description))
                }
            }
            if output.json {
                try printJSON(results)
            } else {
                for result in results {
                    if result.ok {
                        let known =
                            result.cachedAs.isEmpty
                            ? "not in the cache" : "cached as " + result.cachedAs.joined(separator: ", ")
                        Terminal.standardOutput.write(
                            "ok   \(result.path): sha256 \(result.sha256), \(result.format), virtual size "
                                + "\(result.virtualSize); \(known)\n"
                        )
                    } else {
                        Terminal.standardOutput.write("FAIL \(result.path): \(result.problem ?? "")\n")
                    }
                }
            }
            if results.contains(where: { !$0.ok }) {
                throw SeedgenError.runtime(
                    message: "\(results.filter { !$0.ok }.count) of \(results.count) files failed verification")
            }
        }
    }
}
