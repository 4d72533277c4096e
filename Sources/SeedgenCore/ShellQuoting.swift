/// The one way seedgen writes text as a bash word: in deploy.sh, and in the commands its hints and
/// errors ask a user to paste.
public enum ShellQuoting {
    /// Characters that never need quoting in bash (no globbing, expansion, word splitting or history).
    /// `=` and `,` are left out on purpose: bash takes them literally, but inside `( … )` arrays
    /// shellcheck reads them as index assignments or separators, so such words are quoted.
    private static let plainCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+:./-")
    /// The same set as a table over ASCII bytes: deploy.sh quotes thousands of words per fleet.
    private static let plainBytes: [Bool] = (0..<128).map { byte in
        plainCharacters.contains(Character(Unicode.Scalar(UInt8(byte))))
    }

    /// `text` as one bash word with the same value: plain when safe, else single-quoted with
    /// embedded `'` written as `'\''`. Newlines and control characters survive inside the quotes.
    public static func quote(_ text: String) -> String {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 < 128 && plainBytes[Int($0)] }) { return text }
        guard text.utf8.contains(UInt8(ascii: "'")) else { return "'" + text + "'" }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
