import Foundation
import SeedgenCore
import SeedgenImage

/// The migration path of SPEC §2: a file of the Ansible role's `proxmox_vm_*` variables is read as
/// the equivalent vm.yaml tree. Every converted value keeps the position of the variable it came
/// from, so errors point at the user's Ansible file.
enum AnsibleVariables {
    static func looksLikeAnsible(_ tree: SpecNode) -> Bool {
        guard let entries = tree.entries, !entries.isEmpty else { return false }
        return entries.contains { $0.key.hasPrefix("proxmox_") }
            && !entries.contains { VMSpecDecoding.topLevelKeys.contains($0.key) }
    }

    /// Variables with a direct place in vm.yaml.
    static let paths: [String: [String]] = [
        "proxmox_vm_name": ["name"],
        "proxmox_vm_vmid": ["vmid"],
        "proxmox_vm_node": ["node"],
        "proxmox_vm_description": ["description"],
        "proxmox_vm_tags": ["tags"],
        "proxmox_vm_pool": ["pool"],
        "proxmox_vm_cores": ["hardware", "cores"],
        "proxmox_vm_sockets": ["hardware", "sockets"],
        "proxmox_vm_memory": ["hardware", "memory"],
        "proxmox_vm_cpu": ["hardware", "cpu"],
        "proxmox_vm_bios": ["hardware", "bios"],
        "proxmox_vm_onboot": ["hardware", "onboot"],
        "proxmox_vm_disk_size": ["hardware", "disk", "size"],
        "proxmox_disk_storage": ["hardware", "disk", "storage"],
        "proxmox_vm_bridge": ["network", "interfaces", "0", "bridge"],
        "proxmox_vm_vlan": ["network", "interfaces", "0", "vlan"],
        "proxmox_vm_cloud_image_url": ["image", "url"],
        "proxmox_vm_cloud_init_user": ["cloud_init", "users", "0", "name"],
        "proxmox_vm_cloud_init_ssh_keys_file": ["cloud_init", "users", "0", "ssh_authorized_keys_file"],
        "proxmox_vm_cloud_init_ip": ["network", "interfaces", "0", "ipv4"],
        "proxmox_vm_cloud_init_gw": ["network", "interfaces", "0", "gateway4"],
    ]

    /// Variables that configured the role's machinery, not the VM: seedgen does these itself.
    static let ignored: [String: String] = [
        "proxmox_vm_import_disk_format": "seedgen imports with import-from and picks the storage's format",
        "proxmox_cloud_image_cache_dir": "use seedgen's --cache DIR (or SEEDGEN_CACHE) instead",
        "proxmox_iso_download_timeout": "seedgen's downloads have their own timeouts and resume",
    ]

    static var knownNames: [String] {
        Array(paths.keys) + Array(ignored.keys) + [
            "proxmox_vm_cloud_image_checksum", "proxmox_vm_cloud_init_password", "proxmox_vm_cloud_init_ssh_keys",
            "proxmox_vm_cloud_init_dns", "proxmox_vm_cloud_init_domain", "proxmox_vm_import_disk_size_increase",
            "proxmox_vm_cloud_init_enabled", "proxmox_operation",
        ]
    }

    /// The only operation of the role seedgen does.
    static let createOperation = "create_vm"

