import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

/// Options of one `seedgen build` run (SPEC §3).
public struct BuildOptions: Sendable {
    public var outputDirectory: URL
    public var jobs: Int
    public var offline: Bool
    public var cacheDirectory: URL
    public var catalogFile: URL?
    public var includeImage: Bool
    public var progress: ProgressMode
    public var environment: [String: String]
    /// CA certificates (PEM) trusted beside the system store for downloads (`--ca-file`).
    public var caFile: String?
    /// Checks a command adds to validation (`apply` refuses what its API path cannot do).
    public var extraChecks: [@Sendable (VMSpec) -> [Diagnostic]] = []

    public init(
        outputDirectory: URL, jobs: Int = ProcessInfo.processInfo.activeProcessorCount, offline: Bool = false,
        cacheDirectory: URL = ImageCacheLocation.defaultDirectory(), catalogFile: URL? = nil,
        includeImage: Bool = false,
        progress: ProgressMode = .auto, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.outputDirectory = outputDirectory
        self.jobs = max(1, jobs)
        self.offline = offline
        self.cacheDirectory = cacheDirectory
        self.catalogFile = catalogFile
        self.includeImage = includeImage
        self.progress = progress
        self.environment = environment
    }
}

/// What happened to one VM of a build: printed as a table row or as JSON.
public struct BuildOutcome: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable {
        case built
        case failed
    }

    public var name: String
    public var vmid: Int
    public var file: String
    public var status: Status
    /// `DIR/<name>` when built.
    public var directory: String?
    /// Artifact name → sha256, as in SHA256SUMS.
    public var files: [String: String]
    public var seedISO: String?
    public var image: String?
    public var imageVerification: String?
    public var error: String?
}

/// The result of a whole run.
public struct BuildReport: Sendable, Codable {
    public var outputDirectory: String
    public var vms: [BuildOutcome]
    public var built: Int { vms.filter { $0.status == .built }.count }
    public var failed: Int { vms.filter { $0.status == .failed }.count }

    enum CodingKeys: String, CodingKey { case outputDirectory, vms, built, failed }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(outputDirectory, forKey: .outputDirectory)
        try container.encode(vms, forKey: .vms)
        try container.encode(built, forKey: .built)
        try container.encode(failed, forKey: .failed)
    }

    public init(outputDirectory: String, vms: [BuildOutcome]) {
        self.outputDirectory = outputDirectory
        self.vms = vms
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        outputDirectory = try container.decode(String.self, forKey: .outputDirectory)
        vms = try container.decode([BuildOutcome].self, forKey: .vms)
    }

    /// The summary table printed after a build.
    public var table: String {
        let header = ["NAME", "VMID", "STATUS", "DIRECTORY", "IMAGE"]
        let rows = vms.map { outcome in
            [
                outcome.name, String(outcome.vmid), outcome.status.rawValue, outcome.directory ?? "-",
                outcome.status == .failed
                    ? (outcome.error?.split(separator: "\n").first.map(String.init) ?? "")
                    : (outcome.imageVerification ?? "no image"),
            ]
        }
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let lines = ([header] + rows).map { row in
            zip(row, widths).enumerated().map { index, pair in
                index == row.count - 1 ? pair.0 : pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return lines.joined(separator: "\n") + "\n\(built) built, \(failed) failed\n"
    }
}
