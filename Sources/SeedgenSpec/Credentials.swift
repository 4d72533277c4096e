import CCrypt
import Crypto
import Foundation
import SeedgenCore

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
        guard typeIndex + 1 < fields.count else {
            return "key type \(fields[typeIndex]) is not followed by the key data"
        }
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

    /// The `$6$` salt of `user` on VM `vmid`. Not random, so the same inputs give byte-identical
    /// artifacts, and made of non-secret inputs only: a salt derived from the password would let
    /// anyone holding the seed test guesses at SHA-256 speed instead of sha512crypt's. Different
    /// VMs and users get different salts; a site key (`--salt-key`) keeps them unpredictable to
    /// whoever does not hold it. Returns the 16 bytes libcrypt turns into the salt string.
    public static func saltBytes(vmid: Int, user: String, siteKey: Data?) -> [UInt8] {
        let message = Data("seedgen-password-salt-v2\u{0}\(vmid)\u{0}\(user)".utf8)
        if let siteKey {
            return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: siteKey)).prefix(16))
        }
        return Array(SHA256.hash(data: message).prefix(16))
    }

    /// SHA-512 crypt of `password` with the salt `saltBytes(vmid:user:siteKey:)` gives.
    public static func sha512Crypt(_ password: String, vmid: Int, user: String, siteKey: Data? = nil) throws -> String {
        let seedBytes = saltBytes(vmid: vmid, user: user, siteKey: siteKey)
        var setting = [CChar](repeating: 0, count: 64)
        let made = seedBytes.withUnsafeBufferPointer { random in
            random.withMemoryRebound(to: CChar.self) { randomChars in
                crypt_gensalt_rn(
                    "$6$", 0, randomChars.baseAddress, Int32(randomChars.count), &setting, Int32(setting.count))
            }
        }
        guard made != nil else {
            throw SeedgenError.runtime(
                message: "libcrypt could not make a SHA-512 salt", cause: String(cString: strerror(errno)))
        }
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            // Wipe: crypt_data holds the passphrase while hashing.
            memset(data, 0, MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(password, setting, data) else {
            throw SeedgenError.runtime(
                message: "libcrypt could not hash the password", cause: String(cString: strerror(errno)))
        }
        let hash = String(cString: result)
        guard hash.hasPrefix("$6$") else {
            throw SeedgenError.runtime(
                message: "libcrypt returned an unexpected hash", cause: "hash does not start with $6$")
        }
        return hash
    }
}
