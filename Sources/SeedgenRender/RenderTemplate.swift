import Foundation
import Mustache
import SeedgenCore
import SeedgenSpec
import SeedgenYAML

/// One template ready to render: its text and how to name it in messages.
struct RenderTemplate: Sendable {
    /// The path shown in diagnostics (the user's path as written, or the built-in template's).
    var displayPath: String
    var text: String
    var isBuiltin: Bool
    /// The vm.yaml key that chose this template (`cloud_init.templates.user_data`), for messages.
    var keyPath: String

    static func builtin(_ name: String, keyPath: String) -> RenderTemplate {
        guard let text = RenderBuiltinTemplates.byName[name] else {
            preconditionFailure("built-in template \(name) is missing from templates/")
        }
        return RenderTemplate(displayPath: "templates/\(name).mustache", text: text, isBuiltin: true, keyPath: keyPath)
    }

    static func user(_ source: TemplateSource, keyPath: String) -> RenderTemplate {
        RenderTemplate(displayPath: source.path, text: source.text, isBuiltin: false, keyPath: keyPath)
    }
}

enum RenderTemplateEngine {
    /// Registers seedgen's YAML content type with swift-mustache exactly once per process.
    private static let contentTypeRegistered: Bool = {
        MustacheContentTypes.register(RenderYAMLContentType(), named: RenderYAMLContentType.name)
        return true
    }()

    /// The pragma that switches a template to the YAML content type, on a line of its own (a
    /// standalone tag, so it renders nothing and shifts the template's lines by exactly one).
    private static let pragmaLine = "{{% CONTENT_TYPE: \(RenderYAMLContentType.name)}}\n"

    /// The built-in templates, parsed once per process (a fleet build renders them per VM).
    private static let parsedBuiltins: [String: MustacheTemplate] = {
        _ = contentTypeRegistered
        var parsed: [String: MustacheTemplate] = [:]
        for (name, text) in RenderBuiltinTemplates.byName {
            parsed["templates/\(name).mustache"] = try? MustacheTemplate(string: pragmaLine + text)
        }
        return parsed
    }()

    /// Renders `template` with `context` and reads the output as YAML, with null entries dropped.
    /// Problems are returned as diagnostics positioned in the template file.
    static func renderTree(_ template: RenderTemplate, context: [String: Any]) -> Result<YAMLNode, SeedgenError> {
        let rendered: String
        switch render(template, context: context) {
        case .success(let text): rendered = text
        case .failure(let error): return .failure(error)
        }
        do {
            return .success(try RenderYAML.parse(rendered).droppingNullEntries())
        } catch {
            return .failure(
                .invalidInput(error.problems.map { yamlDiagnostic($0, template: template, rendered: rendered) }))
        }
    }

    /// The template's output text.
    static func render(_ template: RenderTemplate, context: [String: Any]) -> Result<String, SeedgenError> {
        _ = contentTypeRegistered
        // The built-in templates are checked once by their tests, not on every render.
        if !template.isBuiltin, template.text.contains("CONTENT_TYPE") {
            let line = lineNumber(ofFirst: "CONTENT_TYPE", in: template.text)
            return .failure(
                .invalidInput([
                    Diagnostic(
                        at: SourceLocation(file: template.displayPath, line: line, column: 1),
                        keyPath: template.keyPath,
                        message: "templates may not change the content type: seedgen quotes every value for YAML",
                        allowed: "remove the CONTENT_TYPE pragma")
                ]))
        }
        if !template.isBuiltin, RenderValueSplicer.containsMarkers(template.text) {
            return .failure(
                .invalidInput([
                    Diagnostic(
                        at: SourceLocation(file: template.displayPath, line: 1, column: 1), keyPath: template.keyPath,
                        message: "template contains the noncharacters U+FDD0/U+FDD1, which seedgen reserves",
                        allowed: "remove them")
                ]))
        }
        do {
            let mustache =
                try template.isBuiltin
                ? (parsedBuiltins[template.displayPath] ?? MustacheTemplate(string: pragmaLine + template.text))
                : MustacheTemplate(string: pragmaLine + template.text)
            return .success(RenderValueSplicer.splice(mustache.render(context)))
        } catch let error as MustacheTemplate.ParserError {
            var location = SourceLocation(
                file: template.displayPath, line: max(1, error.context.lineNumber - 1),
                column: error.context.columnNumber)
            var message = "template syntax: \(describe(error.error))"
            let near = error.context.line.trimmingCharacters(in: .whitespaces)
            if case .expectedSectionEnd = error.error as? MustacheTemplate.Error,
                let open = unclosedSection(in: template.text)
            {
                // The parser stops at the end of the file; the useful place is the opening tag.
                location.line = open.line
                location.column = open.column
                message = "template syntax: section `\(open.name)` is never closed (no {{/\(open.name)}})"
            } else if !near.isEmpty {
                message += " near `\(near)`"
            }
            return .failure(
                .invalidInput([
                    Diagnostic(
                        at: location, keyPath: template.keyPath, message: message,
                        allowed: "Mustache tags: {{name}}, {{#list}}…{{/list}}, {{^flag}}…{{/flag}}, {{! comment }}")
                ]))
        } catch {
            return .failure(
                .invalidInput([
                    Diagnostic(
                        at: SourceLocation(file: template.displayPath, line: 1, column: 1), keyPath: template.keyPath,
                        message: "template cannot be parsed: \(error)")
                ]))
        }
    }

