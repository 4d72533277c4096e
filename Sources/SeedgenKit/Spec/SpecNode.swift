import Foundation
import Yams

/// A YAML node with the file, line and column it came from. vm.yaml trees from several files
/// (`extends:`) are merged as `SpecNode`s, so every value keeps pointing at the file that set it.
struct SpecNode: Sendable {
    enum ScalarType: Sendable {
        case string
        case int
        case float
        case bool
        case null
    }

    enum Kind: Sendable {
        /// `text` is the scalar exactly as written (so `0644` stays `0644`); `type` is what YAML 1.1
        /// would resolve a plain scalar to (quoted scalars are always strings).
        case scalar(text: String, type: ScalarType)
        case map([Entry])
        case list([SpecNode])
    }

    struct Entry: Sendable {
        var key: String
        var keyLocation: SourceLocation
        var value: SpecNode
    }

    var kind: Kind
    var location: SourceLocation

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
            if let index = base.firstIndex(where: { $0.key == entry.key }) {
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

    /// The plain value tree (for `extra:` and conversion output).
    var configValue: ConfigValue {
        switch kind {
        case .scalar(let text, let type):
            switch type {
            case .string: return .string(text)
            case .null: return .null
            case .bool: return .bool(["true", "yes", "on", "y"].contains(text.lowercased()))
            case .int: return Int(text).map(ConfigValue.int) ?? .string(text)
            case .float: return Double(text).map(ConfigValue.double) ?? .string(text)
            }
        case .map(let entries): return .map(entries.map { ($0.key, $0.value.configValue) })
        case .list(let items): return .list(items.map(\.configValue))
        }
    }
}

/// Reads YAML text into a `SpecNode` tree, turning libyaml's errors into positioned diagnostics.
enum SpecYAML {
    static func parse(_ text: String, file: String) throws(SeedgenError) -> SpecNode {
        let root: Node?
        do {
            // `.basic`: scalars are typed by YAMLScalarTag, without the default resolver's regexes.
            // `.utf8` given, not defaulted: Yams reads the whole environment to pick the default.
            root = try Yams.compose(yaml: text, .basic, .default, .utf8)
        } catch let error as YamlError {
            throw .invalidInput([diagnostic(for: error, file: file)])
        } catch {
            throw .invalidInput([Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: "cannot parse YAML: \(error)")])
        }
        guard let root else {
            return SpecNode(kind: .map([]), location: SourceLocation(file: file, line: 1, column: 1))
        }
        var problems: [Diagnostic] = []
        let node = convert(root, file: file, problems: &problems)
        if !problems.isEmpty { throw .invalidInput(problems) }
        return node
    }

    private static func location(_ mark: Mark?, file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    private static func convert(_ node: Node, file: String, problems: inout [Diagnostic]) -> SpecNode {
        let here = location(node.mark, file: file)
        switch node {
        case .scalar(let scalar):
            let type: SpecNode.ScalarType
            if scalar.style != .plain {
                type = .string
            } else {
                switch YAMLScalarTag.tag(of: scalar) {
                case .int: type = .int
                case .float: type = .float
                case .bool: type = .bool
                case .null: type = .null
                default: type = .string
                }
            }
            return SpecNode(kind: .scalar(text: scalar.string, type: type), location: here)
        case .mapping(let mapping):
            var entries: [SpecNode.Entry] = []
            for (key, value) in mapping {
                let keyLocation = location(key.mark, file: file)
                guard case .scalar(let keyScalar) = key else {
                    problems.append(Diagnostic(at: keyLocation, keyPath: "", message: "map keys must be plain strings"))
                    continue
                }
                if entries.contains(where: { $0.key == keyScalar.string }) {
                    problems.append(Diagnostic(at: keyLocation, keyPath: keyScalar.string, message: "duplicate key"))
                    continue
                }
                entries.append(.init(key: keyScalar.string, keyLocation: keyLocation, value: convert(value, file: file, problems: &problems)))
            }
            return SpecNode(kind: .map(entries), location: here)
        case .sequence(let sequence):
            return SpecNode(kind: .list(sequence.map { convert($0, file: file, problems: &problems) }), location: here)
        case .alias:
            problems.append(Diagnostic(at: here, keyPath: "", message: "YAML aliases are not supported", allowed: "use extends: to share settings"))
            return SpecNode(kind: .scalar(text: "", type: .null), location: here)
        }
    }

    /// The next line after `first` that sets `key` at the same indentation.
    private static func repeatedKeyLocation(_ key: String, after first: SourceLocation, in text: String) -> SourceLocation? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = String(repeating: " ", count: first.column - 1)
        for index in first.line..<lines.count {
            let line = lines[index]
            if line.hasPrefix(indent + key + ":") || line.hasPrefix(indent + "\"\(key)\":") {
                return SourceLocation(file: first.file, line: index + 1, column: first.column)
            }
        }
        return nil
    }

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " \(context.text)" }
            return Diagnostic(at: location(mark, file: file), keyPath: "", message: message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            // libyaml's mark is the first occurrence; the user needs the repeated one.
            let first = location(context.mark, file: file)
            let key = duplicates.first ?? ""
            let repeated = repeatedKeyLocation(key, after: first, in: context.text) ?? first
            return Diagnostic(
                at: repeated, keyPath: key,
                message: "duplicate key '\(key)' (first set at line \(first.line))")
        case .reader(let problem, _, _, _):
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: "cannot read YAML: \(problem)")
        default:
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: "cannot parse YAML: \(error)")
        }
    }
}
