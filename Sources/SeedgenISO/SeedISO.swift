import CLibisofs
import Foundation
import SeedgenCore

/// Packs NoCloud seed files into an ISO 9660 image in-process through libisofs: level 3, Rock Ridge
/// and Joliet, files 0444 root:root, every timestamp the build epoch — so identical input gives
/// byte-identical output, with no temporary directory of loose files and no subprocess.
public enum SeedISO {
    /// The label seedgen gives every seed.
    public static let defaultVolumeID = "cidata"
    /// The only labels cloud-init's NoCloud datasource finds (cloud-init.md).
    public static let acceptedVolumeIDs = ["cidata", "CIDATA"]
    /// Mode, owner and group of every file in a seed.
    public static let fileMode: mode_t = 0o444
    static let directoryMode: mode_t = 0o555
    /// ISO 9660 directory records hold the year as one byte after 1900: 2155-12-31T23:59:59Z is the last second.
    public static let latestEpoch: Int64 = 5_869_583_999
    /// libisofs' ring buffer, in 2048-byte blocks: 256 KiB holds a whole typical seed, so the generator
    /// thread never waits for the reader; the 2 MiB default costs time per seed.
    static let fifoBlocks = 128
    /// `read_xt` must be asked for one block at a time: larger requests near the end return 0 and
    /// silently truncate the image (building-blocks.md).
    static let blockSize = 2048

    /// The ISO image bytes (in-process, serialised by a lock: libisofs is not safe for two images at once).
    public static func image(files: [SeedFile], volumeID: String = defaultVolumeID, epoch: Int64) throws -> Data {
        try validate(files: files, volumeID: volumeID, epoch: epoch)
        var image = Data()
        try generate(files: files, volumeID: volumeID, epoch: epoch, expecting: { image.reserveCapacity($0) }) {
            chunk in
            image.append(chunk.assumingMemoryBound(to: UInt8.self))
        }
        return image
    }

    /// Same, written atomically (temp in target dir, fsync, rename): the image streams from
    /// libisofs straight into the temporary file, and a failure removes it.
    public static func write(files: [SeedFile], volumeID: String = defaultVolumeID, epoch: Int64, to url: URL) throws {
        try validate(files: files, volumeID: volumeID, epoch: epoch)
        let output = try AtomicFile.Writer(replacing: url)
        do {
            try generate(files: files, volumeID: volumeID, epoch: epoch) { chunk in try output.append(chunk) }
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
    }

    /// Throws `invalidInput` for a label cloud-init would not find, file names an ISO root cannot
    /// hold or an epoch ISO 9660 cannot record. (What cloud-init needs in the files: SeedgenNoCloud.)
    public static func validate(files: [SeedFile], volumeID: String, epoch: Int64) throws {
        var collector = DiagnosticCollector()
        if !acceptedVolumeIDs.contains(volumeID) {
            collector.error(
                "'\(volumeID)' is not a label cloud-init looks for; the seed would be ignored at boot", at: nil,
                keyPath: "volume-id", allowed: acceptedVolumeIDs.joined(separator: " or "))
        }
        if epoch < 0 || epoch > latestEpoch {
            collector.error(
                "timestamp \(epoch) cannot be recorded in ISO 9660", at: nil, keyPath: "SOURCE_DATE_EPOCH",
                allowed: "seconds since 1970 up to \(latestEpoch) (2155-12-31)")
        }
        collector.append(contentsOf: SeedFile.nameDiagnostics(files))
        try collector.throwIfErrors()
    }

    /// Builds the image under the libisofs lock and hands it to `sink` in 2048-byte chunks.
    static func generate(
        files: [SeedFile], volumeID: String, epoch: Int64, expecting: (Int) -> Void = { _ in },
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try LibisofsSession.exclusive {
            var imageHandle: OpaquePointer?
            try LibisofsSession.check(iso_image_new(volumeID, &imageHandle), "cannot create an ISO image")
            guard let image = imageHandle else { throw SeedgenError.runtime(message: "libisofs returned no image") }
            defer { iso_image_unref(image) }
            iso_image_set_volume_id(image, volumeID)
            iso_image_set_application_id(image, "seedgen")

            let timestamp = time_t(epoch)
            guard let root = iso_image_get_root(image) else {
                throw SeedgenError.runtime(message: "libisofs image has no root")
            }
            stamp(root, mode: directoryMode, timestamp: timestamp)
            for file in files {
                let node = try addFile(file, to: root, of: image)
                stamp(node, mode: fileMode, timestamp: timestamp)
            }

            let source = try makeBurnSource(image, timestamp: timestamp)
            var complete = false
            defer {
                // A generator thread still running must be stopped before its source is freed.
                if !complete { _ = source.pointee.cancel?(source) }
                release(source)
            }
            try drain(source, expecting: expecting, into: sink)
            complete = true
        }
    }

    private static func addFile(_ file: SeedFile, to root: OpaquePointer, of image: OpaquePointer) throws
        -> OpaquePointer
    {
        // The memory stream takes ownership of a malloc'd buffer and free()s it with the stream.
        let count = file.data.count
        guard let buffer = malloc(max(count, 1)) else {
            throw SeedgenError.runtime(message: "out of memory while packing \(file.name) (\(count) bytes)")
        }
        file.data.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { buffer.copyMemory(from: base, byteCount: count) }
        }
        var stream: UnsafeMutablePointer<IsoStream>?
        let created = iso_memory_stream_new(buffer.assumingMemoryBound(to: UInt8.self), count, &stream)
        if created < 0 {
            free(buffer)
            try LibisofsSession.check(created, "cannot pack \(file.name) into the ISO image")
        }
        var node: OpaquePointer?
        let added = iso_image_add_new_file(image, root, file.name, stream, &node)
        if added < 0 {
            iso_stream_unref(stream)
            try LibisofsSession.check(added, "cannot add \(file.name) to the ISO image")
        }
        guard let node else { throw SeedgenError.runtime(message: "libisofs returned no node for \(file.name)") }
        return node
    }