    /// The innermost section opened and never closed (default delimiters), with its position.
    static func unclosedSection(in text: String) -> (name: String, line: Int, column: Int)? {
        guard let pattern = try? NSRegularExpression(pattern: "\\{\\{\\s*([#^/])\\s*([^}\\s]+)\\s*\\}\\}") else {
            return nil
        }
        var open: [(name: String, offset: Int)] = []
        let nsText = text as NSString
        for match in pattern.matches(in: text, range: NSRange(location: 0, length: nsText.length)) {
            let kind = nsText.substring(with: match.range(at: 1))
            let name = nsText.substring(with: match.range(at: 2))
            if kind == "/" {
                if let last = open.lastIndex(where: { $0.name == name }) { open.removeSubrange(last...) }
            } else {
                open.append((name, match.range.location))
            }
        }
        guard let innermost = open.last else { return nil }
        let prefix = nsText.substring(to: innermost.offset)
        let line = prefix.filter { $0 == "\n" }.count + 1
        let column = (prefix.split(separator: "\n", omittingEmptySubsequences: false).last?.count ?? 0) + 1
        return (innermost.name, line, column)
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? MustacheTemplate.Error else { return String(describing: error) }
        switch error {
        case .sectionCloseNameIncorrect: return "section closed with a different name than it was opened with"
        case .unfinishedName: return "tag is not closed or its name is not valid"
        case .expectedSectionEnd: return "section is never closed"
        case .invalidSetDelimiter: return "invalid set-delimiter tag"
        case .transformAppliedToInheritanceSection: return "transform applied to an inheritance section"
        case .illegalTokenInsideInheritSection: return "illegal tag inside an inheritance section"
        case .textInsideInheritSection: return "text inside an inheritance section"
        case .invalidConfigVariableSyntax: return "invalid pragma"
        case .unrecognisedConfigVariable: return "unknown pragma"
        }
    }

    /// A diagnostic for output that is not valid YAML, positioned on the template line that
    /// produced the offending output line.
    static func yamlDiagnostic(_ problem: YAMLProblem, template: RenderTemplate, rendered: String) -> Diagnostic {
        let renderedLine = problem.mark.line
        let renderedLines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let offendingLine = renderedLine - 1 < renderedLines.count ? String(renderedLines[renderedLine - 1]) : ""
        let position = RenderTemplateLineLocator.templatePosition(
            ofRenderedLine: offendingLine, number: renderedLine, column: problem.mark.column, template: template.text)
        let what = template.isBuiltin ? "built-in template" : "template"
        return Diagnostic(
            at: SourceLocation(file: template.displayPath, line: position.line, column: position.column),
            keyPath: template.keyPath,
            message:
                "\(what) renders invalid YAML: \(problem.message) (rendered line \(renderedLine): `\(offendingLine)`)",
            allowed: problem.hint
                ?? "a {{value}} may stand alone, inside plain text, inside double quotes or in a | block")
    }

    private static func lineNumber(ofFirst needle: String, in text: String) -> Int {
        guard let range = text.range(of: needle) else { return 1 }
        return text[..<range.lowerBound].filter { $0 == "\n" }.count + 1
    }
}

/// Finds the template line that produced a given output line. Values never add line breaks (they
/// are quoted on one line), so an output line is a template line with its tags filled in; the
/// nearest template line whose literal text matches is the one the user should look at.
enum RenderTemplateLineLocator {
    static func templatePosition(
        ofRenderedLine renderedLine: String, number: Int, column: Int, template: String
    ) -> (line: Int, column: Int) {
        let templateLines = template.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var best: (line: Int, distance: Int)?
        for (index, templateLine) in templateLines.enumerated() where matches(templateLine, renderedLine) {
            let distance = abs(index + 1 - number)
            if best == nil || distance < best!.distance { best = (index + 1, distance) }
        }
        guard let line = best?.line else {
            return (min(max(1, number), max(1, templateLines.count)), column)
        }
        let templateLine = templateLines[line - 1]
        if let tag = templateLine.range(of: "{{") {
            let tagColumn = templateLine.distance(from: templateLine.startIndex, to: tag.lowerBound) + 1
            return (line, min(column, tagColumn))
        }
        return (line, column)
    }

    /// True when `renderedLine` could be `templateLine` with each `{{…}}` tag replaced by some text.
    package static func matches(_ templateLine: String, _ renderedLine: String) -> Bool {
        var literals: [Substring] = []
        var rest = templateLine[...]
        while let open = rest.range(of: "{{") {
            literals.append(rest[..<open.lowerBound])
            guard let close = rest[open.upperBound...].range(of: "}}") else { return false }
            rest = rest[close.upperBound...]
            if rest.hasPrefix("}") { rest = rest.dropFirst() }
        }
        literals.append(rest)
        if literals.count == 1 { return templateLine == renderedLine }
        if literals.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) { return false }
        var remaining = renderedLine[...]
        guard remaining.hasPrefix(literals[0]) else { return false }
        remaining = remaining.dropFirst(literals[0].count)
        for literal in literals.dropFirst().dropLast() where !literal.isEmpty {
            guard let found = remaining.range(of: literal) else { return false }
            remaining = remaining[found.upperBound...]
        }
        return remaining.hasSuffix(literals.last!)
    }
}
