import Foundation

/// The one way seedgen expands `~`: a leading `~/` stands for `$HOME` (the process's home directory
/// when HOME is unset), in vm.yaml paths and in catalog keyrings alike. `~user` is not expanded.
public enum PathExpansion {
    public static func expandingTilde(
        _ path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        guard path.hasPrefix("~/") else { return path }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(String(path.dropFirst(2)))
    }
}
