import Foundation

/// The one way seedgen replaces a file: a temporary file in the target's own directory, fsynced,
/// then renamed over the target, so a reader (or a crash) never sees a half-written one.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws {
        let writer = try Writer(replacing: url, permissions: permissions)
        do {
            try data.withUnsafeBytes { try writer.append($0) }
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// Renames `source` to `destination`, replacing it; both must be on one file system.
    public static func replace(_ source: URL, with destination: URL) throws {
        if rename(source.path, destination.path) != 0 {
            throw SeedgenError.runtime(
                message: "cannot move \(source.path) to \(destination.path)",
                cause: String(cString: strerror(errno)))
        }
    }

    /// A file written in pieces (an ISO streaming out of libisofs, a file read out of one): the
    /// temporary file is renamed over the target on `commit`, removed on `discard`.
    public final class Writer {
        public let target: URL
        let temporary: URL
        private let permissions: mode_t
        private var descriptor: Int32
        /// Pieces are collected up to this size: libisofs hands out 2048-byte blocks, and a system
        /// call per block costs more than the copy.
        private var pending: [UInt8] = []
        private static let flushThreshold = 64 << 10

        public init(replacing target: URL, permissions: mode_t = 0o644) throws {
            self.target = target
            self.permissions = permissions
            let directory = target.deletingLastPathComponent()
            temporary = directory.appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).tmp")
            descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw SeedgenError.runtime(
                    message: "cannot write \(target.path)", hint: "check that \(directory.path) exists and is writable",
                    cause: String(cString: strerror(errno)))
            }
        }

        public func append(_ chunk: UnsafeRawBufferPointer) throws {
            pending.append(contentsOf: chunk)
            if pending.count >= Self.flushThreshold { try flush() }
        }

        private func flush() throws {
            var offset = 0
            defer { pending.removeAll(keepingCapacity: true) }
            try pending.withUnsafeBytes { bytes in
                while offset < bytes.count {
                    let count = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw failure("cannot write \(target.path)", hint: "check free space on its file system")
                    }
                    offset += count
                }
            }
        }

        /// Writes what is pending, sets the mode, fsyncs and renames over the target.
        public func commit() throws {
            try flush()
            guard fchmod(descriptor, permissions) == 0 else {
                throw failure("cannot set permissions of \(target.path)")
            }
            guard fsync(descriptor) == 0 else { throw failure("cannot flush \(target.path) to disk") }
            let closed = close(descriptor)
            descriptor = -1
            guard closed == 0 else { throw failure("cannot write \(target.path)") }
            guard rename(temporary.path, target.path) == 0 else {
                throw failure(
                    "cannot move the new file into place at \(target.path)", hint: "is \(target.path) a directory?")
            }
        }

        public func discard() {
            if descriptor >= 0 {
                _ = close(descriptor)
                descriptor = -1
            }
            _ = unlink(temporary.path)
        }

        private func failure(_ message: String, hint: String? = nil) -> SeedgenError {
            .runtime(message: message, hint: hint, cause: String(cString: strerror(errno)))
        }
    }
}
