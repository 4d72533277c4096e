import Foundation

/// The migration path of SPEC §2: a file of the Ansible role's `proxmox_vm_*` variables is read as
/// the equivalent vm.yaml tree. Every converted value keeps the position of the variable it came
/// from, so errors point at the user's Ansible file.
enum AnsibleVariables {
    static func looksLikeAnsible(_ tree: SpecNode) -> Bool {
        guard let entries = tree.entries, !entries.isEmpty else { return false }
        return entries.contains { $0.key.hasPrefix("proxmox_") } && !entries.contains { VMSpecDecoding.topLevelKeys.contains($0.key) }
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
            "proxmox_vm_cloud_init_enabled",
        ]
    }

    static func convert(_ tree: SpecNode) throws(SeedgenError) -> (tree: SpecNode, warnings: [Diagnostic]) {
        var problems: [Diagnostic] = []
        var root = SpecNode(kind: .map([]), location: tree.location)
        for entry in tree.entries ?? [] {
            let value = entry.value
            if case .scalar(let text, _) = value.kind, text.contains("{{") {
                problems.append(Diagnostic(at: value.location, keyPath: entry.key, message: "Jinja expressions are not evaluated by seedgen", allowed: "write the resolved value"))
                continue
            }
            if let path = paths[entry.key] {
                root.set(path, value, keyLocation: entry.keyLocation)
                continue
            }
            if let reason = ignored[entry.key] {
                problems.append(Diagnostic(.warning, at: entry.keyLocation, keyPath: entry.key, message: "ignored: \(reason)"))
                continue
            }
            switch entry.key {
            case "proxmox_vm_cloud_image_checksum":
                convertChecksum(value, into: &root, keyLocation: entry.keyLocation, problems: &problems)
            case "proxmox_vm_cloud_init_password":
                if case .scalar(let text, _) = value.kind, PasswordHash.scheme(of: text) != nil {
                    root.set(["cloud_init", "users", "0", "password_hash"], value, keyLocation: entry.keyLocation)
                } else {
                    problems.append(Diagnostic(
                        at: value.location, keyPath: entry.key, message: "plaintext password inline is not allowed",
                        allowed: "put it in a file and use cloud_init.users[0].password_file, or pass a crypt hash"))
                }
            case "proxmox_vm_cloud_init_ssh_keys":
                // The role took one string with newline-separated keys, or a list.
                if case .scalar(let text, _) = value.kind {
                    let keys = text.split(separator: "\n").map { SpecNode(kind: .scalar(text: String($0), type: .string), location: value.location) }
                    root.set(["cloud_init", "users", "0", "ssh_authorized_keys"], SpecNode(kind: .list(keys), location: value.location), keyLocation: entry.keyLocation)
                } else {
                    root.set(["cloud_init", "users", "0", "ssh_authorized_keys"], value, keyLocation: entry.keyLocation)
                }
            case "proxmox_vm_cloud_init_dns":
                root.set(["network", "nameservers"], splitList(value), keyLocation: entry.keyLocation)
            case "proxmox_vm_cloud_init_domain":
                root.set(["network", "search"], splitList(value), keyLocation: entry.keyLocation)
            case "proxmox_vm_import_disk_size_increase":
                problems.append(Diagnostic(
                    .warning, at: value.location, keyPath: entry.key, message: "not converted: seedgen sets the boot disk's final size",
                    allowed: "set hardware.disk.size to the image's size plus this increase"))
            case "proxmox_vm_cloud_init_enabled":
                if case .scalar(let text, .bool) = value.kind, !["true", "yes", "on", "y"].contains(text.lowercased()) {
                    problems.append(Diagnostic(at: value.location, keyPath: entry.key, message: "seedgen always provisions with cloud-init", allowed: "remove this variable or set it to true"))
                }
            default:
                var hint = "a proxmox_vm_* variable seedgen knows (see README, Ansible migration)"
                if let suggestion = Suggestion.closest(to: entry.key, in: knownNames) { hint = "did you mean '\(suggestion)'?" }
                problems.append(Diagnostic(at: entry.keyLocation, keyPath: entry.key, message: "unknown Ansible variable", allowed: hint))
            }
        }
        if problems.contains(where: { $0.severity == .error }) { throw .invalidInput(problems) }
        return (root, problems)
    }

    /// Ansible's `get_url` checksum forms: `sha256:HEX`, `sha512:HEX`, `sha256:URL` (a checksum
    /// list), or a bare digest.
    private static func convertChecksum(_ value: SpecNode, into root: inout SpecNode, keyLocation: SourceLocation, problems: inout [Diagnostic]) {
        guard case .scalar(let text, _) = value.kind else {
            problems.append(Diagnostic(at: value.location, keyPath: "proxmox_vm_cloud_image_checksum", message: "expected a string"))
            return
        }
        var algorithm = ""
        var digest = text
        if let colon = text.firstIndex(of: ":"), !text.hasPrefix("http") {
            algorithm = text[..<colon].lowercased()
            digest = String(text[text.index(after: colon)...])
        }
        func scalar(_ text: String) -> SpecNode { SpecNode(kind: .scalar(text: text, type: .string), location: value.location) }
        if digest.hasPrefix("http://") || digest.hasPrefix("https://") {
            root.set(["image", "checksums_url"], scalar(digest), keyLocation: keyLocation)
        } else if algorithm == "sha512" || (algorithm.isEmpty && digest.count == 128) {
            root.set(["image", "sha512"], scalar(digest), keyLocation: keyLocation)
        } else if algorithm == "sha256" || (algorithm.isEmpty && digest.count == 64) {
            root.set(["image", "sha256"], scalar(digest), keyLocation: keyLocation)
        } else {
            problems.append(Diagnostic(at: value.location, keyPath: "proxmox_vm_cloud_image_checksum", message: "unsupported checksum '\(text)'", allowed: "sha256:HEX, sha512:HEX or sha256:URL-of-a-checksum-list"))
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
