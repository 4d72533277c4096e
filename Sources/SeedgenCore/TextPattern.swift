import Foundation

/// Regular-expression checks on short values (names, IDs, hashes), each pattern compiled once.
///
/// `String.range(of:options: .regularExpression)` compiles its pattern on every call; a fleet
/// build checks about twenty values per VM, and the compiling cost more than the checking.
package enum TextPattern {
    private struct Key: Hashable {
        var pattern: String
        var caseInsensitive: Bool
    }

    /// NSRegularExpression is immutable once made and safe to match from any thread; the
    /// dictionary is only touched under the lock.
    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var compiled: [Key: NSRegularExpression] = [:]
    }

    private static let cache = Cache()

    /// True when `pattern` matches somewhere in `text` (anchor it with `^…$` for a whole match).
    package static func matches(_ text: String, _ pattern: String, caseInsensitive: Bool = false) -> Bool {
        let key = Key(pattern: pattern, caseInsensitive: caseInsensitive)
        let expression = cache.lock.withLock { () -> NSRegularExpression? in
            if let found = cache.compiled[key] { return found }
            let made = try? NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
            cache.compiled[key] = made
            return made
        }
        // Every pattern is a constant of seedgen's: one that does not compile is a bug, and
        // matching nothing makes the check fail loudly in the tests rather than pass silently.
        guard let expression else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