    /// Mode, root ownership and all three times, so Rock Ridge records nothing of the build host.
    private static func stamp(_ node: OpaquePointer, mode: mode_t, timestamp: time_t) {
        iso_node_set_permissions(node, mode)
        iso_node_set_uid(node, 0)
        iso_node_set_gid(node, 0)
        iso_node_set_mtime(node, timestamp)
        iso_node_set_atime(node, timestamp)
        iso_node_set_ctime(node, timestamp)
    }

    private static func makeBurnSource(_ image: OpaquePointer, timestamp: time_t) throws -> UnsafeMutablePointer<
        burn_source
    > {
        var optionsHandle: OpaquePointer?
        try LibisofsSession.check(iso_write_opts_new(&optionsHandle, 0), "cannot create ISO write options")
        guard let options = optionsHandle else {
            throw SeedgenError.runtime(message: "libisofs returned no write options")
        }
        defer { iso_write_opts_free(options) }
        let settings: [(String, Int32)] = [
            ("ISO level", iso_write_opts_set_iso_level(options, 3)),
            ("Rock Ridge", iso_write_opts_set_rockridge(options, 1)),
            ("Joliet", iso_write_opts_set_joliet(options, 1)),
            // Joliet names exactly as given ("user-data", not "user-data.;1"), as genisoimage writes them;
            // the plain ISO 9660 tree keeps its standard 8.3 names.
            ("Joliet version numbers", iso_write_opts_set_omit_version_numbers(options, 2)),
            ("Joliet forced dots", iso_write_opts_set_no_force_dots(options, 2)),
            // Without relaxed volume attributes libisofs upper-cases the label to CIDATA.
            ("relaxed volume attributes", iso_write_opts_set_relaxed_vol_atts(options, 1)),
            ("GMT timestamps", iso_write_opts_set_always_gmt(options, 1)),
            ("replace modes", iso_write_opts_set_replace_mode(options, 2, 2, 2, 2)),
            ("directory mode", iso_write_opts_set_default_dir_mode(options, directoryMode)),
            ("file mode", iso_write_opts_set_default_file_mode(options, fileMode)),
            ("uid", iso_write_opts_set_default_uid(options, 0)),
            ("gid", iso_write_opts_set_default_gid(options, 0)),
            ("replace timestamps", iso_write_opts_set_replace_timestamps(options, 2)),
            ("default timestamp", iso_write_opts_set_default_timestamp(options, timestamp)),
            // Directory records of the ECMA-119, Joliet and ISO 9660:1999 trees: node mtime, not "now".
            ("directory record times", iso_write_opts_set_dir_rec_mtime(options, 7)),
            ("ring buffer size", iso_write_opts_set_fifo_size(options, fifoBlocks)),
        ]
        for (name, result) in settings {
            try LibisofsSession.check(result, "cannot set the ISO write option '\(name)'")
        }
        var uuid = volumeTimestamp(timestamp)
        let pvdResult = uuid.withUnsafeMutableBufferPointer { text in
            iso_write_opts_set_pvd_times(options, timestamp, timestamp, 0, 0, text.baseAddress)
        }
        try LibisofsSession.check(pvdResult, "cannot set the ISO volume times")

        var sourceHandle: UnsafeMutablePointer<burn_source>?
        try LibisofsSession.check(
            iso_image_create_burn_source(image, options, &sourceHandle), "cannot start writing the ISO image")
        guard let source = sourceHandle else { throw SeedgenError.runtime(message: "libisofs returned no burn source") }
        return source
    }

    /// `YYYYMMDDhhmmss00` in UTC: libisofs writes it verbatim as the volume's creation and
    /// modification time (and blkid's UUID), free of time-zone effects.
    static func volumeTimestamp(_ timestamp: time_t) -> [CChar] {
        var seconds = timestamp
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let text =
            digits(parts.tm_year + 1900, 4) + digits(parts.tm_mon + 1, 2) + digits(parts.tm_mday, 2)
            + digits(parts.tm_hour, 2) + digits(parts.tm_min, 2) + digits(parts.tm_sec, 2) + "00"
        return Array(text.utf8CString)
    }

    private static func drain(
        _ source: UnsafeMutablePointer<burn_source>, expecting: (Int) -> Void,
        into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let total = Int64(source.pointee.get_size(source))
        guard total > 0 else { throw SeedgenError.runtime(message: "libisofs computed an empty ISO image") }
        expecting(Int(total))
        let read = source.pointee.version >= 1 ? source.pointee.read_xt : source.pointee.read
        guard let read else { throw SeedgenError.runtime(message: "libisofs burn source cannot be read") }
        var block = [UInt8](repeating: 0, count: blockSize)
        var written: Int64 = 0
        while written < total {
            let request = Int32(min(Int64(blockSize), total - written))
            let count = block.withUnsafeMutableBufferPointer { read(source, $0.baseAddress, request) }
            guard count > 0 else {
                throw SeedgenError.runtime(
                    message: "libisofs stopped after \(written) of \(total) bytes of the ISO image",
                    cause: count < 0 ? LibisofsSession.message(for: count) : "end of data")
            }
            try block.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
            written += Int64(count)
        }
    }

    /// Drops our reference as libburn's `burn_source_free` would.
    private static func release(_ source: UnsafeMutablePointer<burn_source>) {
        source.pointee.refcount -= 1
        if source.pointee.refcount <= 0 {
            source.pointee.free_data?(source)
            free(source)
        }
    }
}
