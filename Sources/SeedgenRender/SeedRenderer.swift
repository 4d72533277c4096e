import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenYAML

/// The NoCloud files of one VM, ready to pack into a seed ISO or to print.
public struct RenderedSeed: Sendable, Hashable {
    public var userData: Data
    public var metaData: Data
    public var networkConfig: Data
    /// The user's `vendor_data` file, passed through unchanged.
    public var vendorData: Data?
    /// `iid-<vmid>-<first 12 hex of sha256(user-data + network-config)>`.
    public var instanceID: String

    public init(userData: Data, metaData: Data, networkConfig: Data, vendorData: Data?, instanceID: String) {
        self.userData = userData
        self.metaData = metaData
        self.networkConfig = networkConfig
        self.vendorData = vendorData
        self.instanceID = instanceID
    }

    /// The files in NoCloud naming and order: user-data, meta-data, network-config, [vendor-data].
    public var files: [(name: String, data: Data)] {
        var files = [
            (name: "user-data", data: userData), (name: "meta-data", data: metaData),
            (name: "network-config", data: networkConfig),
        ]
        if let vendorData { files.append((name: "vendor-data", data: vendorData)) }
        return files
    }

    /// The file called `name` (`user-data`, `meta-data`, `network-config`, `vendor-data`), if rendered.
    public func file(named name: String) -> Data? {
        files.first { $0.name == name }?.data
    }
}

/// Renders a VM's cloud-init NoCloud files from the built-in templates, the user's own templates
/// and `cloud_init.extra` (SPEC §2, cloud_init).
///
/// Each document is built as a tree: the built-in template renders the structured fields, the
/// user's template (rendered with the same values) is deep-merged on top, then `extra` (user-data
/// only). seedgen then writes the tree out itself and checks that the text reads back as the same
/// tree, so no value and no template can produce a file cloud-init reads differently.
public enum SeedRenderer {
    public static func render(_ spec: VMSpec) throws -> RenderedSeed {
        var diagnostics = DiagnosticCollector()
        var context = RenderContextBuilder.context(for: spec)
        let cloudInit = spec.cloudInit

        let userTree = mergedTree(
            builtin: "user-data", override: cloudInit.templates.userData, keyPath: "cloud_init.templates.user_data",
            context: context, extra: cloudInit.extra, spec: spec, diagnostics: &diagnostics)
        let networkTemplate = cloudInit.networkConfigVersion == 1 ? "network-config-v1" : "network-config-v2"
        let networkTree = mergedTree(
            builtin: networkTemplate, override: cloudInit.templates.networkConfig,
            keyPath: "cloud_init.templates.network_config", context: context, extra: nil, spec: spec,
            diagnostics: &diagnostics)
        checkParts(spec, diagnostics: &diagnostics)
        checkUsers(in: userTree, spec: spec, diagnostics: &diagnostics)
        try diagnostics.throwIfErrors()

        let cloudConfig = Data(("#cloud-config\n" + (try emitVerified(userTree, document: "user-data"))).utf8)
        let userData =
            cloudInit.parts.isEmpty
            ? cloudConfig : RenderMultipart.compose(cloudConfig: cloudConfig, parts: cloudInit.parts)
        let networkConfig = Data(try emitVerified(networkTree, document: "network-config").utf8)
        let instanceID = "iid-\(spec.vmid)-" + Digest.sha256Hex(userData + networkConfig).prefix(12)

        context["instance_id"] = instanceID
        let metaTree = mergedTree(
            builtin: "meta-data", override: cloudInit.templates.metaData, keyPath: "cloud_init.templates.meta_data",
            context: context, extra: nil, spec: spec, diagnostics: &diagnostics)
        try diagnostics.throwIfErrors()
        let metaData = Data(
            try emitVerified(metaTree.settingFirst("instance-id", to: .string(instanceID)), document: "meta-data").utf8)

        return RenderedSeed(
            userData: userData, metaData: metaData, networkConfig: networkConfig, vendorData: cloudInit.vendorData,
            instanceID: instanceID)
    }

    /// The top-level keys each layer of a document set, in merge order (for `render --explain`).
    struct Layers {
        var builtin: [YAMLNode] = []
        var userTemplate: [YAMLNode] = []
        var extra: [YAMLNode] = []
    }