    static func convert(_ tree: SpecNode, catalog: ImageCatalog = .builtIn()) throws(SeedgenError) -> (
        tree: SpecNode, warnings: [Diagnostic]
    ) {
        var problems: [Diagnostic] = []
        var root = SpecNode(kind: .map([]), location: tree.location)
        for entry in tree.entries ?? [] {
            let value = entry.value
            switch entry.key {
            case "proxmox_vm_cloud_image_url" where AnsibleJinja.containsJinja(value):
                convertImageExpression(
                    value, into: &root, keyLocation: entry.keyLocation, catalog: catalog, problems: &problems)
                continue
            case "proxmox_vm_cloud_init_ssh_keys":
                // Without proxmox_vm_cloud_init_user the role (through Proxmox's sshkeys) gave the
                // keys to the image's default user: cloud-config's top-level ssh_authorized_keys.
                let target =
                    tree["proxmox_vm_cloud_init_user"] == nil
                    ? ["cloud_init", "extra", "ssh_authorized_keys"]
                    : ["cloud_init", "users", "0", "ssh_authorized_keys"]
                convertSSHKeys(value, into: &root, at: target, keyLocation: entry.keyLocation, problems: &problems)
                continue
            default:
                if let jinja = AnsibleJinja.firstJinjaNode(in: value) {
                    problems.append(AnsibleJinja.unsupported(at: jinja, keyPath: entry.key))
                    continue
                }
            }
            if let path = paths[entry.key] {
                root.set(path, value, keyLocation: entry.keyLocation)
                continue
            }
            if let reason = ignored[entry.key] {
                problems.append(
                    Diagnostic(.warning, at: entry.keyLocation, keyPath: entry.key, message: "ignored: \(reason)"))
                continue
            }
            switch entry.key {
            case "proxmox_vm_cloud_image_checksum":
                convertChecksum(value, into: &root, keyLocation: entry.keyLocation, problems: &problems)
            case "proxmox_vm_cloud_init_password":
                if case .scalar(let text, _) = value.kind, PasswordHash.scheme(of: text) != nil {
                    root.set(["cloud_init", "users", "0", "password_hash"], value, keyLocation: entry.keyLocation)
                } else {
                    problems.append(
                        Diagnostic(
                            at: value.location, keyPath: entry.key, message: "plaintext password inline is not allowed",
                            allowed: "put it in a file and use cloud_init.users[0].password_file, or pass a crypt hash")
                    )
                }
            case "proxmox_operation":
                if case .scalar(let text, .string) = value.kind, text == createOperation { break }
                let shown = (value.kind.scalarText).map { "'\($0)'" } ?? value.typeName
                problems.append(
                    Diagnostic(
                        at: value.location, keyPath: entry.key,
                        message: "seedgen only creates VMs; operation \(shown) is not one it does",
                        allowed: "proxmox_operation: create_vm (start, stop or delete VMs with qm or the Proxmox API)"))
            case "proxmox_vm_cloud_init_dns":
                root.set(["network", "nameservers"], splitList(value), keyLocation: entry.keyLocation)
            case "proxmox_vm_cloud_init_domain":
                root.set(["network", "search"], splitList(value), keyLocation: entry.keyLocation)
            case "proxmox_vm_import_disk_size_increase":
                problems.append(
                    Diagnostic(
                        .warning, at: value.location, keyPath: entry.key,
                        message: "not converted: seedgen sets the boot disk's final size",
                        allowed: "set hardware.disk.size to the image's size plus this increase"))
            case "proxmox_vm_cloud_init_enabled":
                if case .scalar(let text, .bool) = value.kind, !["true", "yes", "on", "y"].contains(text.lowercased()) {
                    problems.append(
                        Diagnostic(
                            at: value.location, keyPath: entry.key,
                            message: "seedgen always provisions with cloud-init",
                            allowed: "remove this variable or set it to true"))
                }
            default:
                var hint = "a proxmox_vm_* variable seedgen knows (see README, Ansible migration)"
                if let suggestion = NameSuggestion.closest(to: entry.key, in: knownNames) {
                    hint = "did you mean '\(suggestion)'?"
                }
                problems.append(
                    Diagnostic(
                        at: entry.keyLocation, keyPath: entry.key, message: "unknown Ansible variable", allowed: hint))
            }
        }
        if problems.contains(where: { $0.severity == .error }) { throw .invalidInput(problems) }
        return (root, problems)
    }

    /// `{{ proxmox_cloud_image_urls['NAME'] }}`: one of the role's names is the URL the role gives
    /// for it (verified by its publisher's checksum list); any other catalog name is that image.
    private static func convertImageExpression(
        _ value: SpecNode, into root: inout SpecNode, keyLocation: SourceLocation, catalog: ImageCatalog,
        problems: inout [Diagnostic]
    ) {
        let key = "proxmox_vm_cloud_image_url"
        guard case .scalar(let text, _) = value.kind, let name = AnsibleJinja.imageName(in: text) else {
            problems.append(AnsibleJinja.unsupported(at: AnsibleJinja.firstJinjaNode(in: value) ?? value, keyPath: key))
            return
        }
        if let url = catalog.ansibleRoleImageURL(named: name) {
            root.set(
                ["image", "url"],
                SpecNode(kind: .scalar(text: url.absoluteString, type: .string), location: value.location),
                keyLocation: keyLocation)
        } else if catalog.entry(named: name) != nil {
            root.set(
                ["image"], SpecNode(kind: .scalar(text: name, type: .string), location: value.location),
                keyLocation: keyLocation)
        } else {
            let known = AnsibleRoleImages.names + catalog.names.filter { !AnsibleRoleImages.names.contains($0) }
            var hint = "one of \(known.joined(separator: ", "))"
            if let suggestion = NameSuggestion.closest(to: name, in: known) {
                hint = "did you mean '\(suggestion)'? " + hint
            }
            problems.append(
                Diagnostic(
                    at: value.location, keyPath: key, message: "proxmox_cloud_image_urls has no image '\(name)'",
                    allowed: hint))
        }
    }

