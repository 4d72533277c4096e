import Foundation
import PackagePlugin

/// Turns the files in `templates/` at the package root into generated Swift files compiled into the
/// target that uses them, so the binary carries them (it stays relocatable) and the templates folder
/// stays the only copy: `*.mustache` (the built-in cloud-init templates) into SeedgenRender and
/// `*.bash` (deploy.sh's fixed code, kept as a real bash file so that shellcheck reads it as one)
/// into SeedgenBundle.
@main
struct TemplateEmbedder: BuildToolPlugin {
    /// One generated enum per kind of template file, in the target that reads it.
    private static let kinds: [(target: String, suffix: String, enumName: String)] = [
        ("SeedgenRender", ".mustache", "RenderBuiltinTemplates"),
        ("SeedgenBundle", ".bash", "BundleScriptTemplates"),
    ]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let templatesDirectory = context.package.directoryURL.appending(path: "templates")
        let names = try FileManager.default.contentsOfDirectory(atPath: templatesDirectory.path).sorted()
        let tool = try context.tool(named: "TemplateEmbedderTool").url
        return Self.kinds.filter { $0.target == target.name }.map { kind in
            let inputs = names.filter { $0.hasSuffix(kind.suffix) }.map { templatesDirectory.appending(path: $0) }
            let output = context.pluginWorkDirectoryURL.appending(path: "\(kind.enumName).swift")
            return .buildCommand(
                displayName: "Embedding \(inputs.count) templates/*\(kind.suffix) as \(kind.enumName)",
                executable: tool,
                arguments: [output.path, kind.enumName, kind.suffix] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        }
    }
}
