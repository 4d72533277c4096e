import Foundation
import SeedgenCore
import SeedgenISO

/// The command line of `seedgen iso` before interpretation. Two conventions are accepted:
/// seedgen's own (`-o seed.iso` with `--user-data F …` or a directory) and cloud-localds's
/// (`seed.iso user-data [meta-data] [-N network-config] [-V vendor-data] [-H host]`).
public struct SeedISOArguments: Sendable, Hashable {
    public var positionals: [String] = []
    public var output: String?
    public var userData: String?
    public var metaData: String?
    public var networkConfig: String?
    public var vendorData: String?
    public var volumeID: String = SeedISO.defaultVolumeID
    public var instanceID: String?
    /// cloud-localds options that only shape a generated meta-data.
    public var hostname: String?
    public var dsmode: String?
    public var interfaces: String?
    /// cloud-localds options seedgen accepts only with the values it supports.
    public var filesystem: String?
    public var diskFormat: String?

    public init() {}
}

/// What `seedgen iso` will pack and where, resolved from `SeedISOArguments`.
public struct SeedISORequest: Sendable, Hashable {
    /// Target ISO path, or `-` for standard output.
    public var output: String
    /// Input path per NoCloud file name; `-` (user-data only) reads standard input.
    public var inputs: [String: String]
    public var volumeID: String
    public var instanceID: String?
    public var hostname: String?
    public var dsmode: String?
    public var interfaces: String?
    /// Things the user should know about the resolution (ignored files in a directory).
    public var notes: [String]

    public static func resolve(_ arguments: SeedISOArguments) throws -> SeedISORequest {
        if let filesystem = arguments.filesystem, !["iso9660", "iso"].contains(filesystem) {
            throw SeedgenError.usage(
                "--filesystem \(filesystem) is not supported: seedgen writes ISO 9660 seeds only (use cloud-localds "
                    + "for vfat or tar)"
            )
        }
        if let diskFormat = arguments.diskFormat, diskFormat != "raw" {
            throw SeedgenError.usage(
                "--disk-format \(diskFormat) is not supported: seedgen writes raw ISO images only (convert with "
                    + "qemu-img if needed)"
            )
        }
        var positionals = arguments.positionals
        var explicit: [String: String] = [:]
        let output: String
        var directory: String?
        if let given = arguments.output {
            output = given
            if positionals.count == 1, isDirectory(positionals[0]) {
                directory = positionals.removeFirst()
            }
        } else {
            guard positionals.count >= 2 else {
                if positionals.count == 1, isDirectory(positionals[0]) {
                    throw SeedgenError.usage("missing the output: seedgen iso \(positionals[0]) -o seed.iso")
                }
                throw SeedgenError.usage(
                    "missing arguments: seedgen iso -o seed.iso (--user-data F [--meta-data F] … | DIR), "
                        + "or as cloud-localds: seedgen iso seed.iso user-data [meta-data]")
            }
            output = positionals.removeFirst()
        }
        guard positionals.count <= 2 else {
            throw SeedgenError.usage(
                "too many arguments: \(positionals.joined(separator: " ")) (expected user-data [meta-data])")
        }
        for (name, path) in zip([NoCloudFileName.userData, NoCloudFileName.metaData], positionals) {
            explicit[name] = path
        }
        let options: [(String, String?)] = [
            (NoCloudFileName.userData, arguments.userData), (NoCloudFileName.metaData, arguments.metaData),
            (NoCloudFileName.networkConfig, arguments.networkConfig),
            (NoCloudFileName.vendorData, arguments.vendorData),
        ]
        for case (let name, let path?) in options {
            if let other = explicit[name], other != path {
                throw SeedgenError.usage("\(name) given twice: \(other) and \(path)")
            }
            explicit[name] = path
        }

        var inputs: [String: String] = [:]
        var notes: [String] = []
        if let directory {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() {
                if NoCloudFileName.all.contains(name) {
                    inputs[name] = (directory as NSString).appendingPathComponent(name)
                } else if !name.hasPrefix(".") {
                    notes.append("\(directory)/\(name) is not a NoCloud file name and is not packed")
                }
            }
        }
        inputs.merge(explicit) { _, explicitPath in explicitPath }
        for (name, path) in inputs where path == "-" && name != NoCloudFileName.userData {
            throw SeedgenError.usage("only user-data may be read from standard input, not \(name)")
        }
        if inputs[NoCloudFileName.metaData] != nil,
            arguments.hostname != nil || arguments.dsmode != nil || arguments.interfaces != nil
        {
            throw SeedgenError.usage(
                "a meta-data file is incompatible with --hostname, --dsmode and --interfaces (put them in the file)")
        }
        if inputs[NoCloudFileName.metaData] != nil, arguments.instanceID != nil {
            throw SeedgenError.usage(
                "a meta-data file is incompatible with --instance-id (put instance-id in the file)")
        }
        if inputs[NoCloudFileName.userData] == nil {
            let hint = directory.map { " (\($0) has no user-data)" } ?? ""
            throw SeedgenError.usage(
                "no user-data given\(hint): --user-data FILE, a directory holding user-data, or seedgen iso seed.iso "
                    + "user-data"
            )
        }
        return SeedISORequest(
            output: output, inputs: inputs, volumeID: arguments.volumeID, instanceID: arguments.instanceID,
            hostname: arguments.hostname, dsmode: arguments.dsmode, interfaces: arguments.interfaces, notes: notes)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
