import Foundation

/// Runs Tests/Fixtures/pyyaml_oracle.py (PyYAML safe_load, cloud-init's reader) on a batch in
/// one process, so thousands of cases take a second.
public enum PyYAMLOracle {
    public static let python = "/usr/bin/python3"
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: python)
            && (try? ProcessRunner.run(python, ["-c", "import yaml"]).exitCode) == 0
    }

    public static func run<Input: Encodable, Output: Decodable>(_ mode: String, _ cases: Input, as: Output.Type) throws
        -> Output
    {
        let directory = try TemporaryDirectory(prefix: "pyyaml-oracle")
        let input = directory.path("cases.json")
        let output = directory.path("out.json")
        try JSONEncoder().encode(cases).write(to: input)
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/pyyaml_oracle.py").path
        let result = try ProcessRunner.run(python, [script, mode, input.path, output.path])
        guard result.exitCode == 0 else {
            throw OracleFailure(description: "pyyaml_oracle.py failed: \(result.stderr)")
        }
        return try JSONDecoder().decode(Output.self, from: Data(contentsOf: output))
    }

    /// PyYAML's value of each text, normalised (`["int", "493"]`), or nil where PyYAML refuses it.
    public static func values(of texts: [String]) throws -> [JSONValue?] {
        try run("values", texts, as: [JSONValue].self).map { value in
            if case .object(let object) = value, object["error"] != nil { return nil }
            return value
        }
    }

    /// For each text, whether PyYAML's safe_load reads it.
    public static func loads(_ texts: [String]) throws -> [Bool] {
        try run("loads", texts, as: [Bool].self)
    }

    /// For each (original, merged) pair: nil when every top-level key of the original reads the
    /// same in the merged document, else PyYAML's account of the difference.
    public static func compare(_ pairs: [(original: String, merged: String)]) throws -> [String?] {
        try run("compare", pairs.map { [$0.original, $0.merged] }, as: [String?].self)
    }

    /// For each text: nil when cloud-init's own schema check (strict, as `cloud-init schema`) accepts
    /// the document PyYAML reads from it, else the schema's complaint.
    public static func schemaProblems(_ texts: [String]) throws -> [String?] {
        try run("schema", texts, as: [String?].self)
    }

    public struct OracleFailure: Error, CustomStringConvertible { public var description: String }
}

/// Just enough JSON to hold the oracle's normalised values.
public indirect enum JSONValue: Codable, Equatable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case number(Double)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let v): try container.encode(v)
        case .bool(let v): try container.encode(v)
        case .number(let v): try container.encode(v)
        case .array(let v): try container.encode(v)
        case .object(let v): try container.encode(v)
        case .null: try container.encodeNil()
        }
    }

    public var description: String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }
}
