import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenYAML

/// Where each top-level key of a VM's user-data comes from (`seedgen render --explain`): the
/// built-in template (from a structured vm.yaml field, or its own default), the user's template,
/// `cloud_init.extra` — in merge order, each later one merged over (maps) or replacing (anything
/// else) the one before.
public struct UserDataKeyOrigin: Sendable, Hashable {
    public var key: String
    /// One line per layer that set the key, earliest first.
    public var sources: [String]
}

extension SeedRenderer {
    /// The vm.yaml fields the built-in user-data template turns into each of its keys.
    static let structuredFields: [String: [String]] = [
        "hostname": ["name"], "fqdn": ["name"], "users": ["cloud_init.users", "cloud_init.keep_default_user"],
        "ssh_pwauth": ["cloud_init.ssh_pwauth"], "timezone": ["cloud_init.timezone"], "locale": ["cloud_init.locale"],
        "package_update": ["cloud_init.package_update"], "package_upgrade": ["cloud_init.package_upgrade"],
        "packages": ["cloud_init.packages"], "write_files": ["cloud_init.write_files"],
        "bootcmd": ["cloud_init.bootcmd"],
        "runcmd": ["cloud_init.runcmd"],
    ]

    public static func explainUserData(_ spec: VMSpec) throws -> [UserDataKeyOrigin] {
        let (tree, layers) = try userDataLayers(spec)
        func sets(_ keys: [YAMLNode], _ key: YAMLNode) -> Bool { keys.contains { $0.isIdentical(to: key) } }
        return (tree.pairs ?? []).map { pair in
            var sources: [String] = []
            let name = pair.key.keyText
            if sets(layers.builtin, pair.key) {
                let given = (structuredFields[name] ?? []).compactMap { path in
                    spec.locations[path].map { "`\(path)` (\($0))" }
                }
                sources.append(
                    given.isEmpty
                        ? "built-in template"
                        : "structured field " + given.joined(separator: ", ") + ", through the built-in template")
            }
            if sets(layers.userTemplate, pair.key), let template = spec.cloudInit.templates.userData {
                sources.append(
                    "your template \(template.path)"
                        + (sources.isEmpty ? "" : pair.value.pairs != nil ? ", merged over it" : ", replacing it"))
            }
            if sets(layers.extra, pair.key) {
                // The key's own line in the file that gave `extra`.
                let key = spec.cloudInit.extra?.pairs?.first { $0.key.isIdentical(to: pair.key) }?.key
                let location = spec.locations["cloud_init.extra"].map { extra in
                    key.map { SourceLocation(file: extra.file, line: $0.mark.line, column: $0.mark.column) } ?? extra
                }
                sources.append(
                    "`cloud_init.extra`" + (location.map { " (\($0))" } ?? "")
                        + (sources.isEmpty ? "" : pair.value.pairs != nil ? ", merged over it" : ", replacing it"))
            }
            return UserDataKeyOrigin(key: name, sources: sources)
        }
    }

    /// The explanation as `render --explain` prints it: one key per line, its sources after it.
    public static func explanation(_ spec: VMSpec) throws -> String {
        let origins = try explainUserData(spec)
        let width = min(24, origins.map(\.key.count).max() ?? 0)
        var text = "# user-data: where each top-level key comes from (later sources win)\n"
        for origin in origins {
            let padded = origin.key.padding(toLength: max(width, origin.key.count), withPad: " ", startingAt: 0)
            text += "\(padded)  \(origin.sources.joined(separator: "; then "))\n"
        }
        if !spec.cloudInit.parts.isEmpty {
            text +=
                "# and \(spec.cloudInit.parts.count) MIME part(s) from cloud_init.parts, joined as multipart "
                + "user-data\n"
        }
        return text
    }
}
