import Foundation
import SeedgenCore

/// Checks OpenPGP signatures of checksum lists with `gpgv --status-fd`: a list is trusted only when
/// gpgv reports a VALIDSIG whose signing or primary key fingerprint is pinned, and no BADSIG; other
/// signatures by keys outside the keyring are ignored.
public enum ImageSignatureVerifier {
    /// What a good signature proved.
    public struct Verdict: Sendable, Hashable {
        /// The pinned fingerprint that matched (primary key when it matched, else the signing key).
        public var fingerprint: String
        /// For clearsigned lists: the signed text, the only part that may be trusted.
        public var signedContent: Data
    }

    /// Verifies `signature` over `content` (detached) or the clearsigned `content` itself.
    /// `pinned` empty means every key in the keyring is trusted (user-given keyrings only).
    public static func verify(
        content: Data, signature: Data?, style: ImageSignatureStyle, keyring: URL, pinned: [String], scratch: URL,
        what: String
    ) throws -> Verdict {
        guard FileManager.default.isReadableFile(atPath: keyring.path) else {
            throw SeedgenError.runtime(
                message: "cannot verify the signature of \(what): keyring \(keyring.path) is missing",
                hint: "install the keyring, or name one with `keyring:` in vm.yaml / --keyring")
        }
        let work = scratch.appendingPathComponent("gpgv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let keyringFile = work.appendingPathComponent("keyring.gpg")
        try dearmoredIfNeeded(try Data(contentsOf: keyring)).write(to: keyringFile)
        let contentFile = work.appendingPathComponent("content")
        try content.write(to: contentFile)
        var arguments = ["--homedir", work.path, "--status-fd", "1", "--keyring", keyringFile.path]
        let outputFile = work.appendingPathComponent("signed")
        switch style {
        case .detached:
            guard let signature else { throw SeedgenError.runtime(message: "no detached signature for \(what)") }
            let signatureFile = work.appendingPathComponent("content.sig")
            try signature.write(to: signatureFile)
            arguments += [signatureFile.path, contentFile.path]
        case .clearsigned:
            arguments += ["--output", outputFile.path, contentFile.path]
        case .none:
            throw SeedgenError.runtime(message: "internal: verify called for an unsigned list")
        }
        let result = try ImageProcess.run("gpgv", arguments)
        if result.exitCode == 127 {
            throw SeedgenError.runtime(
                message: "gpgv is not installed", hint: "install the Debian package gpgv (scripts/install-deps.sh)")
        }
        let status = parseStatus(result.stdout)
        let pinnedSet = Set(pinned.map(ImageCatalog.normalizedFingerprint))
        if status.revoked {
            throw SeedgenError.runtime(
                message: "bad signature on \(what): the signing key is revoked", hint: "the download was discarded")
        }
        // A list may carry several signatures (Ubuntu's SHA256SUMS.gpg is reported to carry two); gpgv
        // exits 2 when one of them is by a key outside the keyring. Such a signature proves nothing
        // either way, so it does not void a VALIDSIG by a pinned key, as long as none is BADSIG.
        let onlyUnknownSignersBeside = result.exitCode == 2 && status.missingKey && !status.badSignature
        guard result.exitCode == 0 || onlyUnknownSignersBeside, !status.validSignatures.isEmpty else {
            let reason =
                status.badSignature
                ? "the signature does not match the list (BADSIG)"
                : status.missingKey
                    ? "it was made by a key that is not in \(keyring.path) (NO_PUBKEY)"
                    : "gpgv exited \(result.exitCode)"
            throw SeedgenError.runtime(
                message: "bad signature on \(what): \(reason)",
                hint: "nothing was cached; check the publisher's keyring and the URLs",
                cause: result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let match = status.validSignatures.lazy.compactMap { signature -> String? in
            if pinnedSet.isEmpty { return signature.primary ?? signature.signing }
            if let primary = signature.primary, pinnedSet.contains(primary) { return primary }
            return pinnedSet.contains(signature.signing) ? signature.signing : nil
        }.first
        guard let match else {
            let signers = status.validSignatures.map { $0.primary ?? $0.signing }.joined(separator: ", ")
            throw SeedgenError.runtime(
                message: "signature on \(what) is valid but made by \(signers), which is not a pinned key",
                hint: "only \(pinned.joined(separator: ", ")) are trusted; nothing was cached")
        }
        let signed = style == .clearsigned ? (try Data(contentsOf: outputFile)) : content
        return Verdict(fingerprint: match, signedContent: signed)
    }

    struct Status {
        var validSignatures: [(signing: String, primary: String?)] = []
        var badSignature = false
        var missingKey = false
        var revoked = false
    }

    static func parseStatus(_ text: String) -> Status {
        var status = Status()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 2, fields[0] == "[GNUPG:]" else { continue }
            switch fields[1] {
            case "VALIDSIG" where fields.count >= 3:
                status.validSignatures.append(
                    (fields[2].uppercased(), fields.count >= 12 ? fields[11].uppercased() : nil))
            case "BADSIG": status.badSignature = true
            case "NO_PUBKEY", "ERRSIG": status.missingKey = true
            case "REVKEYSIG": status.revoked = true
            default: break
            }
        }
        return status
    }

    /// gpgv wants binary keyrings; publishers often ship ASCII-armored keys.
    static func dearmoredIfNeeded(_ data: Data) -> Data {
        guard let text = String(data: data, encoding: .utf8), text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        else { return data }
        var output = Data()
        var inBlock = false
        var inBody = false
        var body = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map({
            $0.trimmingCharacters(in: .whitespaces)
        }) {
            if line.hasPrefix("-----BEGIN PGP PUBLIC KEY BLOCK") {
                inBlock = true
                inBody = false
                body = ""
            } else if line.hasPrefix("-----END PGP PUBLIC KEY BLOCK") {
                if let decoded = Data(base64Encoded: body) { output.append(decoded) }
                inBlock = false
            } else if inBlock && !inBody {
                if line.isEmpty { inBody = true }
            } else if inBlock && inBody && !line.hasPrefix("=") {
                body += line
            }
        }
        return output.isEmpty ? data : output
    }
}

/// Runs a helper program (gpgv) and collects its output.
enum ImageProcess {
    struct Result {
        var exitCode: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ name: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exit = ProcessExit(process)
        try process.run()
        let errors = PipeDrain(err.fileHandleForReading)
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.wait()
        exit.wait()
        return Result(
            exitCode: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
            stderr: String(decoding: errorData, as: UTF8.self))
    }
}
