import Foundation
import SeedgenCore
import SeedgenSpec

/// Multipart MIME user-data (`cloud_init.parts`): the merged cloud-config first, then the parts
/// in order. The boundary is derived from the content, so the same input gives the same bytes.
enum RenderMultipart {
    struct Part {
        var type: String
        var filename: String
        var content: Data
    }

    static func compose(cloudConfig: Data, parts: [MIMEPartSpec]) -> Data {
        let allParts =
            [Part(type: "text/cloud-config", filename: "cloud-config.yaml", content: cloudConfig)]
            + parts.map { Part(type: $0.type, filename: $0.filename, content: $0.content) }
        let boundary = boundary(for: allParts)
        var text = "Content-Type: multipart/mixed; boundary=\"\(boundary)\"\nMIME-Version: 1.0\n\n"
        for part in allParts {
            let (encoding, body) = encode(part.content)
            let charset = encoding == "7bit" ? "us-ascii" : "utf-8"
            let type = part.type.hasPrefix("text/") ? "\(part.type); charset=\"\(charset)\"" : part.type
            text += "--\(boundary)\n"
            text += "Content-Type: \(type)\n"
            text += "MIME-Version: 1.0\n"
            text += "Content-Transfer-Encoding: \(encoding)\n"
            text += "Content-Disposition: attachment; filename=\"\(headerSafe(part.filename))\"\n\n"
            // The line break before a boundary belongs to the boundary, so one is always added:
            // the part's own bytes then arrive unchanged.
            text += body + "\n"
        }
        text += "--\(boundary)--\n"
        return Data(text.utf8)
    }

    /// `seedgen-<hash>`, re-derived with a counter in the (astronomically unlikely) case that the
    /// boundary occurs inside a part.
    static func boundary(for parts: [Part]) -> String {
        var seed = Data()
        for part in parts {
            seed.append(Data("\(part.type)\u{0}\(part.filename)\u{0}\(part.content.count)\u{0}".utf8))
            seed.append(part.content)
        }
        var counter = 0
        while true {
            var input = seed
            input.append(Data("\(counter)".utf8))
            let candidate = "seedgen-" + Digest.sha256Hex(input).prefix(32)
            let needle = Data(candidate.utf8)
            if !parts.contains(where: { $0.content.range(of: needle) != nil }) { return candidate }
            counter += 1
        }
    }

    /// 7bit when the content is plain ASCII text with lines a mail parser keeps intact; base64
    /// (76-column lines) for everything else.
    private static func encode(_ content: Data) -> (encoding: String, body: String) {
        let isPlainASCII = content.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x09 }
        let longestLine = content.split(separator: 0x0A, omittingEmptySubsequences: false).map(\.count).max() ?? 0
        if isPlainASCII && longestLine <= 998 {
            return ("7bit", String(decoding: content, as: UTF8.self))
        }
        return ("base64", content.base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed]))
    }

    private static func headerSafe(_ filename: String) -> String {
        String(
            filename.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" && scalar.value != 0x7F
                    ? Character(scalar) : "_"
            })
    }

    /// A MIME type as `type/subtype` with token characters only (RFC 2045), so it cannot break the header.
    static func isValidType(_ type: String) -> Bool {
        let token = "[A-Za-z0-9!#$&^_.+-]+"
        return TextPattern.matches(type, "^\(token)/\(token)$")
    }
}
