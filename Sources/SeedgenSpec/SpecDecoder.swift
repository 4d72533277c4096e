import Foundation
import SeedgenCore

/// Typed reads from a `SpecNode` tree that record a positioned diagnostic for every problem and
/// carry on, so one run reports everything that is wrong with a file.
struct SpecDecoder {
    var diagnostics = DiagnosticCollector()
    var locations: [String: SourceLocation] = [:]

    mutating func error(_ message: String, _ node: SpecNode?, _ path: String, allowed: String? = nil) {
        diagnostics.error(message, at: node?.location, keyPath: path, allowed: allowed)
    }

    mutating func warning(_ message: String, _ node: SpecNode?, _ path: String, allowed: String? = nil) {
        diagnostics.warning(message, at: node?.location, keyPath: path, allowed: allowed)
    }

    /// The entries of a map node, reporting unknown keys with a "did you mean" hint.
    /// Returns nil (after an error) when the node is not a map.
    package mutating func map(_ node: SpecNode, _ path: String, allowed: [String]) -> [String: SpecNode]? {
        locations[path] = node.location
        guard let entries = node.entries else {
            error("expected a map, found \(node.typeName)", node, path)
            return nil
        }
        var result: [String: SpecNode] = [:]
        for entry in entries {
            let childPath = join(path, entry.key)
            if allowed.contains(entry.key) {
                result[entry.key] = entry.value
                locations[childPath] = entry.value.location
            } else {
                var hint = "allowed keys: \(allowed.joined(separator: ", "))"
                if let suggestion = NameSuggestion.closest(to: entry.key, in: allowed) {
                    hint = "did you mean '\(suggestion)'?"
                }
                diagnostics.error("unknown key", at: entry.keyLocation, keyPath: childPath, allowed: hint)
            }
        }
        return result
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func string(_ node: SpecNode?, _ path: String) -> String? {
        guard let node, !node.isNull else { return nil }
        guard case .scalar(let text, _) = node.kind else {
            error("expected a string, found \(node.typeName)", node, path)
            return nil
        }
        return text
    }

    mutating func requiredString(_ node: SpecNode?, _ path: String, parent: SpecNode) -> String? {
        guard let node, !node.isNull else {
            error("required key is missing", parent, path)
            return nil
        }
        return string(node, path)
    }

    mutating func int(_ node: SpecNode?, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let node, !node.isNull else { return nil }
        guard case .scalar(let text, let type) = node.kind, type == .int || type == .string, let value = Int(text)
        else {
            error(
                "expected an integer, found \(node.typeName)", node, path,
                allowed: "\(range.lowerBound)..\(range.upperBound)")
            return nil
        }
        guard range.contains(value) else {
            error("\(value) is out of range", node, path, allowed: "\(range.lowerBound)..\(range.upperBound)")
            return nil
        }
        return value
    }

    /// A Proxmox value from a string node; nil, with an error saying what is accepted, when the text
    /// is not one. `what` and `allowed` override the type's words where a key needs its own.
    mutating func value<Value: ProxmoxValue>(
        _ node: SpecNode?, _ path: String, as type: Value.Type, what: String? = nil, allowed: String? = nil
    ) -> Value? {
        guard let text = string(node, path) else { return nil }
        guard let value = Value(text) else {
            error("'\(text)' is not \(what ?? Value.what)", node, path, allowed: allowed ?? Value.allowed)
            return nil
        }
        return value
    }

    mutating func bool(_ node: SpecNode?, _ path: String) -> Bool? {
        guard let node, !node.isNull else { return nil }
        if case .scalar(let text, .bool) = node.kind {
            return ["true", "yes", "on", "y"].contains(text.lowercased())
        }
        error("expected a boolean, found \(node.typeName)", node, path, allowed: "true or false")
        return nil
    }

    /// A list of strings; a single string is accepted as a one-element list.
    mutating func stringList(_ node: SpecNode?, _ path: String) -> [String]? {
        guard let node, !node.isNull else { return nil }
        switch node.kind {
        case .scalar(let text, _):
            return [text]
        case .list(let items):
            var result: [String] = []
            for (index, item) in items.enumerated() {
                if let text = string(item, "\(path)[\(index)]") { result.append(text) }
            }
            return result
        case .map:
            error("expected a list of strings, found a map", node, path)
            return nil
        }
    }

    mutating func list(_ node: SpecNode?, _ path: String) -> [SpecNode]? {
        guard let node, !node.isNull else { return nil }
        guard case .list(let items) = node.kind else {
            error("expected a list, found \(node.typeName)", node, path)
            return nil
        }
        return items
    }

    mutating func size(_ node: SpecNode?, _ path: String, defaultUnit: ByteSize.DefaultUnit) -> ByteSize? {
        guard let node, !node.isNull else { return nil }
        let unitName = defaultUnit == .mebibytes ? "MiB" : "GiB"
        guard case .scalar(let text, _) = node.kind, let size = ByteSize.parse(text, defaultUnit: defaultUnit) else {
            error(
                "not a size", node, path,
                allowed: "e.g. 512M, 2G, 2GiB, or an integer in \(unitName)")
            return nil
        }
        return size
    }

    /// A value from a fixed set.
    mutating func choice(_ node: SpecNode?, _ path: String, from allowed: [String]) -> String? {
        guard let text = string(node, path) else { return nil }
        guard allowed.contains(text) else {
            var hint = "one of: \(allowed.joined(separator: ", "))"
            if let suggestion = NameSuggestion.closest(to: text, in: allowed) {
                hint = "did you mean '\(suggestion)'? " + hint
            }
            error("'\(text)' is not allowed", node, path, allowed: hint)
            return nil
        }
        return text
    }

    /// Reads a file named relative to the file that named it (SPEC §2: "Paths are relative to the
    /// file that names them"); `~/` is the user's home.
    mutating func readFile(_ node: SpecNode?, _ path: String) -> (path: String, data: Data)? {
        guard let name = string(node, path), let node else { return nil }
        let resolved = SpecPaths.resolve(name, relativeTo: node.location.file)
        guard let data = FileManager.default.contents(atPath: resolved) else {
            let reason = FileManager.default.fileExists(atPath: resolved) ? "cannot read file" : "file not found"
            error("\(reason): \(resolved)", node, path)
            return nil
        }
        return (resolved, data)
    }
}

enum SpecPaths {
    /// `path` made absolute against the working directory, with `.` and `..` removed.
    static func absolute(_ path: String) -> String {
        let joined =
            path.hasPrefix("/")
            ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    static func resolve(_ name: String, relativeTo file: String) -> String {
        if name.hasPrefix("~/") { return PathExpansion.expandingTilde(name) }
        if name.hasPrefix("/") { return name }
        let directory = (file as NSString).deletingLastPathComponent
        let base = directory.isEmpty ? FileManager.default.currentDirectoryPath : directory
        let joined = (base as NSString).appendingPathComponent(name)
        return (joined as NSString).standardizingPath
    }
}
