import Foundation
import SeedgenCore
import SeedgenYAML

/// A vm.yaml node with the file, line and column it came from: SeedgenYAML's tree with file names,
/// in the shape the vm.yaml decoders read. vm.yaml trees from several files (`extends:`) are merged
/// as `SpecNode`s, so every value keeps pointing at the file that set it.
struct SpecNode: Sendable {
    enum ScalarType: Sendable {
        case string
        case int
        case float
        case bool
        case null
    }

    enum Kind: Sendable {
        /// `text` is the scalar exactly as written (so `0644` stays `0644`); `type` is what
        /// cloud-init's YAML reader makes of it (YAMLResolver; quoted scalars are strings).
        case scalar(text: String, type: ScalarType)
        case map([Entry])
        case list([SpecNode])
    }

    struct Entry: Sendable {
        var key: String
        var keyLocation: SourceLocation
        var value: SpecNode
        /// The key as read, when it is not a plain string (`1:`, `true:`), for passing through.
        var keyNode: YAMLNode? = nil
    }

    var kind: Kind
    var location: SourceLocation
    /// The scalar as read, tag and value included, for what passes through to cloud-init (`extra`).
    var source: YAMLScalar? = nil
    /// A collection's tag when the file gave one cloud-init keeps (`!!set`, `!!omap`, `!!pairs`).
    var collectionTag: YAMLTag? = nil

    var entries: [Entry]? {
        if case .map(let entries) = kind { return entries }
        return nil
    }

    subscript(key: String) -> SpecNode? {
        entries?.first { $0.key == key }?.value
    }

    var typeName: String {
        switch kind {
        case .scalar(_, let type):
            switch type {
            case .string: return "a string"
            case .int: return "an integer"
            case .float: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            }
        case .map: return "a map"
        case .list: return "a list"
        }
    }

    var isNull: Bool {
        if case .scalar(_, .null) = kind { return true }
        return false
    }

    /// Deep merge for `extends:`: maps merge key by key (`overlay` wins, new keys appended),
    /// lists and scalars are replaced by the overlay.
    func merged(with overlay: SpecNode) -> SpecNode {
        guard case .map(var base) = kind, case .map(let top) = overlay.kind else { return overlay }
        for entry in top {
            if let index = base.firstIndex(where: { $0.key == entry.key && $0.keyNode?.scalar == entry.keyNode?.scalar }
            ) {
                base[index].value = base[index].value.merged(with: entry.value)
                base[index].keyLocation = entry.keyLocation
            } else {
                base.append(entry)
            }
        }
        return SpecNode(kind: .map(base), location: overlay.location)
    }

    func removing(key: String) -> SpecNode {
        guard case .map(let entries) = kind else { return self }
        return SpecNode(kind: .map(entries.filter { $0.key != key }), location: location)
    }

    /// The value tree cloud-init gets from this node (for `extra:` and conversion output): scalars
    /// as read, tags included.
    var yamlValue: YAMLNode {
        let mark = YAMLMark(line: location.line, column: location.column)
        switch kind {
        case .scalar(let text, let type):
            if let source, source.text == text { return YAMLNode(.scalar(source), mark: mark) }
            switch type {
            case .string: return YAMLNode(.scalar(.string(text)), mark: mark)
            case .null: return YAMLNode(YAMLNode.null.kind, mark: mark)
            case .bool:
                return YAMLNode(
                    (YAMLScalar(text: text, tag: .bool).map { .scalar($0) } ?? .scalar(.string(text))), mark: mark)
            case .int:
                return YAMLNode(
                    (YAMLScalar(text: text, tag: .int).map { .scalar($0) } ?? .scalar(.string(text))), mark: mark)
            case .float:
                return YAMLNode(
                    (YAMLScalar(text: text, tag: .float).map { .scalar($0) } ?? .scalar(.string(text))), mark: mark)
            }
        case .map(let entries):
            return YAMLNode(
                .mapping(
                    entries.map { entry in
                        let keyMark = YAMLMark(line: entry.keyLocation.line, column: entry.keyLocation.column)
                        return YAMLPair(
                            key: entry.keyNode ?? YAMLNode(.scalar(.string(entry.key)), mark: keyMark),
                            value: entry.value.yamlValue)
                    }), tag: collectionTag,
                mark: mark)
        case .list(let items):
            return YAMLNode(.sequence(items.map(\.yamlValue)), tag: collectionTag, mark: mark)
        }
    }
}

/// Reads a vm.yaml (or Ansible variables) file into a `SpecNode` tree through SeedgenYAML, turning
/// its problems into positioned diagnostics.
enum SpecYAML {
    static func parse(_ text: String, file: String) throws(SeedgenError) -> SpecNode {
        let root: YAMLNode?
        do {
            root = try YAMLReader.read(text)
        } catch {
            throw .invalidInput(diagnostics(for: error, file: file))
        }
        guard let root else {
            return SpecNode(kind: .map([]), location: SourceLocation(file: file, line: 1, column: 1))
        }
        return convert(root, file: file)
    }

    static func diagnostics(for error: YAMLReadError, file: String) -> [Diagnostic] {
        error.problems.map { problem in
            Diagnostic(
                at: SourceLocation(file: file, line: problem.mark.line, column: problem.mark.column),
                keyPath: problem.key ?? "",
                message: problem.message, allowed: problem.hint)
        }
    }

    private static func convert(_ node: YAMLNode, file: String) -> SpecNode {
        let here = SourceLocation(file: file, line: node.mark.line, column: node.mark.column)
        switch node.kind {
        case .scalar(let scalar):
            let type: SpecNode.ScalarType
            switch scalar.value {
            case .null: type = .null
            case .bool: type = .bool
            case .int, .bigInt: type = .int
            case .float: type = .float
            case .string, .binary, .timestamp: type = .string
            }
            return SpecNode(kind: .scalar(text: scalar.text, type: type), location: here, source: scalar)
        case .mapping(let pairs):
            return SpecNode(
                kind: .map(
                    pairs.map { pair in
                        let keyLocation = SourceLocation(
                            file: file, line: pair.key.mark.line, column: pair.key.mark.column)
                        return SpecNode.Entry(
                            key: pair.key.string ?? pair.key.keyText, keyLocation: keyLocation,
                            value: convert(pair.value, file: file),
                            keyNode: pair.key.string == nil ? pair.key : nil)
                    }), location: here, collectionTag: node.tag == .map ? nil : node.tag)
        case .sequence(let items):
            return SpecNode(
                kind: .list(items.map { convert($0, file: file) }), location: here,
                collectionTag: node.tag == .seq ? nil : node.tag)
        }
    }
}
