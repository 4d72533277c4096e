import Foundation
import SeedgenYAML

/// Reading rendered YAML and writing a tree back out, both through SeedgenYAML: what seedgen reads
/// from a template is what cloud-init's PyYAML reads from it, and what it writes reads back the same.
enum RenderYAML {
    /// Parses one YAML document; an empty document is null.
    static func parse(_ text: String) throws(YAMLReadError) -> YAMLNode {
        try YAMLReader.read(text) ?? .null
    }

    static func emit(_ value: YAMLNode) throws(YAMLWriteError) -> String {
        try YAMLWriter.write(value)
    }
}
