import Foundation
import SeedgenCore

/// What the image file is, read from its header: qcow2 (with its virtual size) or raw.
public struct ImageFileInfo: Sendable, Hashable, Codable {
    public var format: String
    public var virtualSize: UInt64
    public var qcow2Version: Int?
    public var backingFile: String?
    public var encrypted: Bool
}

public enum ImageInspector {
    /// Reads the header of `file`. Refuses what Proxmox cannot import as a boot disk: qcow2 with a
    /// backing file or encryption, and compressed containers (xz, zstd, gzip, bzip2).
    public static func inspect(_ file: URL) throws -> ImageFileInfo {
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw SeedgenError.runtime(
                message: "cannot open image \(file.path)", cause: String(cString: strerror(errno)))
        }
        defer { try? handle.close() }
        let header = (try handle.read(upToCount: 512)) ?? Data()
        let fileSize =
            (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.uint64Value ?? 0
        let bytes = [UInt8](header)
        func bigEndian(_ offset: Int, _ count: Int) -> UInt64 {
            guard offset + count <= bytes.count else { return 0 }
            return bytes[offset..<offset + count].reduce(0) { $0 << 8 | UInt64($1) }
        }
        if bytes.starts(with: [0x51, 0x46, 0x49, 0xFB]) {
            let version = Int(bigEndian(4, 4))
            let backingOffset = bigEndian(8, 8)
            let backingSize = bigEndian(16, 4)
            let virtualSize = bigEndian(24, 8)
            let cryptMethod = bigEndian(32, 4)
            var backing: String?
            if backingOffset != 0 && backingSize > 0 && backingSize < 4096 {
                try handle.seek(toOffset: backingOffset)
                backing = String(decoding: (try handle.read(upToCount: Int(backingSize))) ?? Data(), as: UTF8.self)
            }
            guard version == 2 || version == 3 else {
                throw SeedgenError.runtime(
                    message: "\(file.lastPathComponent): unsupported qcow2 version \(version)",
                    hint: "qcow2 versions 2 and 3 are supported")
            }
            if let backing {
                throw SeedgenError.runtime(
                    message: "\(file.lastPathComponent) is a qcow2 overlay with backing file \(backing)",
                    hint:
                        "Proxmox refuses images with a backing file; flatten it first: qemu-img convert -O qcow2 IN OUT"
                )
            }
            if cryptMethod != 0 {
                throw SeedgenError.runtime(
                    message: "\(file.lastPathComponent) is an encrypted qcow2 image",
                    hint: "use an unencrypted cloud image")
            }
            return ImageFileInfo(
                format: "qcow2", virtualSize: virtualSize, qcow2Version: version, backingFile: nil, encrypted: false)
        }
        let compressed: [(String, [UInt8])] = [
            ("xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]), ("zstd", [0x28, 0xB5, 0x2F, 0xFD]), ("gzip", [0x1F, 0x8B]),
            ("bzip2", [0x42, 0x5A, 0x68]),
        ]
        if let match = compressed.first(where: { bytes.starts(with: $0.1) }) {
            throw SeedgenError.runtime(
                message: "\(file.lastPathComponent) is \(match.0)-compressed",
                hint: "Proxmox cannot import compressed images; decompress it first and point seedgen at the result")
        }
        if bytes.starts(with: Array("KDMV".utf8)) || bytes.starts(with: Array("vhdxfile".utf8)) {
            throw SeedgenError.runtime(
                message: "\(file.lastPathComponent) is a VMDK/VHDX image",
                hint: "convert it: qemu-img convert -O qcow2 IN OUT")
        }
        return ImageFileInfo(
            format: "raw", virtualSize: fileSize, qcow2Version: nil, backingFile: nil, encrypted: false)
    }
}
