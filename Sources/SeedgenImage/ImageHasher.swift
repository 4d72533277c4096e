import Crypto
import Foundation
import SeedgenCore

/// Incremental SHA-256 (always: it names the cache entry) plus SHA-512 when a publisher lists it.
public struct ImageDigester: Sendable {
    private var sha256 = SHA256()
    private var sha512: SHA512?
    public private(set) var byteCount: UInt64 = 0

    public init(includeSHA512: Bool) {
        sha512 = includeSHA512 ? SHA512() : nil
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        sha256.update(bufferPointer: buffer)
        sha512?.update(bufferPointer: buffer)
        byteCount += UInt64(buffer.count)
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public func finalize() -> ImageDigests {
        ImageDigests(
            sha256: sha256.finalize().hexString, sha512: sha512.map { $0.finalize().hexString }, size: byteCount)
    }
}

public struct ImageDigests: Sendable, Hashable, Codable {
    public var sha256: String
    public var sha512: String?
    public var size: UInt64

    public func hex(_ algorithm: ImageDigestAlgorithm) -> String? { algorithm == .sha256 ? sha256 : sha512 }
}

/// Streams a file through the digester in fixed chunks: constant memory whatever the file size.
public enum ImageFileHasher {
    public static let chunkSize = 1 << 20

    public static func digests(of file: URL, includeSHA512: Bool, progress: ((UInt64) -> Void)? = nil) throws
        -> ImageDigests
    {
        var digester = ImageDigester(includeSHA512: includeSHA512)
        try feed(file, into: &digester, progress: progress)
        return digester.finalize()
    }

    /// Hashes `file` into `digester` (used to resume a partial download).
    public static func feed(_ file: URL, into digester: inout ImageDigester, progress: ((UInt64) -> Void)? = nil) throws
    {
        let descriptor = open(file.path, O_RDONLY)
        guard descriptor >= 0 else {
            throw SeedgenError.runtime(message: "cannot read \(file.path)", cause: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        #if os(Linux)
            _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, chunkSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw SeedgenError.runtime(message: "cannot read \(file.path)", cause: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            digester.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            progress?(digester.byteCount)
        }
    }
}
