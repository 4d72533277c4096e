import Foundation
import SeedgenCore

/// The one place where text becomes shell syntax in deploy.sh: every value goes through `quote`,
/// every word with node-side values through `word`.
public enum BundleShell {
    /// `text` as one bash word with the same value (`ShellQuoting.quote`).
    public static func quote(_ text: String) -> String { ShellQuoting.quote(text) }

    /// A bash word for `argument`: literal parts quoted, variables expanded inside double quotes.
    public static func word(_ argument: BundleArgument) -> String {
        if let literal = argument.literalValue { return quote(literal) }
        return argument.parts.map { part -> String in
            switch part {
            case .literal(let text): return text.isEmpty ? "" : quote(text)
            case .variable(let variable): return "\"${\(variable.rawValue)}\""
            }
        }.joined()
    }

    /// `NAME=value` with the value quoted.
    static func assignment(_ name: String, _ value: String) -> String { "\(name)=\(quote(value))" }

    /// `NAME=(a b c)` with every element quoted.
    static func arrayAssignment(_ name: String, _ values: [String]) -> String {
        "\(name)=(" + values.map(quote).joined(separator: " ") + ")"
    }
}
