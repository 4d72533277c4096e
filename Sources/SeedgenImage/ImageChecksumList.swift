import Foundation

/// A publisher's checksum list (`SHA256SUMS`, `SHA512SUMS`, `CHECKSUM`), in GNU (`hex  name`,
/// `hex *name`) or BSD (`SHA256 (name) = hex`) lines; comments and other lines are skipped.
public struct ImageChecksumList: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        public var fileName: String
        public var algorithm: ImageDigestAlgorithm
        public var hex: String
    }

    public private(set) var lines: [Line]

    public init(parsing text: String) {
        var lines: [Line] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let parsed = Self.parseBSD(line) ?? Self.parseGNU(line) { lines.append(parsed) }
        }
        self.lines = lines
    }

    /// The digest listed for exactly `fileName` (no path, no glob), in `algorithm`.
    public func digest(for fileName: String, algorithm: ImageDigestAlgorithm) -> String? {
        lines.first { $0.fileName == fileName && $0.algorithm == algorithm }?.hex
    }

    /// Every file name listed with `hex`.
    public func fileNames(withDigest hex: String) -> [String] {
        lines.filter { $0.hex == hex.lowercased() }.map(\.fileName)
    }

    private static func parseGNU(_ line: String) -> Line? {
        guard let space = line.firstIndex(of: " ") else { return nil }
        let hex = line[..<space].lowercased()
        guard hex.allSatisfy(\.isHexDigit) else { return nil }
        let algorithm: ImageDigestAlgorithm
        switch hex.count {
        case 64: algorithm = .sha256
        case 128: algorithm = .sha512
        default: return nil
        }
        var name = line[line.index(after: space)...]
        if name.first == " " || name.first == "*" { name = name.dropFirst() }
        if name.hasPrefix("./") { name = name.dropFirst(2) }
        guard !name.isEmpty else { return nil }
        return Line(fileName: String(name), algorithm: algorithm, hex: hex)
    }

    private static func parseBSD(_ line: String) -> Line? {
        let algorithm: ImageDigestAlgorithm
        let rest: Substring
        if line.hasPrefix("SHA256 (") {
            algorithm = .sha256
            rest = line.dropFirst(8)
        } else if line.hasPrefix("SHA512 (") {
            algorithm = .sha512
            rest = line.dropFirst(8)
        } else {
            return nil
        }
        guard let close = rest.range(of: ") = ", options: .backwards) else { return nil }
        let name = String(rest[..<close.lowerBound])
        let hex = rest[close.upperBound...].trimmingCharacters(in: .whitespaces).lowercased()
        guard hex.count == algorithm.hexLength, hex.allSatisfy(\.isHexDigit) else { return nil }
        return Line(fileName: name, algorithm: algorithm, hex: hex)
    }
}
