import CYaml
import Foundation

/// One problem found while reading YAML, positioned in the text read.
public struct YAMLProblem: Error, Sendable, Equatable {
    public var mark: YAMLMark
    public var message: String
    /// The mapping key involved, when there is one (a duplicate key).
    public var key: String?
    public var hint: String?

    public init(mark: YAMLMark, message: String, key: String? = nil, hint: String? = nil) {
        self.mark = mark
        self.message = message
        self.key = key
        self.hint = hint
    }
}

/// Every problem that kept a text from being read; syntax errors stop reading, so they come alone.
public struct YAMLReadError: Error, Sendable, CustomStringConvertible {
    public var problems: [YAMLProblem]
    public var description: String { problems.map { "\($0.mark): \($0.message)" }.joined(separator: "\n") }
}

/// Reads YAML text the way cloud-init's PyYAML `safe_load` does: libyaml's parser for the events,
/// then PyYAML's composer and safe constructor rules (YAMLResolver, YAMLConstructor), aliases
/// expanded and merge keys applied. Unlike `safe_load`, a key set twice in one mapping is an error
/// (PyYAML silently keeps the last value).
public enum YAMLReader {
    /// The one document of `text`; nil for a text with no document (empty, or only comments).
    public static func read(_ text: String) throws(YAMLReadError) -> YAMLNode? {
        var text = text
        let result: Result<YAMLNode?, YAMLReadError> = text.withUTF8 { bytes in
            let composer = Composer(bytes: bytes)
            defer { composer.close() }
            return composer.readSingleDocument()
        }
        return try result.get()
    }
}

/// Nodes an alias may expand to in one document, in all: enough for any real cloud-config, and a
/// stop for the "billion laughs" document whose few lines expand to gigabytes.
private let aliasExpansionLimit = 1_000_000
private let nestingLimit = 512