    /// The role took one string with newline-separated keys, or a list; either may be
    /// `{{ lookup('file', 'PATH') }}`, whose file is read here (relative to the file naming it).
    private static func convertSSHKeys(
        _ value: SpecNode, into root: inout SpecNode, at target: [String], keyLocation: SourceLocation,
        problems: inout [Diagnostic]
    ) {
        let key = "proxmox_vm_cloud_init_ssh_keys"
        var items: [SpecNode]
        switch value.kind {
        case .scalar where AnsibleJinja.containsJinja(value): items = [value]
        case .scalar(let text, _):
            items = text.split(separator: "\n").map {
                SpecNode(kind: .scalar(text: String($0), type: .string), location: value.location)
            }
        case .list(let list): items = list
        case .map: items = [value]
        }
        var keys: [SpecNode] = []
        for item in items {
            guard let jinja = AnsibleJinja.firstJinjaNode(in: item) else {
                // Checked here too: keys for the default user go to `extra`, which is not checked later.
                if case .scalar(let text, _) = item.kind, let problem = SSHPublicKey.problem(with: text) {
                    problems.append(
                        Diagnostic(
                            at: item.location, keyPath: key, message: "invalid OpenSSH public key: \(problem)",
                            allowed: "a line like 'ssh-ed25519 AAAA… comment'"))
                }
                keys.append(item)
                continue
            }
            guard case .scalar(let text, _) = item.kind, let path = AnsibleJinja.lookupFilePath(in: text) else {
                problems.append(AnsibleJinja.unsupported(at: jinja, keyPath: key))
                continue
            }
            let resolved = SpecPaths.resolve(path, relativeTo: item.location.file)
            guard let data = FileManager.default.contents(atPath: resolved),
                let content = String(data: data, encoding: .utf8)
            else {
                let reason =
                    FileManager.default.fileExists(atPath: resolved) ? "cannot read the key file" : "key file not found"
                problems.append(
                    Diagnostic(
                        at: item.location, keyPath: key, message: "\(reason): \(resolved)",
                        allowed: "lookup('file', PATH) reads PATH relative to this file; ~ is your home"))
                continue
            }
            let lines = content.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            if lines.isEmpty {
                problems.append(
                    Diagnostic(at: item.location, keyPath: key, message: "key file \(resolved) holds no key"))
            }
            for line in lines {
                if let problem = SSHPublicKey.problem(with: line) {
                    problems.append(
                        Diagnostic(
                            at: item.location, keyPath: key,
                            message: "invalid OpenSSH public key in \(resolved): \(problem)",
                            allowed: "a line like 'ssh-ed25519 AAAA… comment'"))
                }
                keys.append(SpecNode(kind: .scalar(text: line, type: .string), location: item.location))
            }
        }
        root.set(target, SpecNode(kind: .list(keys), location: value.location), keyLocation: keyLocation)
    }

    /// Ansible's `get_url` checksum forms: `sha256:HEX`, `sha512:HEX`, `sha256:URL` (a checksum
    /// list), or a bare digest.
    private static func convertChecksum(
        _ value: SpecNode, into root: inout SpecNode, keyLocation: SourceLocation, problems: inout [Diagnostic]
    ) {
        guard case .scalar(let text, _) = value.kind else {
            problems.append(
                Diagnostic(at: value.location, keyPath: "proxmox_vm_cloud_image_checksum", message: "expected a string")
            )
            return
        }
        var algorithm = ""
        var digest = text
        if let colon = text.firstIndex(of: ":"), !text.hasPrefix("http") {
            algorithm = text[..<colon].lowercased()
            digest = String(text[text.index(after: colon)...])
        }
        func scalar(_ text: String) -> SpecNode {
            SpecNode(kind: .scalar(text: text, type: .string), location: value.location)
        }
        if digest.hasPrefix("http://") || digest.hasPrefix("https://") {
            root.set(["image", "checksums_url"], scalar(digest), keyLocation: keyLocation)
        } else if algorithm == "sha512" || (algorithm.isEmpty && digest.count == 128) {
            root.set(["image", "sha512"], scalar(digest), keyLocation: keyLocation)
        } else if algorithm == "sha256" || (algorithm.isEmpty && digest.count == 64) {
            root.set(["image", "sha256"], scalar(digest), keyLocation: keyLocation)
        } else {
            problems.append(
                Diagnostic(
                    at: value.location, keyPath: "proxmox_vm_cloud_image_checksum",
                    message: "unsupported checksum '\(text)'",
                    allowed: "sha256:HEX, sha512:HEX or sha256:URL-of-a-checksum-list"))
        }
    }

