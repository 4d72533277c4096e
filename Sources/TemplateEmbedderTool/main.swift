import Foundation

// Build-time helper of the TemplateEmbedder plugin:
//   TemplateEmbedderTool OUTPUT.swift ENUM_NAME SUFFIX TEMPLATE…
// writes an enum ENUM_NAME mapping each template's name (file name without SUFFIX) to its text.

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

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: TemplateEmbedderTool OUTPUT.swift ENUM_NAME SUFFIX TEMPLATE…\n".utf8))
    exit(2)
}
let (outputPath, enumName, suffix) = (arguments[0], arguments[1], arguments[2])
var entries: [String] = []
for path in arguments.dropFirst(3) {
    let url = URL(fileURLWithPath: path)
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        FileHandle.standardError.write(Data("error: cannot read template \(path) as UTF-8\n".utf8))
        exit(1)
    }
    let name = String(url.lastPathComponent.dropLast(suffix.count))
    entries.append("        \(swiftStringLiteral(name)): \(swiftStringLiteral(text)),")
}
let source = """
    // Generated at build time by TemplateEmbedderTool from templates/*\(suffix). Do not edit.

    enum \(enumName) {
        /// Template texts by file name without `\(suffix)`.
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
