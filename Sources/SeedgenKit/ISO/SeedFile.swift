import Foundation

/// One file of a NoCloud seed, held in memory: its name at the ISO's root and its bytes.
public struct SeedFile: Sendable, Hashable {
    public var name: String
    public var data: Data

    public init(name: String, data: Data) {
        self.name = name
        self.data = data
    }
}

/// The file names cloud-init's NoCloud datasource reads from a seed's root (exact, lowercase).
public enum NoCloudFileName {
    public static let userData = "user-data"
    public static let metaData = "meta-data"
    public static let networkConfig = "network-config"
    public static let vendorData = "vendor-data"

    /// In the order seedgen lists and packs them.
    public static let all = [userData, metaData, networkConfig, vendorData]
}

extension SeedFile {
    /// Problems that make `files` unusable as a seed: bad or duplicate names, no user-data,
    /// empty user-data, no meta-data. Each is an error naming the file.
    public static func validationDiagnostics(_ files: [SeedFile]) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        var seen = Set<String>()
        for file in files {
            if file.name.isEmpty || file.name == "." || file.name == ".." || file.name.contains("/")
                || file.name.utf8.contains(0) || file.name.utf8.count > 255
            {
                collector.error(
                    "'\(file.name)' is not a valid file name for the seed's root", at: nil, keyPath: "",
                    allowed: "a plain name without '/', at most 255 bytes, such as \(NoCloudFileName.all.joined(separator: ", "))")
                continue
            }
            if !seen.insert(file.name).inserted {
                collector.error("given twice", at: nil, keyPath: file.name, allowed: "each seed file once")
            }
        }
        let byName = Dictionary(files.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if let userData = byName[NoCloudFileName.userData] {
            if userData.data.isEmpty {
                collector.error(
                    "is empty", at: nil, keyPath: NoCloudFileName.userData,
                    allowed: "a '#cloud-config' document, a '#!' script or a MIME multipart message")
            }
        } else {
            collector.error(
                "the seed has no user-data", at: nil, keyPath: "",
                allowed: "a file named user-data; cloud-init's NoCloud datasource requires it")
        }
        if byName[NoCloudFileName.metaData] == nil {
            collector.error(
                "the seed has no meta-data", at: nil, keyPath: "",
                allowed: "a file named meta-data with an instance-id; cloud-init's NoCloud datasource requires it")
        }
        return collector.diagnostics
    }
}
