import Crypto
import Foundation

/// Hex digests of in-memory data. Large files are hashed by streaming in the Image module.
public enum Digest {
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        SHA256.hash(data: data).hexString
    }

    public static func sha512Hex(_ data: some DataProtocol) -> String {
        SHA512.hash(data: data).hexString
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, as `sha256sum` prints it.
    public var hexString: String {
        var text = ""
        text.reserveCapacity(64)
        for byte in self {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return text
    }
}

private let hexDigits: [Character] = Array("0123456789abcdef")
