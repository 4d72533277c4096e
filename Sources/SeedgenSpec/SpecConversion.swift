import Foundation
import SeedgenCore
import SeedgenYAML

/// One vm.yaml written by `seedgen convert`.
public struct ConvertedDocument: Sendable, Hashable {
    /// The VM's name; `convert -o DIR` writes `DIR/<name>.yaml`.
    public var name: String
    public var document: String
}

extension SpecLoader {
    /// `seedgen convert`: the vm.yaml equivalent of an Ansible variables file (or of a vm.yaml
    /// with its `extends:` chain flattened), checked before it is printed.
    public func convertedDocument(_ file: String) throws -> (document: String, warnings: [Diagnostic]) {
        let converted = try convertedDocuments(file)
        guard converted.documents.count == 1, let only = converted.documents.first else {
            throw SeedgenError.usage(
                "\(file) holds \(converted.documents.count) VMs: write them with `seedgen convert \(file) -o DIR`")
        }
        return (only.document, converted.warnings)
    }

    /// Every VM of `file` (one per `proxmox` role task of a playbook) as a vm.yaml document,
    /// checked before anything is returned. With `outputDirectory`, relative paths are rewritten
    /// to resolve from there, where the documents will be written.
    public func convertedDocuments(_ file: String, outputDirectory: String? = nil) throws -> (
        documents: [ConvertedDocument], warnings: [Diagnostic]
    ) {
        // Validate first: a conversion that would not load is reported, not printed.
        let result = loadAll([file])
        let specs = try result.get()
        var ignored: [Diagnostic] = []
        let trees = try documents(file, warnings: &ignored).map(\.tree)
        let source = (file as NSString).lastPathComponent
        let pathsNote =
            outputDirectory == nil
            ? "# Relative paths are relative to the directory of that file.\n"
            : "# Relative paths are relative to the directory of this file.\n"
        var documents: [ConvertedDocument] = []
        for (spec, tree) in zip(specs, trees) {
            var output = tree
            if let outputDirectory {
                output = SpecPathRebasing.rebased(tree, toDirectory: SpecPaths.absolute(outputDirectory))
            }
            let header = "# vm.yaml converted by `seedgen convert` from \(source).\n" + pathsNote
            documents.append(
                ConvertedDocument(name: spec.name.text, document: header + (try YAMLWriter.write(output.yamlValue))))
        }
        return (documents, result.warnings)
    }
}

/// Rewrites the file paths of a vm.yaml tree so they resolve from another directory. Each path
/// is relative to the file that named it (its node's location), so base files of `extends:` and
/// the playbook a task came from are each honoured.
enum SpecPathRebasing {
    /// Key paths whose values are file names (`*` is any list index).
    static let pathKeys: [[String]] = [
        ["image", "path"], ["image", "keyring"], ["cloud_init", "vendor_data"],
        ["cloud_init", "templates", "user_data"], ["cloud_init", "templates", "network_config"],
        ["cloud_init", "templates", "meta_data"],
        ["cloud_init", "users", "*", "ssh_authorized_keys_file"], ["cloud_init", "users", "*", "password_file"],
        ["cloud_init", "write_files", "*", "source"], ["cloud_init", "parts", "*", "source"],
    ]

    static func rebased(_ tree: SpecNode, toDirectory directory: String) -> SpecNode {
        var result = tree
        for keys in pathKeys { result = rebase(result, keys[...], directory) }
        return result
    }

    private static func rebase(_ node: SpecNode, _ keys: ArraySlice<String>, _ directory: String) -> SpecNode {
        guard let head = keys.first else {
            guard case .scalar(let text, .string) = node.kind, !text.hasPrefix("/"), !text.hasPrefix("~/") else {
                return node
            }
            let absolute = SpecPaths.resolve(text, relativeTo: SpecPaths.absolute(node.location.file))
            return SpecNode(
                kind: .scalar(text: relativePath(absolute, from: directory), type: .string), location: node.location)
        }
        var copy = node
        switch node.kind {
        case .list(let items) where head == "*":
            copy.kind = .list(items.map { rebase($0, keys.dropFirst(), directory) })
        case .map(var entries):
            for index in entries.indices where entries[index].key == head {
                entries[index].value = rebase(entries[index].value, keys.dropFirst(), directory)
            }
            copy.kind = .map(entries)
        default: break
        }
        return copy
    }

    /// `target` relative to `directory` (both absolute and standardized).
    static func relativePath(_ target: String, from directory: String) -> String {
        let to = target.split(separator: "/")
        let from = directory.split(separator: "/")
        var common = 0
        while common < to.count, common < from.count, to[common] == from[common] { common += 1 }
        let up = Array(repeating: "..", count: from.count - common)
        let parts = up + to[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}

extension ConvertedDocument {
    /// Writes `DIR/<name>.yaml` for each document (each file atomically), creating DIR.
    public static func write(_ documents: [ConvertedDocument], to directory: URL) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SeedgenError.runtime(message: "cannot create \(directory.path)", cause: "\(error)")
        }
        var written: [URL] = []
        for document in documents {
            let target = directory.appendingPathComponent("\(document.name).yaml")
            try AtomicFile.write(Data(document.document.utf8), to: target)
            written.append(target)
        }
        return written
    }
}
