import CLibisofs
import Crypto
import Foundation
import SeedgenCore

/// One file found in an ISO image.
public struct SeedISOEntry: Sendable, Hashable, Codable {
    /// Path below the root, `/`-separated (`user-data`, or `dir/file` for nested files).
    public var path: String
    public var size: Int64
    /// Permission bits in octal, as Rock Ridge records them (`0444`).
    public var mode: String
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time, seconds since 1970.
    public var modified: Int64
    public var sha256: String
}

/// Receives one file's bytes while an ISO is read.
package protocol SeedISOFileSink: AnyObject {
    func append(_ chunk: UnsafeRawBufferPointer) throws
    /// All bytes were delivered.
    func finish() throws
    /// Reading failed; drop what was received.
    func abandon()
}

/// Collects a file in memory and hands it over when complete.
package final class SeedISOMemorySink: SeedISOFileSink {
    private var data = Data()
    private let completion: (Data) -> Void

    package init(_ completion: @escaping (Data) -> Void) { self.completion = completion }
    package func append(_ chunk: UnsafeRawBufferPointer) throws {
        data.append(chunk.assumingMemoryBound(to: UInt8.self))
    }
    package func finish() throws { completion(data) }
    package func abandon() {}
}

extension AtomicFile.Writer: SeedISOFileSink {
    package func finish() throws { try commit() }
    package func abandon() { discard() }
}

/// Reads ISO images (seedgen's or anyone's) back through libisofs.
public enum ISOImageReader {
    /// Every regular file of the image, with its path below the root as name.
    public static func contents(of url: URL) throws -> [SeedFile] {
        var files: [SeedFile] = []
        _ = try read(url) { entry, _ in
            SeedISOMemorySink { data in files.append(SeedFile(name: entry.path, data: data)) }
        }
        return files
    }

