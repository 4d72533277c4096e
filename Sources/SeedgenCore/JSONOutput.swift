import Foundation

/// The one place seedgen encodes JSON, in the three forms it needs:
/// - `data`/`string`: every JSON file and every `--json` output: pretty, sorted keys, no escaped
///   slashes, a final newline;
/// - `canonicalData`: compact with sorted keys, for bytes that are hashed (a plan's identity) and
///   request bodies — its bytes must never change, or every hash derived from it would;
/// - `stringLiteral`: one JSON string, slashes unescaped, as JSON-in-YAML scalars need it.
public enum JSONOutput {
    public static func data(_ value: some Encodable) throws -> Data {
        var data = try encoder([.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]).encode(value)
        data.append(0x0A)
        return data
    }

    public static func string(_ value: some Encodable) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }

    public static func canonicalData(_ value: some Encodable) throws -> Data {
        try encoder([.sortedKeys]).encode(value)
    }

    public static func stringLiteral(_ text: String) -> String {
        // Encoding a String cannot fail.
        (try? encoder([.withoutEscapingSlashes]).encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    private static func encoder(_ formatting: JSONEncoder.OutputFormatting) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        return encoder
    }
}