    /// The merged user-data tree and the keys each layer set, without writing anything.
    static func userDataLayers(_ spec: VMSpec) throws -> (tree: YAMLNode, layers: Layers) {
        var diagnostics = DiagnosticCollector()
        var layers = Layers()
        let tree = mergedTree(
            builtin: "user-data", override: spec.cloudInit.templates.userData,
            keyPath: "cloud_init.templates.user_data",
            context: RenderContextBuilder.context(for: spec), extra: spec.cloudInit.extra, spec: spec,
            diagnostics: &diagnostics,
            layers: &layers)
        try diagnostics.throwIfErrors()
        return (tree, layers)
    }

    /// Built-in template, then the user's template, then `extra`, merged (maps merge, lists replace).
    private static func mergedTree(
        builtin: String, override: TemplateSource?, keyPath: String, context: [String: Any], extra: YAMLNode?,
        spec: VMSpec, diagnostics: inout DiagnosticCollector
    ) -> YAMLNode {
        var layers = Layers()
        return mergedTree(
            builtin: builtin, override: override, keyPath: keyPath, context: context, extra: extra, spec: spec,
            diagnostics: &diagnostics, layers: &layers)
    }

    private static func mergedTree(
        builtin: String, override: TemplateSource?, keyPath: String, context: [String: Any], extra: YAMLNode?,
        spec: VMSpec, diagnostics: inout DiagnosticCollector, layers: inout Layers
    ) -> YAMLNode {
        let document = builtin.hasPrefix("network-config") ? "network-config" : builtin
        var tree = tree(
            of: .builtin(builtin, keyPath: keyPath), document: document, context: context, diagnostics: &diagnostics)
        layers.builtin = tree.pairs?.map(\.key) ?? []
        if let override {
            let template = RenderTemplate.user(override, keyPath: keyPath)
            var userTree = self.tree(of: template, document: document, context: context, diagnostics: &diagnostics)
            if document == "network-config" { userTree = unwrappingNetworkKey(userTree) }
            layers.userTemplate = userTree.pairs?.map(\.key) ?? []
            tree = tree.merging(userTree)
        }
        if let extra {
            if extra.pairs != nil, extra.tag == .map {
                layers.extra = extra.pairs?.map(\.key) ?? []
                tree = tree.merging(extra)
            } else {
                diagnostics.error(
                    "must be a mapping of cloud-config keys", at: spec.location(of: "cloud_init.extra"),
                    keyPath: "cloud_init.extra", allowed: "for example `extra: {ntp: {enabled: true}}`")
            }
        }
        return tree.droppingNullEntries()
    }

    private static func tree(
        of template: RenderTemplate, document: String, context: [String: Any], diagnostics: inout DiagnosticCollector
    ) -> YAMLNode {
        switch RenderTemplateEngine.renderTree(template, context: context) {
        case .success(let tree):
            switch tree.kind {
            case .mapping where tree.tag == .map:
                return tree
            case .scalar where tree.isNull:
                return .map([])
            default:
                diagnostics.error(
                    "\(template.isBuiltin ? "built-in template" : "template") must render a YAML mapping for "
                        + "\(document)",
                    at: SourceLocation(file: template.displayPath, line: 1, column: 1), keyPath: template.keyPath,
                    allowed: "top-level `key: value` lines")
                return .map([])
            }
        case .failure(let error):
            if case .invalidInput(let found) = error { diagnostics.append(contentsOf: found) }
            return .map([])
        }
    }

    /// network-config may be written wrapped in `network:` (as netplan files are); the built-in
    /// templates write it bare, so a wrapped user template is unwrapped before merging.
    private static func unwrappingNetworkKey(_ tree: YAMLNode) -> YAMLNode {
        if let pairs = tree.pairs, pairs.count == 1, pairs[0].key.string == "network", pairs[0].value.pairs != nil {
            return pairs[0].value
        }
        return tree
    }