    /// Writes every regular file of the image below `directory` (created when missing), each one
    /// streamed into a temporary file and renamed into place with mode 0644; returns the written files.
    @discardableResult
    public static func extract(_ url: URL, to directory: URL) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SeedgenError.wrap(error, "cannot create \(directory.path)", hint: "check that its parent is writable")
        }
        var written: [URL] = []
        _ = try read(url) { entry, _ in
            let target = directory.appendingPathComponent(entry.path)
            do {
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch {
                throw SeedgenError.wrap(error, "cannot create \(target.deletingLastPathComponent().path)")
            }
            written.append(target)
            return try AtomicFile.Writer(replacing: target)
        }
        return written
    }

    // MARK: - Reading through libisofs

    /// Imports the image and walks its tree; `collect` decides per file whether its bytes are
    /// wanted (returning a sink for them) or only hashed.
    package static func read(
        _ url: URL, collect: (SeedISOEntry, _ isRootFile: Bool) throws -> (any SeedISOFileSink)?
    ) throws -> (volumeID: String, rockRidge: Bool, joliet: Bool, entries: [SeedISOEntry], jolietRootNames: [String]?) {
        // libisofs' own error for a missing file is vague; check readability first for a clear message.
        let probe = open(url.path, O_RDONLY | O_CLOEXEC)
        guard probe >= 0 else {
            throw SeedgenError.runtime(
                message: "cannot read \(url.path)", hint: "check the path and its permissions",
                cause: String(cString: strerror(errno)))
        }
        close(probe)
        return try LibisofsSession.exclusive {
            try withImportedImage(url, tree: .preferRockRidge) { image, rockRidge, joliet in
                let volumeID = iso_image_get_volume_id(image).map { String(cString: $0) } ?? ""
                guard let root = iso_image_get_root(image) else {
                    throw SeedgenError.runtime(message: "the ISO image has no root directory")
                }
                var entries: [SeedISOEntry] = []
                try walk(root, prefix: "", depth: 0) { node, path, depth in
                    var hasher = SHA256()
                    var entry = SeedISOEntry(
                        path: path, size: Int64(iso_file_get_size(node)),
                        mode: "0" + String(iso_node_get_permissions(node) & 0o7777, radix: 8),
                        uid: UInt32(iso_node_get_uid(node)), gid: UInt32(iso_node_get_gid(node)),
                        modified: Int64(iso_node_get_mtime(node)), sha256: "")
                    let sink = try collect(entry, depth == 0)
                    do {
                        try readFile(node, path: path) { chunk in
                            hasher.update(bufferPointer: chunk)
                            try sink?.append(chunk)
                        }
                        try sink?.finish()
                    } catch {
                        sink?.abandon()
                        throw error
                    }
                    entry.sha256 = hasher.finalize().hexString
                    entries.append(entry)
                }
                var jolietNames: [String]?
                if joliet && rockRidge {
                    jolietNames = try withImportedImage(url, tree: .joliet) { jolietImage, _, _ in
                        guard let jolietRoot = iso_image_get_root(jolietImage) else { return [] }
                        var names: [String] = []
                        try walk(jolietRoot, prefix: "", depth: 0) { _, path, depth in
                            if depth == 0 { names.append(path) }
                        }
                        return names
                    }
                }
                return (volumeID, rockRidge, joliet, entries, jolietNames)
            }
        }
    }

    private enum ImportTree {
        case preferRockRidge
        case joliet
    }

    /// Imports `url` into a fresh libisofs image (caller holds the libisofs lock) and passes it
    /// with the Rock Ridge and Joliet presence to `body`.
    private static func withImportedImage<Result>(
        _ url: URL, tree: ImportTree, _ body: (OpaquePointer, _ rockRidge: Bool, _ joliet: Bool) throws -> Result
    ) throws -> Result {
        var sourceHandle: UnsafeMutablePointer<IsoDataSource>?
        try LibisofsSession.check(iso_data_source_new_from_file(url.path, &sourceHandle), "cannot open \(url.path)")
        guard let source = sourceHandle else { throw SeedgenError.runtime(message: "libisofs returned no data source") }
        defer { iso_data_source_unref(source) }

        var optionsHandle: OpaquePointer?
        try LibisofsSession.check(iso_read_opts_new(&optionsHandle, 0), "cannot create ISO read options")
        guard let options = optionsHandle else {
            throw SeedgenError.runtime(message: "libisofs returned no read options")
        }
        defer { iso_read_opts_free(options) }
        if tree == .joliet {
            iso_read_opts_set_no_rockridge(options, 1)
            iso_read_opts_set_preferjoliet(options, 1)
        }

        var imageHandle: OpaquePointer?
        try LibisofsSession.check(iso_image_new("inspect", &imageHandle), "cannot create an ISO image")
        guard let image = imageHandle else { throw SeedgenError.runtime(message: "libisofs returned no image") }
        defer { iso_image_unref(image) }

        var featuresHandle: OpaquePointer?
        try LibisofsSession.check(
            iso_image_import(image, source, options, &featuresHandle), "\(url.path) is not a readable ISO 9660 image",
            hint:
                "seedgen inspect reads ISO 9660 images such as those made by seedgen iso, cloud-localds or genisoimage")
        defer { if let featuresHandle { iso_read_image_features_destroy(featuresHandle) } }
        let rockRidge = featuresHandle.map { iso_read_image_features_has_rockridge($0) == 1 } ?? false
        let joliet = featuresHandle.map { iso_read_image_features_has_joliet($0) == 1 } ?? false
        return try body(image, rockRidge, joliet)
    }

    private static func walk(
        _ directory: OpaquePointer, prefix: String, depth: Int, visit: (OpaquePointer, String, Int) throws -> Void
    ) throws {
        var iteratorHandle: OpaquePointer?
        try LibisofsSession.check(iso_dir_get_children(directory, &iteratorHandle), "cannot list an ISO directory")
        guard let iterator = iteratorHandle else { return }
        defer { iso_dir_iter_free(iterator) }
        var children: [(OpaquePointer, String)] = []
        var nodeHandle: OpaquePointer?
        while iso_dir_iter_next(iterator, &nodeHandle) == 1 {
            guard let node = nodeHandle, let name = iso_node_get_name(node).map({ String(cString: $0) }) else {
                continue
            }
            children.append((node, name))
        }
        for (node, name) in children.sorted(by: { $0.1 < $1.1 }) where name != "." && name != ".." {
            let path = prefix + name
            switch iso_node_get_type(node) {
            case LIBISO_DIR: try walk(node, prefix: path + "/", depth: depth + 1, visit: visit)
            case LIBISO_FILE: try visit(node, path, depth)
            default: continue
            }
        }
    }

    private static func readFile(
        _ file: OpaquePointer, path: String, into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard let stream = iso_file_get_stream(file) else {
            throw SeedgenError.runtime(message: "\(path): no data stream in the ISO")
        }
        try LibisofsSession.check(iso_stream_open(stream), "cannot read \(path) from the ISO image")
        defer { iso_stream_close(stream) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { iso_stream_read(stream, $0.baseAddress, $0.count) }
            try LibisofsSession.check(count, "cannot read \(path) from the ISO image")
            if count == 0 { break }
            try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
        }
    }
}
