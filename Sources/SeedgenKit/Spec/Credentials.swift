import CCrypt
import Foundation

/// OpenSSH public key checks: `type base64-blob [comment]`, where the blob decodes and starts with
/// the same key type (a key pasted with the wrong prefix, or truncated, is caught at build time,
/// not at first login). Proxmox runs `ssh-keygen -l` on keys for the same reason.
public enum SSHPublicKey {
    public static let knownTypes = [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
    ]

    /// nil when valid, else what is wrong.
    public static func problem(with line: String) -> String? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let typeIndex = fields.firstIndex(where: { knownTypes.contains($0) }) else {
            return "not an OpenSSH public key (no known key type among: \(knownTypes.joined(separator: ", ")))"
        }
        if line.contains("\n") || line.contains("\r") { return "a key must be a single line" }
        guard typeIndex + 1 < fields.count else { return "key type \(fields[typeIndex]) is not followed by the key data" }
        let type = fields[typeIndex]
        guard let blob = Data(base64Encoded: fields[typeIndex + 1]), blob.count >= 4 else {
            return "the key data after \(type) is not valid base64"
        }
        let length = blob.prefix(4).reduce(0) { ($0 << 8) | Int($1) }
        guard length > 0, blob.count >= 4 + length,
            let embedded = String(data: blob.subdata(in: 4..<(4 + length)), encoding: .utf8)
        else { return "the key data is truncated or corrupt" }
        guard embedded == type else { return "the key data is a \(embedded) key but the line says \(type)" }
        return nil
    }

    /// The keys of an authorized_keys-style file: one per line, blank lines and `#` comments skipped.
    public static func lines(of text: String) -> [(lineNumber: Int, key: String)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return line.isEmpty || line.hasPrefix("#") ? nil : (index + 1, line)
        }
    }
}

/// crypt(3) password hashes: recognising the accepted forms, and making SHA-512 ones through the
/// system's libcrypt (never hand-rolled).
public enum PasswordHash {
    public enum Scheme: String, Sendable {
        case sha512 = "$6$"
        case sha256 = "$5$"
        case yescrypt = "$y$"
    }

    /// The scheme of a well-formed crypt hash, or nil.
    public static func scheme(of hash: String) -> Scheme? {
        let salt = "[./0-9A-Za-z]{1,16}"
        let rounds = "(rounds=[0-9]+\\$)?"
        let patterns: [(Scheme, String)] = [
            (.sha512, "^\\$6\\$\(rounds)\(salt)\\$[./0-9A-Za-z]{86}$"),
            (.sha256, "^\\$5\\$\(rounds)\(salt)\\$[./0-9A-Za-z]{43}$"),
            (.yescrypt, "^\\$y\\$[./0-9A-Za-z]+\\$[./0-9A-Za-z]*\\$[./0-9A-Za-z]{43}$"),
        ]
        for (scheme, pattern) in patterns where TextPattern.matches(hash, pattern) {
            return scheme
        }
        return nil
    }

    /// SHA-512 crypt of `password`. The salt is derived from `saltSeed` (not random) so that the
    /// same inputs give byte-identical artifacts; different VMs and users get different salts.
    public static func sha512Crypt(_ password: String, saltSeed: String) throws -> String {
        let seedBytes = Array(Digest.sha256Hex(Data("seedgen-salt:\(saltSeed)".utf8)).utf8.prefix(16))
        var setting = [CChar](repeating: 0, count: 64)
        let made = seedBytes.withUnsafeBufferPointer { random in
            random.withMemoryRebound(to: CChar.self) { randomChars in
                crypt_gensalt_rn("$6$", 0, randomChars.baseAddress, Int32(randomChars.count), &setting, Int32(setting.count))
            }
        }
        guard made != nil else {
            throw SeedgenError.runtime(message: "libcrypt could not make a SHA-512 salt", cause: String(cString: strerror(errno)))
        }
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            // Wipe: crypt_data holds the passphrase while hashing.
            memset(data, 0, MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(password, setting, data) else {
            throw SeedgenError.runtime(message: "libcrypt could not hash the password", cause: String(cString: strerror(errno)))
        }
        let hash = String(cString: result)
        guard hash.hasPrefix("$6$") else {
            throw SeedgenError.runtime(message: "libcrypt returned an unexpected hash", cause: "hash does not start with $6$")
        }
        return hash
    }
}
