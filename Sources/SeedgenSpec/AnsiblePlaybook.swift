import Foundation
import SeedgenCore

/// An Ansible playbook or task file as the old role's users wrote them: every task that includes
/// the `proxmox` role (`include_role`/`import_role`, also as `ansible.builtin.*`, or a play's
/// `roles:`) is one VM, its variables taken from the play's, the enclosing blocks' and the task's
/// `vars:` (later ones win, as in Ansible). Every value keeps its position in the playbook.
enum AnsiblePlaybook {
    /// One task of the role: the variables it runs with, as the map a variables file would hold.
    struct RoleTask {
        var variables: SpecNode
    }

    static let roleName = "proxmox"
    static let roleKeys = [
        "include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role",
        "ansible.legacy.include_role",
        "ansible.legacy.import_role",
    ]
    static let playKeys: Set<String> = [
        "hosts", "tasks", "pre_tasks", "post_tasks", "roles", "handlers", "import_playbook",
        "ansible.builtin.import_playbook",
    ]
    static let taskListKeys = ["block", "rescue", "always"]
    static let taskFileKeys: Set<String> = [
        "include_tasks", "import_tasks", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "include",
        "ansible.builtin.include",
    ]

    /// A playbook or task file is a YAML list; a variables file and vm.yaml are maps.
    static func isPlaybook(_ tree: SpecNode) -> Bool {
        if case .list = tree.kind { return true }
        return false
    }

    /// The role's tasks in the order Ansible runs them, and a note for each task of another role.
    static func roleTasks(_ tree: SpecNode) -> (tasks: [RoleTask], diagnostics: [Diagnostic]) {
        var walk = Walk()
        guard case .list(let items) = tree.kind else { return ([], []) }
        for item in items {
            guard let entries = item.entries else { continue }
            if entries.contains(where: { playKeys.contains($0.key) }) {
                walk.play(item)
            } else {
                walk.task(item, inherited: [])
            }
        }
        return (walk.tasks, walk.diagnostics)
    }

    private struct Walk {
        var tasks: [RoleTask] = []
        var diagnostics: [Diagnostic] = []

        mutating func play(_ play: SpecNode) {
            if let imported = (play["import_playbook"] ?? play["ansible.builtin.import_playbook"])?.kind.scalarText {
                note(at: play, "not followed: import_playbook \(imported) (give that file to seedgen on its own)")
                return
            }
            if let files = play["vars_files"] {
                let names = (files.kind.listItems ?? [files]).compactMap(\.kind.scalarText).joined(separator: ", ")
                note(
                    at: files,
                    "not read: vars_files \(names) (put the proxmox_* variables in the play's or the task's vars:)")
            }
            let variables = Self.variables(of: play, keepingOnly: "proxmox_")
            for item in play["pre_tasks"]?.kind.listItems ?? [] { task(item, inherited: variables) }
            for role in play["roles"]?.kind.listItems ?? [] {
                let name: String?
                switch role.kind {
                case .scalar(let text, _): name = text
                case .map: name = (role["role"] ?? role["name"])?.kind.scalarText
                case .list: name = nil
                }
                guard let name else { continue }
                if Self.isProxmox(name) {
                    // Old-style role parameters sit beside `role:`; `vars:` is the newer form.
                    let inline = role.entries?.filter { $0.key.hasPrefix("proxmox_") } ?? []
                    add(at: role, variables + inline + Self.variables(of: role, keepingOnly: nil, warn: &diagnostics))
                } else {
                    note(at: role, "skipped: role '\(name)' is not the proxmox role")
                }
            }
            for item in play["tasks"]?.kind.listItems ?? [] { task(item, inherited: variables) }
            for item in play["post_tasks"]?.kind.listItems ?? [] { task(item, inherited: variables) }
        }

        mutating func task(_ task: SpecNode, inherited: [SpecNode.Entry]) {
            guard let entries = task.entries else { return }
            if entries.contains(where: { taskListKeys.contains($0.key) }) {
                let variables = inherited + Self.variables(of: task, keepingOnly: "proxmox_")
                for key in taskListKeys {
                    for item in task[key]?.kind.listItems ?? [] { self.task(item, inherited: variables) }
                }
                return
            }
            if let included = entries.first(where: { AnsiblePlaybook.taskFileKeys.contains($0.key) }) {
                let file = included.value.kind.scalarText ?? included.value["file"]?.kind.scalarText ?? "?"
                note(at: task, "not followed: \(included.key) \(file) (give that file to seedgen on its own)")
                return
            }
            guard let include = entries.first(where: { AnsiblePlaybook.roleKeys.contains($0.key) }) else { return }
            let label = task["name"]?.kind.scalarText.map { "task '\($0)'" } ?? "a task"
            guard let role = Self.roleName(of: include.value) else {
                note(at: task, "skipped: \(label) names no role in \(include.key)")
                return
            }
            guard Self.isProxmox(role) else {
                note(at: task, "skipped: \(label) includes role '\(role)', not proxmox")
                return
            }
            add(at: task, inherited + Self.variables(of: task, keepingOnly: nil, warn: &diagnostics))
        }

        mutating func add(at node: SpecNode, _ variables: [SpecNode.Entry]) {
            // Later definitions win, at the place of the first (Ansible's precedence; the map keeps
            // the order the user reads them in).
            var merged: [SpecNode.Entry] = []
            for entry in variables {
                if let index = merged.firstIndex(where: { $0.key == entry.key }) {
                    merged[index] = entry
                } else {
                    merged.append(entry)
                }
            }
            tasks.append(RoleTask(variables: SpecNode(kind: .map(merged), location: node.location)))
        }

        mutating func note(at node: SpecNode, _ message: String) {
            diagnostics.append(Diagnostic(.note, at: node.location, keyPath: "", message: message))
        }

        static func isProxmox(_ role: String) -> Bool { role == AnsiblePlaybook.roleName }

        /// `include_role: {name: proxmox}` or the free form `include_role: name=proxmox`.
        static func roleName(of value: SpecNode) -> String? {
            switch value.kind {
            case .map: return value["name"]?.kind.scalarText
            case .scalar(let text, _):
                for word in text.split(separator: " ") where word.hasPrefix("name=") {
                    return String(word.dropFirst(5))
                }
                return nil
            case .list: return nil
            }
        }

        static func variables(of node: SpecNode, keepingOnly prefix: String?) -> [SpecNode.Entry] {
            var ignored: [Diagnostic] = []
            return variables(of: node, keepingOnly: prefix, warn: &ignored)
        }

        /// The `vars:` of a play, block or task. A play's and a block's variables also serve other
        /// tasks, so only the role's (`proxmox_*`) are taken; the role task's own are all its.
        static func variables(of node: SpecNode, keepingOnly prefix: String?, warn: inout [Diagnostic]) -> [SpecNode
            .Entry]
        {
            guard let entries = node["vars"]?.entries else { return [] }
            if let prefix { return entries.filter { $0.key.hasPrefix(prefix) } }
            for entry in entries where !entry.key.hasPrefix("proxmox_") {
                warn.append(
                    Diagnostic(
                        .warning, at: entry.keyLocation, keyPath: entry.key,
                        message: "ignored: not a variable of the proxmox role"))
            }
            return entries.filter { $0.key.hasPrefix("proxmox_") }
        }
    }
}

extension SpecNode.Kind {
    var listItems: [SpecNode]? {
        if case .list(let items) = self { return items }
        return nil
    }
}
