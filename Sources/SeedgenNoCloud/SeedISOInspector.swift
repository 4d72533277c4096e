import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenYAML

/// What `seedgen inspect` reports about a seed ISO, read back through libisofs.
public struct SeedISOInspection: Sendable, Hashable, Codable {
    public var path: String
    /// Size of the image file in bytes.
    public var imageSize: Int64
    public var volumeID: String
    public var rockRidge: Bool
    public var joliet: Bool
    public var files: [SeedISOEntry]
    /// meta-data's `instance-id`, when it has one.
    public var instanceID: String?
    /// Problems a user needs to know: wrong label, missing or misnamed files, no instance-id.
    public var warnings: [String]
}

/// Reads a seed ISO back (through SeedgenISO) and checks it as cloud-init's NoCloud datasource
/// would read it: label, file names, Joliet names, meta-data's instance-id, Proxmox's size limit.
public enum SeedISOInspector {
    /// Seed files kept in memory for the content checks; larger ones are only hashed.
    static let contentCheckLimit = 4 << 20

    public static func inspect(_ url: URL) throws -> SeedISOInspection {
        var checkedContents: [String: Data] = [:]
        let (volumeID, rockRidge, joliet, entries, jolietRootNames) = try ISOImageReader.read(url) {
            entry, isRootFile in
            guard isRootFile, NoCloudFileName.all.contains(entry.path), entry.size <= contentCheckLimit else {
                return nil
            }
            return SeedISOMemorySink { data in checkedContents[entry.path] = data }
        }
        var status = stat()
        let imageSize = stat(url.path, &status) == 0 ? Int64(status.st_size) : 0
        var inspection = SeedISOInspection(
            path: url.path, imageSize: imageSize, volumeID: volumeID, rockRidge: rockRidge, joliet: joliet,
            files: entries,
            instanceID: nil, warnings: [])
        inspection.instanceID = applyChecks(
            to: &inspection, contents: checkedContents, jolietRootNames: jolietRootNames)
        return inspection
    }

    // MARK: - Checks a user needs

    /// Appends warnings to `inspection`; returns meta-data's instance-id when it has one.
    private static func applyChecks(
        to inspection: inout SeedISOInspection, contents: [String: Data], jolietRootNames: [String]?
    ) -> String? {
        var warnings: [String] = []
        if !SeedISO.acceptedVolumeIDs.contains(inspection.volumeID) {
            warnings.append(
                "volume id is '\(inspection.volumeID)', not 'cidata': cloud-init's NoCloud datasource will not find "
                    + "this seed"
            )
        }
        if !inspection.rockRidge {
            warnings.append(
                "no Rock Ridge extension: Linux guests see ISO 9660 names and modes, not the exact file names")
        }
        if !inspection.joliet {
            warnings.append("no Joliet extension: Windows and cloudbase-init readers see upper-case ISO 9660 names")
        }
        let rootNames = Set(inspection.files.filter { !$0.path.contains("/") }.map(\.path))
        if let jolietRootNames {
            for name in rootNames.sorted() where NoCloudFileName.all.contains(name) && !jolietRootNames.contains(name) {
                let found = jolietRootNames.first { $0.lowercased().hasPrefix(name) }.map { "'\($0)'" } ?? "missing"
                warnings.append(
                    "the Joliet name of \(name) is \(found): Windows and cloudbase-init readers will not find it")
            }
        }
        for name in rootNames.sorted() where name != name.lowercased() {
            if let meant = intendedNoCloudName(name) {
                warnings.append("'\(name)' should be named '\(meant)': cloud-init reads exact lower-case names")
            } else {
                warnings.append("'\(name)' has upper-case letters: cloud-init ignores it")
            }
        }
        for path in inspection.files.map(\.path) where path.contains("/") {
            warnings.append("'\(path)' is in a subdirectory: cloud-init's NoCloud datasource reads only the root")
        }
        for required in [NoCloudFileName.userData, NoCloudFileName.metaData] where !rootNames.contains(required) {
            warnings.append("no \(required) at the root: cloud-init's NoCloud datasource requires it")
        }
        if let userData = inspection.files.first(where: { $0.path == NoCloudFileName.userData }), userData.size == 0 {
            warnings.append("user-data is empty: cloud-init will configure nothing")
        }
        var instanceID: String?
        if rootNames.contains(NoCloudFileName.metaData) {
            if let metaData = contents[NoCloudFileName.metaData] {
                switch metaDataInstanceID(metaData) {
                case .success(let id?): instanceID = id
                case .success(nil):
                    warnings.append(
                        "meta-data has no instance-id: cloud-init falls back to 'nocloud', so every VM shares one "
                            + "instance"
                    )
                case .failure(let reason):
                    warnings.append(
                        "meta-data is not valid YAML (\(reason)): cloud-init ignores it and uses instance-id 'nocloud'")
                }
            }
        }
        let seedFiles = inspection.files.filter { NoCloudFileName.all.contains($0.path) }
        let total = seedFiles.reduce(Int64(0)) { $0 + $1.size }
        if total > Int64(SeedSizeLimit.proxmoxTotalBytes) {
            warnings.append(
                "the NoCloud files total \(total) bytes, more than Proxmox's \(SeedSizeLimit.proxmoxTotalBytes >> 20) "
                    + "MiB cloud-init limit"
            )
        }
        inspection.warnings = warnings
        return instanceID
    }

    /// `USER-DATA`, `USER_DAT`, `META_DAT.;1` → the NoCloud name they were probably meant to be.
    static func intendedNoCloudName(_ name: String) -> String? {
        var normalised = name.lowercased()
        if let semicolon = normalised.firstIndex(of: ";") { normalised = String(normalised[..<semicolon]) }
        if normalised.hasSuffix(".") { normalised.removeLast() }
        normalised = normalised.replacingOccurrences(of: "_", with: "-")
        return NoCloudFileName.all.first { $0 == normalised || ($0.hasPrefix(normalised) && normalised.count >= 8) }
    }

    struct YAMLFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func metaDataInstanceID(_ data: Data) -> Result<String?, YAMLFailure> {
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(YAMLFailure(description: "not UTF-8"))
        }
        do {
            guard let node = try YAMLReader.read(text) else { return .success(nil) }
            // By its text: an instance-id of digits only is still the id.
            guard let value = node["instance-id"]?.scalar?.text, !value.isEmpty else { return .success(nil) }
            return .success(value)
        } catch {
            let firstLine = String(describing: error).split(separator: "\n").first.map(String.init) ?? "parse error"
            return .failure(YAMLFailure(description: firstLine))
        }
    }
}
