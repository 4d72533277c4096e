import Foundation
import PackagePlugin

/// Turns `templates/*.mustache` at the package root into a generated Swift file compiled into
/// SeedgenKit, so the binary carries its built-in templates (it stays relocatable) and the
/// templates folder stays the only copy.
@main
struct RenderTemplateEmbedder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let templatesDirectory = context.package.directoryURL.appending(path: "templates")
        let names = try FileManager.default.contentsOfDirectory(atPath: templatesDirectory.path)
            .filter { $0.hasSuffix(".mustache") }
            .sorted()
        let inputs = names.map { templatesDirectory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "RenderBuiltinTemplates.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(names.count) built-in templates",
                executable: try context.tool(named: "RenderTemplateEmbedderTool").url,
                arguments: [output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
