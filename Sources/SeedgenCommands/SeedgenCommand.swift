import ArgumentParser
import Foundation
import SeedgenCore

/// The `seedgen` command and its subcommands.
public struct SeedgenCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "seedgen",
        abstract:
            "Turn a declarative vm.yaml into a cloud-init seed ISO, a verified cloud image and a qm bundle for Proxmox "
            + "VE.",
        version: SeedgenVersion.current,
        subcommands: [
            BuildCommand.self,
            ApplyCommand.self,
            ValidateCommand.self,
            RenderCommand.self,
            ISOCommand.self,
            InspectCommand.self,
            ImageCommand.self,
            InitCommand.self,
            ConvertCommand.self,
        ]
    )

    public init() {}

    /// Runs seedgen as the process: the parser's own `main`, except that usage errors exit 2 as the
    /// README promises (the parser's default is 64, EX_USAGE) and print a JSON error object on stdout
    /// under `--json`.
    public static func runAsProcess() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            Terminal.standardError.write(fullMessage(for: error) + "\n")
            if CommandLine.arguments.dropFirst().contains("--json") {
                StandardOutputJSON.write(ErrorReport.usage(message(for: error)))
            }
            Foundation.exit(SeedgenError.usage("").exitCode)
        }
    }
}