private final class Composer {
    private var parser = yaml_parser_t()
    private let bytes: UnsafeBufferPointer<UInt8>
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var expanded = 0
    private var problems: [YAMLProblem] = []
    private var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        yaml_parser_initialize(&parser)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
    }

    func close() { yaml_parser_delete(&parser) }

    struct SyntaxError: Error {}

    /// The next event; the caller deletes it.
    private func next() throws(SyntaxError) -> yaml_event_t {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else {
            problems = [syntaxProblem()]
            throw SyntaxError()
        }
        return event
    }

    func readSingleDocument() -> Result<YAMLNode?, YAMLReadError> {
        do {
            var event = try next()  // stream start
            yaml_event_delete(&event)
            event = try next()
            if event.type == YAML_STREAM_END_EVENT {
                yaml_event_delete(&event)
                return .success(nil)
            }
            yaml_event_delete(&event)  // document start
            event = try next()
            let (root, _) = try compose(&event)
            event = try next()  // document end
            yaml_event_delete(&event)
            event = try next()
            defer { yaml_event_delete(&event) }
            if event.type != YAML_STREAM_END_EVENT {
                return .failure(
                    YAMLReadError(problems: [
                        YAMLProblem(
                            mark: mark(event.start_mark),
                            message: "a second YAML document starts here; cloud-init reads exactly one",
                            hint: "remove the `---` line, or keep one document per file")
                    ]))
            }
            return problems.isEmpty ? .success(root) : .failure(YAMLReadError(problems: problems))
        } catch {
            return .failure(YAMLReadError(problems: problems))
        }
    }

    private func mark(_ mark: yaml_mark_t) -> YAMLMark { YAMLMark(line: mark.line + 1, column: mark.column + 1) }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    /// Composes the node that starts with `event` (deleting it); returns the node and its size in nodes.
    private func compose(_ event: inout yaml_event_t, position: Position = .value) throws(SyntaxError) -> (
        YAMLNode, Int
    ) {
        defer { yaml_event_delete(&event) }
        let here = mark(event.start_mark)
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                problems.append(YAMLProblem(mark: here, message: "alias *\(name) names no anchor defined before it"))
                return (.null, 1)
            }
            expanded += anchored.size
            if expanded > aliasExpansionLimit {
                problems = [
                    YAMLProblem(mark: here, message: "aliases expand to more than \(aliasExpansionLimit) nodes")
                ]
                throw SyntaxError()
            }
            return anchored
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let node = composeScalar(
                text: text, tag: Self.string(scalar.tag), plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, mark: here,
                position: position)
            register(Self.string(scalar.anchor), node, size: 1)
            return (node, 1)
        case YAML_SEQUENCE_START_EVENT:
            let tag = collectionTag(Self.string(event.data.sequence_start.tag), sequence: true, mark: here)
            let anchor = Self.string(event.data.sequence_start.anchor)
            depth += 1
            defer { depth -= 1 }
            if depth > nestingLimit {
                problems = [YAMLProblem(mark: here, message: "collections nested more than \(nestingLimit) deep")]
                throw SyntaxError()
            }
            var items: [YAMLNode] = []
            var size = 1
            while true {
                var item = try next()
                if item.type == YAML_SEQUENCE_END_EVENT {
                    yaml_event_delete(&item)
                    break
                }
                let (node, nodeSize) = try compose(&item)
                items.append(node)
                size += nodeSize
            }
            let node = YAMLNode(.sequence(items), tag: tag, mark: here)
            register(anchor, node, size: size)
            return (node, size)
        case YAML_MAPPING_START_EVENT:
            let tag = collectionTag(Self.string(event.data.mapping_start.tag), sequence: false, mark: here)
            let anchor = Self.string(event.data.mapping_start.anchor)
            depth += 1
            defer { depth -= 1 }
            if depth > nestingLimit {
                problems = [YAMLProblem(mark: here, message: "collections nested more than \(nestingLimit) deep")]
                throw SyntaxError()
            }
            var pairs: [(key: YAMLNode, value: YAMLNode, isMerge: Bool)] = []
            var size = 1
            while true {
                var keyEvent = try next()
                if keyEvent.type == YAML_MAPPING_END_EVENT {
                    yaml_event_delete(&keyEvent)
                    break
                }
                let isMerge = keyEvent.type == YAML_SCALAR_EVENT && isMergeKey(keyEvent)
                let (key, keySize) = try compose(&keyEvent, position: .key)
                var valueEvent = try next()
                let (value, valueSize) = try compose(&valueEvent)
                pairs.append((key, value, isMerge))
                size += keySize + valueSize
            }
            let node = YAMLNode(.mapping(flatten(pairs)), tag: tag, mark: here)
            register(anchor, node, size: size)
            return (node, size)
        default:
            problems = [YAMLProblem(mark: here, message: "unexpected YAML event")]
            throw SyntaxError()
        }
    }

    private func register(_ anchor: String?, _ node: YAMLNode, size: Int) {
        if let anchor { anchors[anchor] = (node, size) }
    }

    private func isMergeKey(_ event: yaml_event_t) -> Bool {
        let scalar = event.data.scalar
        let tag = Self.string(scalar.tag)
        if tag == YAMLTag.prefix + "merge" { return true }
        guard tag == nil || tag == "!", scalar.style == YAML_PLAIN_SCALAR_STYLE || tag == "!" else { return false }
        return scalar.length == 2 && scalar.value[0] == UInt8(ascii: "<") && scalar.value[1] == UInt8(ascii: "<")
    }

    enum Position { case key, value }

    private func composeScalar(text: String, tag: String?, plain: Bool, mark: YAMLMark, position: Position) -> YAMLNode
    {
        let resolved: YAMLTag
        if (tag == nil && plain) || tag == "!" {
            // PyYAML resolves the non-specific `!` tag like a plain scalar, quoted or not.
            switch YAMLResolver.implicit(text) {
            case .tag(let tag): resolved = tag
            case .merge where position == .key:
                resolved = .str  // its mapping takes it apart (flatten)
            case .merge:
                problems.append(
                    YAMLProblem(
                        mark: mark,
                        message:
                            "a plain `<<` is YAML's merge key, which cloud-init's YAML reader cannot load as a value",
                        hint: "quote it: '<<'"))
                return .null
            case .value where position == .key:
                resolved = .str  // PyYAML turns a `=` key into the string "="
            case .value:
                problems.append(
                    YAMLProblem(
                        mark: mark,
                        message: "a plain `=` is YAML 1.1's value key, which cloud-init's YAML reader cannot load",
                        hint: "quote it: '='"))
                return .null
            }
        } else if let name = tag {
            guard let known = YAMLTag(fullName: name), known.isScalar else {
                problems.append(unknownTag(name, mark: mark, on: "a scalar"))
                return .string(text)
            }
            resolved = known
        } else {
            resolved = .str
        }
        guard let scalar = YAMLScalar(text: text, tag: resolved) else {
            problems.append(
                YAMLProblem(
                    mark: mark,
                    message:
                        "`\(text)` is not a valid !!\(resolved.rawValue); cloud-init's YAML reader would refuse the "
                        + "file"
                ))
            return .string(text)
        }
        return YAMLNode(.scalar(scalar), mark: mark)
    }

    private func collectionTag(_ name: String?, sequence: Bool, mark: YAMLMark) -> YAMLTag {
        guard let name, name != "!" else { return sequence ? .seq : .map }
        let allowed: [YAMLTag] = sequence ? [.seq, .omap, .pairs] : [.map, .set]
        guard let tag = YAMLTag(fullName: name), allowed.contains(tag) else {
            problems.append(unknownTag(name, mark: mark, on: sequence ? "a sequence" : "a mapping"))
            return sequence ? .seq : .map
        }
        return tag
    }

    private func unknownTag(_ name: String, mark: YAMLMark, on what: String) -> YAMLProblem {
        let shown = name.hasPrefix(YAMLTag.prefix) ? "!!" + name.dropFirst(YAMLTag.prefix.count) : name
        return YAMLProblem(
            mark: mark, message: "tag \(shown) on \(what) is one cloud-init's YAML reader (PyYAML safe_load) refuses",
            hint:
                "!!str, !!int, !!float, !!bool, !!null, !!binary, !!timestamp on scalars; !!seq, !!map, !!set, !!omap, "
                + "!!pairs on collections"
        )
    }

    /// PyYAML's `flatten_mapping` and `construct_mapping`: merged keys first, in PyYAML's order,
    /// then the mapping's own keys, which override them; a key the mapping itself sets twice is an error.
    private func flatten(_ pairs: [(key: YAMLNode, value: YAMLNode, isMerge: Bool)]) -> [YAMLPair] {
        var merged: [YAMLPair] = []
        var own: [YAMLPair] = []
        for pair in pairs {
            guard pair.isMerge else {
                own.append(YAMLPair(key: pair.key, value: pair.value))
                continue
            }
            switch pair.value.kind {
            case .mapping(let entries):
                merged += entries
            case .sequence(let sources):
                // Earlier sources win: PyYAML appends them in reverse, and later entries override.
                for source in sources.reversed() {
                    guard case .mapping(let entries) = source.kind else {
                        problems.append(
                            YAMLProblem(mark: source.mark, message: "a merge key (<<) list may hold only mappings"))
                        continue
                    }
                    merged += entries
                }
            case .scalar:
                problems.append(
                    YAMLProblem(
                        mark: pair.value.mark, message: "a merge key (<<) takes a mapping or a list of mappings",
                        hint: "<<: *anchor or <<: [*a, *b]"))
            }
        }
        var result: [YAMLPair] = []
        result.reserveCapacity(merged.count + own.count)
        var index: [YAMLKeyIdentity: (position: Int, isOwn: Bool)] = [:]
        for (isOwn, entries) in [(false, merged), (true, own)] {
            for pair in entries {
                let identity = pair.key.keyIdentity
                if identity == .unhashable {
                    problems.append(
                        YAMLProblem(
                            mark: pair.key.mark,
                            message:
                                "a mapping key must be a scalar; cloud-init's YAML reader cannot use a list or mapping "
                                + "as a key"
                        ))
                    continue
                }
                if let existing = index[identity] {
                    if isOwn && existing.isOwn {
                        let first = result[existing.position].key.mark
                        problems.append(
                            YAMLProblem(
                                mark: pair.key.mark,
                                message: "duplicate key '\(pair.key.keyText)' (first set at line \(first.line))",
                                key: pair.key.keyText))
                        continue
                    }
                    result[existing.position].value = pair.value
                    index[identity] = (existing.position, isOwn)
                } else {
                    index[identity] = (result.count, isOwn)
                    result.append(pair)
                }
            }
        }
        return result
    }

    // MARK: Syntax errors

    /// libyaml's error, positioned where the construct in trouble starts (its context mark), with
    /// where the problem was noticed as a note: an unclosed quote is reported at the quote.
    private func syntaxProblem() -> YAMLProblem {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        if parser.error == YAML_READER_ERROR {
            let offset = min(parser.problem_offset, bytes.count)
            let prefix = UnsafeBufferPointer(rebasing: bytes[..<offset])
            let line = prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            let lineStart = prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let column =
                String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<offset]), as: UTF8.self).count + 1
            return YAMLProblem(mark: YAMLMark(line: line, column: column), message: "cannot read the text: \(problem)")
        }
        let noticed = mark(parser.problem_mark)
        guard let contextText = parser.context.map({ String(cString: $0) }) else {
            return YAMLProblem(mark: noticed, message: "YAML syntax error: \(problem)")
        }
        let start = mark(parser.context_mark)
        let atEnd = parser.problem_mark.index >= bytes.count
        let subject = Self.subjects[contextText] ?? "the node here"
        let message: String
        switch problem {
        case "found unexpected end of stream":
            message = "\(subject) is never closed (reached the end of the file at \(noticed))"
        case "did not find expected ',' or ']'", "did not find expected ',' or '}'":
            let closer = problem.hasSuffix("']'") ? "]" : "}"
            message =
                atEnd
                ? "\(subject) is never closed (reached the end of the file at \(noticed) without a `\(closer)`)"
                : "\(subject) is never closed (expected ',' or '\(closer)' at \(noticed))"
        case "did not find expected key", "did not find expected '-' indicator":
            // Bad indentation: the line in trouble is where it was noticed; the collection it
            // breaks (libyaml's context mark) goes in the note.
            let isList = problem.hasSuffix("indicator")
            let what = isList ? "list" : "mapping"
            let entries = isList ? "items (`- `)" : "keys"
            if noticed.column != start.column {
                return YAMLProblem(
                    mark: noticed,
                    message:
                        "this line is indented to column \(noticed.column), but the \(what) it continues (from "
                        + "\(start)) has its \(entries) at column \(start.column)",
                    hint: "indent it like the \(entries) above it, or nest it deeper under a key ending in `:`")
            }
            return YAMLProblem(
                mark: noticed,
                message: "expected one of the \(entries) of the \(what) from \(start) here",
                hint: isList ? "`- item`" : "`key: value`")
        case "could not find expected ':'":
            message = "\(subject) has no `:` after it (noticed at \(noticed))"
        default:
            message = "\(subject): \(problem) (at \(noticed))"
        }
        return YAMLProblem(mark: start, message: message)
    }

    private static let subjects: [String: String] = [
        "while scanning a quoted scalar": "this quoted scalar",
        "while parsing a flow sequence": "this flow sequence `[`",
        "while parsing a flow mapping": "this flow mapping `{`",
        "while parsing a block mapping": "this mapping",
        "while parsing a block collection": "this list",
        "while scanning a simple key": "this key",
        "while scanning a block scalar": "this block scalar",
        "while scanning an anchor": "this anchor",
        "while scanning an alias": "this alias",
        "while scanning a tag": "this tag",
        "while parsing a tag": "this tag",
        "while scanning a directive": "this directive",
        "while scanning a %YAML directive": "this %YAML directive",
        "while scanning a %TAG directive": "this %TAG directive",
        "while parsing a node": "the node here",
        "while parsing a flow node": "the node here",
        "while parsing a block node": "the node here",
        "while parsing a flow mapping entry": "this flow mapping entry",
    ]
}
