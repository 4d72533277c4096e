import Foundation

/// Creates a file that must not exist yet and writes it in one go, without an fsync.
///
/// For files inside a staging directory that is flushed once and renamed into place as a whole:
/// `FileManager.createFile` writes each file atomically (a temporary name, an fsync, a rename),
/// which for a fleet's thousands of small files cost more than everything else in a build.
package enum NewFile {
    package static func write(_ data: Data, to path: String, permissions: Int) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(permissions))
        guard descriptor >= 0 else { throw failure("cannot create \(path)") }
        var closed = false
        defer { if !closed { close(descriptor) } }
        // open() applies the umask; the artifact's mode is part of what SHA256SUMS users expect.
        guard fchmod(descriptor, mode_t(permissions)) == 0 else { throw failure("cannot set the mode of \(path)") }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("cannot write \(path)")
                }
                offset += written
            }
        }
        closed = true
        guard close(descriptor) == 0 else { throw failure("cannot write \(path)") }
    }

    private static func failure(_ message: String) -> SeedgenError {
        SeedgenError.runtime(message: message, cause: String(cString: strerror(errno)))
    }
}
