import Foundation

/// The one timestamp every artifact carries, so identical input gives byte-identical output.
public enum BuildEpoch {
    /// 2000-01-01T00:00:00Z: the fixed default when `SOURCE_DATE_EPOCH` is not set.
    public static let defaultEpoch: Int64 = 946_684_800

    /// `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set to a valid integer, else the default.
    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int64 {
        if let text = environment["SOURCE_DATE_EPOCH"], let value = Int64(text.trimmingCharacters(in: .whitespaces)),
            value >= 0
        {
            return value
        }
        return defaultEpoch
    }
}
