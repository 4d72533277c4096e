import Foundation

// Build-time helper of the RenderTemplateEmbedder plugin:
//   RenderTemplateEmbedderTool OUTPUT.swift TEMPLATE.mustache…
// writes an enum mapping each template's name (file name without `.mustache`) to its text.

/// A Swift string literal holding `text` exactly: every character that a plain literal would
/// interpret is escaped, the rest is kept so the generated file stays readable in diffs.
func swiftStringLiteral(_ text: String) -> String {
    var literal = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": literal += "\\\\"
        case "\"": literal += "\\\""
        case "\n": literal += "\\n"
        case "\r": literal += "\\r"
        case "\t": literal += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            literal += "\\u{\(String(scalar.value, radix: 16))}"
        default: literal.unicodeScalars.append(scalar)
        }
    }
    return literal + "\""
}

let arguments = CommandLine.arguments.dropFirst()
guard let outputPath = arguments.first else {
    FileHandle.standardError.write(Data("usage: RenderTemplateEmbedderTool OUTPUT.swift TEMPLATE.mustache…\n".utf8))
    exit(2)
}
var entries: [String] = []
for path in arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        FileHandle.standardError.write(Data("error: cannot read template \(path) as UTF-8\n".utf8))
        exit(1)
    }
    let name = url.deletingPathExtension().lastPathComponent
    entries.append("        \(swiftStringLiteral(name)): \(swiftStringLiteral(text)),")
}
let source = """
    // Generated at build time by RenderTemplateEmbedderTool from templates/*.mustache. Do not edit.

    enum RenderBuiltinTemplates {
        /// Built-in template texts by name (`user-data`, `meta-data`, `network-config-v2`, …).
        static let byName: [String: String] = [
    \(entries.isEmpty ? "        :" : entries.joined(separator: "\n"))
        ]
    }

    """
do {
    try Data(source.utf8).write(to: URL(fileURLWithPath: outputPath), options: .atomic)
} catch {
    FileHandle.standardError.write(Data("error: cannot write \(outputPath): \(error)\n".utf8))
    exit(1)
}
