import Foundation
import SeedgenCore
import SeedgenISO

/// What `seedgen iso` produced (its `--json` object).
public struct SeedISOPackResult: Sendable, Hashable, Codable {
    public struct PackedFile: Sendable, Hashable, Codable {
        public var name: String
        public var size: Int
        public var sha256: String
        /// Where the bytes came from: a path, `-` (standard input) or `generated`.
        public var source: String
    }

    /// The ISO's path, or `-` when it went to standard output.
    public var output: String
    public var size: Int
    public var sha256: String
    public var volumeID: String
    public var epoch: Int64
    public var instanceID: String?
    public var files: [PackedFile]
    public var warnings: [String]
}

/// `seedgen iso`: reads the requested files, generates a meta-data when none is given (as
/// cloud-localds does), checks them and packs the seed.
public enum SeedISOPacker {
    public static func pack(
        _ request: SeedISORequest, epoch: Int64,
        readStandardInput: () throws -> Data = { FileHandle.standardInput.readDataToEndOfFile() },
        writeStandardOutput: (Data) throws -> Void = { try FileHandle.standardOutput.write(contentsOf: $0) }
    ) throws -> SeedISOPackResult {
        var collector = DiagnosticCollector()
        var files: [SeedFile] = []
        var sources: [String: String] = [:]
        for name in NoCloudFileName.all {
            guard let path = request.inputs[name] else { continue }
            do {
                let data = path == "-" ? try readStandardInput() : try readInput(path)
                files.append(SeedFile(name: name, data: data))
                sources[name] = path
            } catch let error as InputFailure {
                collector.error(error.reason, at: nil, keyPath: name, allowed: "an existing, readable file")
            }
        }
        let interfacesText: String?
        if let interfaces = request.interfaces {
            do {
                interfacesText = String(decoding: try readInput(interfaces), as: UTF8.self)
            } catch let error as InputFailure {
                collector.error(error.reason, at: nil, keyPath: "--interfaces", allowed: "an existing, readable file")
                interfacesText = nil
            }
        } else {
            interfacesText = nil
        }
        try collector.throwIfErrors()

        var warnings = request.notes
        if !files.contains(where: { $0.name == NoCloudFileName.metaData }) {
            let metaData = generatedMetaData(
                for: files, instanceID: request.instanceID, hostname: request.hostname, dsmode: request.dsmode,
                interfaces: interfacesText)
            files.insert(SeedFile(name: NoCloudFileName.metaData, data: metaData), at: min(1, files.count))
            sources[NoCloudFileName.metaData] = "generated"
        }
        let (contentProblems, instanceID) = contentWarnings(files)
        warnings += contentProblems
        warnings += SeedSizeLimit.check(files, mode: .iso).map(\.description)

        let image: Data
        if request.output == "-" {
            image = try NoCloudSeed.image(files: files, volumeID: request.volumeID, epoch: epoch)
            try writeStandardOutput(image)
        } else {
            let url = URL(fileURLWithPath: request.output)
            try NoCloudSeed.write(files: files, volumeID: request.volumeID, epoch: epoch, to: url)
            image = try Data(contentsOf: url)
        }
        return SeedISOPackResult(
            output: request.output, size: image.count, sha256: Digest.sha256Hex(image), volumeID: request.volumeID,
            epoch: epoch,
            instanceID: instanceID,
            files: files.map {
                .init(
                    name: $0.name, size: $0.data.count, sha256: Digest.sha256Hex($0.data),
                    source: sources[$0.name] ?? "generated")
            },
            warnings: warnings)
    }

    /// A meta-data like cloud-localds writes (JSON, which is YAML), with an instance-id derived
    /// from the other files' content: it changes exactly when the seed's content changes, so
    /// cloud-init reruns its per-instance modules then and only then.
    public static func generatedMetaData(
        for files: [SeedFile], instanceID: String? = nil, hostname: String? = nil, dsmode: String? = nil,
        interfaces: String? = nil
    ) -> Data {
        var content = Data()
        for file in files.sorted(by: { $0.name < $1.name }) where file.name != NoCloudFileName.metaData {
            content.append(Data("\(file.name)\0\(file.data.count)\0".utf8))
            content.append(file.data)
        }
        let derivedID = "iid-seedgen-" + Digest.sha256Hex(content).prefix(16)
        var pairs: [(String, String)] = [("instance-id", instanceID ?? derivedID)]
        if let hostname, !hostname.isEmpty { pairs.append(("local-hostname", hostname)) }
        if let interfaces, !interfaces.isEmpty { pairs.append(("interfaces", interfaces)) }
        if let dsmode, !dsmode.isEmpty { pairs.append(("dsmode", dsmode)) }
        let lines = pairs.map { key, value in "\"\(key)\": \(JSONOutput.stringLiteral(value))" }
        return Data("{\n\(lines.joined(separator: ",\n"))\n}\n".utf8)
    }

    /// Headers cloud-init recognises at the start of user-data.
    static let userDataHeaders = [
        "#cloud-config", "#!", "#include", "#cloud-boothook", "#part-handler", "#upstart-job", "## template:",
        "Content-Type:", "MIME-Version:",
    ]

    /// Warnings about user-data's header and meta-data's instance-id, and that instance-id.
    static func contentWarnings(_ files: [SeedFile]) -> (warnings: [String], instanceID: String?) {
        var warnings: [String] = []
        var instanceID: String?
        if let userData = files.first(where: { $0.name == NoCloudFileName.userData })?.data, !userData.isEmpty {
            let gzipMagic = userData.starts(with: [0x1F, 0x8B])
            if userData.starts(with: [0xEF, 0xBB, 0xBF]) {
                warnings.append("user-data starts with a byte order mark: cloud-init will not recognise its header")
            } else if !gzipMagic {
                let head = String(decoding: userData.prefix(32), as: UTF8.self)
                if !userDataHeaders.contains(where: { head.hasPrefix($0) }) {
                    warnings.append(
                        "user-data does not start with '#cloud-config' or another cloud-init header ('#!', '#include', "
                            + "'Content-Type:'): cloud-init will ignore it"
                    )
                }
            }
        }
        if let metaData = files.first(where: { $0.name == NoCloudFileName.metaData })?.data {
            switch SeedISOInspector.metaDataInstanceID(metaData) {
            case .success(nil):
                warnings.append(
                    "meta-data has no instance-id: cloud-init falls back to 'nocloud', so every VM shares one instance")
            case .failure(let reason):
                warnings.append(
                    "meta-data is not valid YAML (\(reason)): cloud-init ignores it and uses instance-id 'nocloud'")
            case .success(let id):
                instanceID = id
            }
        }
        return (warnings, instanceID)
    }

    struct InputFailure: Error {
        var reason: String
    }

    /// Reads a whole input file, failing with the system's reason (no such file, permission denied, is a directory).
    static func readInput(_ path: String) throws -> Data {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw InputFailure(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        if fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            throw InputFailure(reason: "cannot read \(path): it is a directory")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw InputFailure(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }
}