    private static func checkParts(_ spec: VMSpec, diagnostics: inout DiagnosticCollector) {
        for (index, part) in spec.cloudInit.parts.enumerated() {
            let keyPath = "cloud_init.parts[\(index)]"
            if !RenderMultipart.isValidType(part.type) {
                diagnostics.error(
                    "`\(part.type)` is not a MIME type", at: spec.location(of: "\(keyPath).type"),
                    keyPath: "\(keyPath).type",
                    allowed: "type/subtype, e.g. text/x-shellscript, text/cloud-config, text/cloud-boothook")
            }
            if part.type == "text/cloud-config" {
                let text = String(decoding: part.content, as: UTF8.self)
                do {
                    _ = try RenderYAML.parse(text)
                } catch {
                    diagnostics.error(
                        "cloud-config part \(part.filename) is not valid YAML: \(error)",
                        at: spec.location(of: "\(keyPath).source"), keyPath: "\(keyPath).source")
                }
            }
        }
    }

    /// Keys cloud-init accepts in a `users` entry (its schema forbids any other; 22.4 plus `doas`).
    static let userEntryKeys: Set<String> = [
        "create_groups", "doas", "expiredate", "gecos", "groups", "hashed_passwd", "homedir", "inactive", "lock_passwd",
        "lock-passwd", "name", "no_create_home", "no_log_init", "no_user_group", "passwd", "plain_text_passwd",
        "primary_group", "selinux_user", "shell", "snapuser", "ssh_authorized_keys", "ssh_import_id",
        "ssh_redirect_user", "sudo", "system", "uid",
    ]

    /// The merged `users` list must still be one cloud-init accepts: the generated entries are,
    /// but a user template or `extra:` can add entries with misspelt keys or an empty `groups`.
    private static func checkUsers(in tree: YAMLNode, spec: VMSpec, diagnostics: inout DiagnosticCollector) {
        guard let entries = tree["users"]?.items else { return }
        let fromExtra = spec.cloudInit.extra?["users"] != nil
        let keyPath = fromExtra ? "cloud_init.extra.users" : "cloud_init.users"
        let location =
            fromExtra
            ? spec.location(of: keyPath)
            : spec.cloudInit.templates.userData.map { SourceLocation(file: $0.path, line: 1, column: 1) }
                ?? spec.location(of: keyPath)
        for (index, entry) in entries.enumerated() {
            guard let pairs = entry.pairs else { continue }
            let entryPath = "\(keyPath)[\(index)]"
            if entry["name"] == nil && entry["snapuser"] == nil {
                diagnostics.error(
                    "a user entry needs a name", at: location, keyPath: entryPath, allowed: "name: <login>")
            }
            for pair in pairs {
                let key = pair.key.keyText
                if pair.key.string == nil || !userEntryKeys.contains(key) {
                    let suggestion = key.replacingOccurrences(of: "-", with: "_")
                    diagnostics.error(
                        "cloud-init does not accept `\(key)` in a user entry", at: location,
                        keyPath: "\(entryPath).\(key)",
                        allowed: userEntryKeys.contains(suggestion)
                            ? "did you mean `\(suggestion)`?"
                            : "one of \(userEntryKeys.sorted().joined(separator: ", "))")
                }
                if key == "groups", pair.value.items?.isEmpty == true {
                    diagnostics.error(
                        "an empty groups list fails cloud-init 22.4", at: location, keyPath: "\(entryPath).groups",
                        allowed: "leave groups out, or name at least one group")
                }
            }
        }
    }

    /// The YAML text of `tree`, accepted only if reading it back gives exactly `tree`.
    static func emitVerified(_ tree: YAMLNode, document: String) throws -> String {
        let text: String
        do {
            text = try RenderYAML.emit(tree)
        } catch {
            throw SeedgenError.runtime(
                message: "cannot write \(document) as YAML", hint: "this is a seedgen bug; please report it",
                cause: String(describing: error))
        }
        let reread: YAMLNode
        do {
            reread = try RenderYAML.parse(text)
        } catch {
            throw SeedgenError.runtime(
                message: "the \(document) seedgen wrote does not parse back",
                hint: "this is a seedgen bug; please report it",
                cause: String(describing: error))
        }
        guard reread.isIdentical(to: tree) else {
            throw SeedgenError.runtime(
                message: "the \(document) seedgen wrote reads back differently from what was rendered",
                hint: "this is a seedgen bug; please report it with the values involved")
        }
        return text
    }
}
