import Foundation
import SeedgenCore

/// "latest" and "current" resolved the way publishers lay their trees out: the newest dated
/// directory linked from an index page.
public enum ImageLatestPages {
    /// The newest dated directory linked from a publisher's index page. Serials compare by their
    /// numbers, not as text: Debian's build number after the date has no fixed width
    /// (`20250428-999` comes before `20250428-1000`).
    public static func newestSerial(in html: String, matching serialPattern: String) throws -> String? {
        let pattern = try NSRegularExpression(pattern: serialPattern)
        let serials = links(in: html).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter {
            pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil
        }
        return serials.max { $0.compare($1, options: .numeric) == .orderedAscending }
    }

    static func links(in html: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: "href=\"([^\"?#]+)\"", options: [.caseInsensitive])
        else { return [] }
        return expression.matches(in: html, range: NSRange(html.startIndex..., in: html)).compactMap { match in
            Range(match.range(at: 1), in: html).map { String(html[$0]).replacingOccurrences(of: "./", with: "") }
        }
    }
}
