import Foundation
import SeedgenCore
import SeedgenISO

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
    /// Problems that make `files` unusable as a NoCloud seed: bad or duplicate names, no user-data,
    /// empty user-data, no meta-data. Each is an error naming the file.
    public static func validationDiagnostics(_ files: [SeedFile]) -> [Diagnostic] {
        var collector = DiagnosticCollector()
        collector.append(contentsOf: SeedFile.nameDiagnostics(files, examples: NoCloudFileName.all))
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

/// The NoCloud seed ISO: the files checked as cloud-init's NoCloud datasource needs them, then
/// packed by SeedgenISO.
public enum NoCloudSeed {
    /// The ISO image bytes; `invalidInput` for files cloud-init could not use.
    public static func image(files: [SeedFile], volumeID: String = SeedISO.defaultVolumeID, epoch: Int64) throws -> Data
    {
        try validate(files)
        return try SeedISO.image(files: files, volumeID: volumeID, epoch: epoch)
    }

    /// Same, written atomically to `url`.
    public static func write(files: [SeedFile], volumeID: String = SeedISO.defaultVolumeID, epoch: Int64, to url: URL)
        throws
    {
        try validate(files)
        try SeedISO.write(files: files, volumeID: volumeID, epoch: epoch, to: url)
    }

    private static func validate(_ files: [SeedFile]) throws {
        var collector = DiagnosticCollector()
        collector.append(contentsOf: SeedFile.validationDiagnostics(files))
        try collector.throwIfErrors()
    }
}