    /// "1.1.1.1 8.8.8.8" or "1.1.1.1,8.8.8.8" or a list.
    private static func splitList(_ value: SpecNode) -> SpecNode {
        guard case .scalar(let text, _) = value.kind else { return value }
        let items = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" })
            .map { SpecNode(kind: .scalar(text: String($0), type: .string), location: value.location) }
        return SpecNode(kind: .list(items), location: value.location)
    }
}

/// The two Jinja forms the role's users write everywhere; every other expression is an error
/// that names them.
enum AnsibleJinja {
    static let understood =
        "seedgen reads only {{ proxmox_cloud_image_urls['NAME'] }} in proxmox_vm_cloud_image_url and {{ lookup('file', "
        + "'PATH') }} in proxmox_vm_cloud_init_ssh_keys; write any other value out"

    static func containsJinja(_ node: SpecNode) -> Bool { firstJinjaNode(in: node) != nil }

    /// The first scalar (or key) at or under `node` that holds a Jinja expression or statement.
    static func firstJinjaNode(in node: SpecNode) -> SpecNode? {
        switch node.kind {
        case .scalar(let text, _): return text.contains("{{") || text.contains("{%") ? node : nil
        case .list(let items): return items.lazy.compactMap(firstJinjaNode).first
        case .map(let entries):
            for entry in entries {
                if entry.key.contains("{{") || entry.key.contains("{%") {
                    return SpecNode(kind: .scalar(text: entry.key, type: .string), location: entry.keyLocation)
                }
                if let found = firstJinjaNode(in: entry.value) { return found }
            }
            return nil
        }
    }

    static func unsupported(at node: SpecNode, keyPath: String) -> Diagnostic {
        Diagnostic(
            at: node.location, keyPath: keyPath, message: "Jinja expressions are not evaluated by seedgen",
            allowed: understood)
    }

    /// NAME of `{{ proxmox_cloud_image_urls['NAME'] }}`, `["NAME"]` or `.NAME`.
    static func imageName(in text: String) -> String? {
        capture(
            #"^\s*\{\{\s*proxmox_cloud_image_urls\s*(?:\[\s*'([^'"]+)'\s*\]|\[\s*"([^'"]+)"\s*\]|\.([A-Za-z0-9_.-]+))\s*\}\}\s*$"#,
            in: text)
    }

    /// PATH of `{{ lookup('file', 'PATH') }}` (either quotes; `ansible.builtin.file` too).
    static func lookupFilePath(in text: String) -> String? {
        capture(
            #"^\s*\{\{\s*lookup\(\s*(['"])(?:ansible\.builtin\.)?file\1\s*,\s*(?:'([^']+)'|"([^"]+)")\s*\)\s*\}\}\s*$"#,
            in: text, skipping: 1)
    }

    /// The first non-empty capture group after `skipping` groups.
    private static func capture(_ pattern: String, in text: String, skipping: Int = 0) -> String? {
        guard let expression = try? NSRegularExpression(pattern: pattern),
            let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        else { return nil }
        for group in (1 + skipping)..<match.numberOfRanges {
            if let range = Range(match.range(at: group), in: text), !range.isEmpty { return String(text[range]) }
        }
        return nil
    }
}

extension SpecNode.Kind {
    var scalarText: String? {
        if case .scalar(let text, _) = self { return text }
        return nil
    }
}

extension SpecNode {
    /// Sets a value at a path of map keys and list indices ("0"), creating maps and lists on the way.
    mutating func set(_ path: [String], _ value: SpecNode, keyLocation: SourceLocation) {
        guard let head = path.first else {
            self = value
            return
        }
        let rest = Array(path.dropFirst())
        if let index = Int(head) {
            var items: [SpecNode] = []
            if case .list(let existing) = kind { items = existing }
            while items.count <= index { items.append(SpecNode(kind: .map([]), location: value.location)) }
            items[index].set(rest, value, keyLocation: keyLocation)
            kind = .list(items)
            return
        }
        var entries = self.entries ?? []
        let isList = rest.first.flatMap { Int($0) } != nil
        if let position = entries.firstIndex(where: { $0.key == head }) {
            entries[position].value.set(rest, value, keyLocation: keyLocation)
        } else {
            var child = SpecNode(kind: isList ? .list([]) : .map([]), location: value.location)
            child.set(rest, value, keyLocation: keyLocation)
            entries.append(Entry(key: head, keyLocation: keyLocation, value: child))
        }
        kind = .map(entries)
    }
}
