import CYaml
import Foundation

public struct YAMLWriteError: Error, Sendable, CustomStringConvertible {
    public var problem: String
    public var description: String { "cannot write YAML: \(problem)" }
}

/// Writes a YAMLNode tree as YAML that PyYAML reads back as the same value: block style, two-space
/// indents, no line folding, unicode as itself.
///
/// Each scalar is written as written when its text resolves to its tag on its own (`0755` stays
/// `0755`, an octal int; `0o600` stays `0o600`, a string); a string that would resolve to something
/// else is quoted; any other scalar (`!!binary`, `!!str 12` read as a string is just quoted, but
/// `!!int "12"` or `!!timestamp`) carries its tag. Booleans and nulls are written `true`, `false`,
/// `null`. Strings with line breaks become `|` blocks where libyaml can hold them exactly.
public enum YAMLWriter {
    public static func write(_ node: YAMLNode) throws(YAMLWriteError) -> String {
        let writer = Writer()
        defer { writer.close() }
        do {
            try writer.emitStart()
            try writer.emit(node)
            try writer.emitEnd()
        } catch {
            throw YAMLWriteError(problem: writer.problem)
        }
        return String(decoding: writer.output, as: UTF8.self)
    }
}

private final class Writer {
    var emitter = yaml_emitter_t()
    var output: [UInt8] = []
    var problem = ""

    struct Failed: Error {}

    init() {
        yaml_emitter_initialize(&emitter)
        yaml_emitter_set_output(
            &emitter,
            { context, buffer, size in
                guard let context, let buffer else { return 0 }
                let writer = Unmanaged<Writer>.fromOpaque(context).takeUnretainedValue()
                writer.output.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, Unmanaged.passUnretained(self).toOpaque())
        yaml_emitter_set_indent(&emitter, 2)
        yaml_emitter_set_width(&emitter, -1)
        yaml_emitter_set_unicode(&emitter, 1)
        yaml_emitter_set_break(&emitter, YAML_LN_BREAK)
        yaml_emitter_set_encoding(&emitter, YAML_UTF8_ENCODING)
    }

    func close() { yaml_emitter_delete(&emitter) }

    private func send(_ event: inout yaml_event_t) throws(Failed) {
        guard yaml_emitter_emit(&emitter, &event) == 1 else {
            problem = emitter.problem.map { String(cString: $0) } ?? "libyaml emitter error"
            throw Failed()
        }
    }

    func emitStart() throws(Failed) {
        var event = yaml_event_t()
        yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
        try send(&event)
        yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
        try send(&event)
    }

    func emitEnd() throws(Failed) {
        var event = yaml_event_t()
        yaml_document_end_event_initialize(&event, 1)
        try send(&event)
        yaml_stream_end_event_initialize(&event)
        try send(&event)
        yaml_emitter_flush(&emitter)
    }

    func emit(_ node: YAMLNode) throws(Failed) {
        var event = yaml_event_t()
        switch node.kind {
        case .scalar(let scalar):
            try emitScalar(scalar)
        case .sequence(let items):
            let implicit: Int32 = node.tag == .seq ? 1 : 0
            var tag = Array(node.tag.fullName.utf8) + [0]
            let ok = tag.withUnsafeMutableBufferPointer {
                yaml_sequence_start_event_initialize(&event, nil, $0.baseAddress, implicit, YAML_BLOCK_SEQUENCE_STYLE)
            }
            guard ok == 1 else { problem = "cannot start a sequence"; throw Failed() }
            try send(&event)
            for item in items { try emit(item) }
            yaml_sequence_end_event_initialize(&event)
            try send(&event)
        case .mapping(let pairs):
            let implicit: Int32 = node.tag == .map ? 1 : 0
            var tag = Array(node.tag.fullName.utf8) + [0]
            let ok = tag.withUnsafeMutableBufferPointer {
                yaml_mapping_start_event_initialize(&event, nil, $0.baseAddress, implicit, YAML_BLOCK_MAPPING_STYLE)
            }
            guard ok == 1 else { problem = "cannot start a mapping"; throw Failed() }
            try send(&event)
            for pair in pairs {
                try emit(pair.key)
                try emit(pair.value)
            }
            yaml_mapping_end_event_initialize(&event)
            try send(&event)
        }
    }

    private func emitScalar(_ scalar: YAMLScalar) throws(Failed) {
        var text: String
        var style = YAML_PLAIN_SCALAR_STYLE
        var plainImplicit: Int32 = 1
        var quotedImplicit: Int32 = 1
        switch scalar.value {
        case .string(let string):
            text = string
            plainImplicit = YAMLResolver.implicit(string) == .tag(.str) ? 1 : 0
            if string.unicodeScalars.contains("\u{FEFF}") {
                // libyaml would write a byte-order mark as itself, and PyYAML drops it on
                // reading; only the double-quoted style escapes it.
                style = YAML_DOUBLE_QUOTED_SCALAR_STYLE
            } else if string.utf8.contains(UInt8(ascii: "\n")) {
                style = YAML_LITERAL_SCALAR_STYLE
            }
        case .null:
            text = "null"
            quotedImplicit = 0
        case .bool(let bool):
            text = bool ? "true" : "false"
            quotedImplicit = 0
        default:
            text = scalar.text
            if YAMLResolver.implicit(text) == .tag(scalar.tag) {
                quotedImplicit = 0
            } else {
                // Only the tag can say what this is (`!!binary`, `!!int "12"`).
                plainImplicit = 0
                quotedImplicit = 0
                if text.utf8.contains(UInt8(ascii: "\n")) { style = YAML_LITERAL_SCALAR_STYLE }
            }
        }
        var event = yaml_event_t()
        var tag = Array(scalar.tag.fullName.utf8) + [0]
        var value = Array(text.utf8)
        let count = Int32(value.count)
        let ok = tag.withUnsafeMutableBufferPointer { tagBytes in
            value.withUnsafeMutableBufferPointer { valueBytes in
                yaml_scalar_event_initialize(
                    &event, nil, tagBytes.baseAddress,
                    valueBytes.baseAddress ?? tagBytes.baseAddress! + (tagBytes.count - 1), count,
                    plainImplicit, quotedImplicit, style)
            }
        }
        guard ok == 1 else { problem = "cannot write a scalar"; throw Failed() }
        try send(&event)
    }
}
