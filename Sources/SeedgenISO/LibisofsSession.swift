import CLibisofs
import Foundation
import SeedgenCore

/// Owns libisofs' process-wide state: it is initialised once, and only one image (being written
/// or read) may exist at a time — two concurrent images crash the library (building-blocks.md).
enum LibisofsSession {
    private static let lock = NSLock()

    /// `iso_init_with_flag` result; evaluated once (Swift's lazy statics are thread-safe).
    private static let initialisation: Int32 = {
        let result = iso_init_with_flag(0)
        // libisofs would otherwise print its own messages on stderr; seedgen reports errors itself.
        _ = "NEVER".withCString { never in
            "seedgen".withCString { prefix in
                iso_set_msgs_severities(
                    UnsafeMutablePointer(mutating: never), UnsafeMutablePointer(mutating: never),
                    UnsafeMutablePointer(mutating: prefix))
            }
        }
        return result
    }()

    /// Runs `body` while holding the process-wide libisofs lock, after initialising the library.
    static func exclusive<Result>(_ body: () throws -> Result) throws -> Result {
        lock.lock()
        defer { lock.unlock() }
        guard initialisation >= 0 else {
            throw SeedgenError.runtime(
                message: "cannot initialise libisofs", hint: "reinstall libisofs6 (scripts/install-deps.sh)",
                cause: message(for: initialisation))
        }
        return try body()
    }

    /// libisofs' text for a (negative) return code.
    static func message(for code: Int32) -> String {
        guard let text = iso_error_to_msg(code) else { return "libisofs error \(code)" }
        return
            "\(String(cString: text)) (libisofs code 0x\(String(UInt32(bitPattern: code), radix: 16, uppercase: true)))"
    }

    /// Throws a runtime error when `code` is a libisofs failure (negative); returns it otherwise.
    @discardableResult
    static func check(_ code: Int32, _ what: @autoclosure () -> String, hint: String? = nil) throws -> Int32 {
        if code < 0 {
            throw SeedgenError.runtime(message: what(), hint: hint, cause: message(for: code))
        }
        return code
    }
}
