import ArgumentParser
import SeedgenKit

@main
struct Seedgen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seedgen",
        abstract: "Turn a declarative vm.yaml into a cloud-init seed ISO, a verified cloud image and a qm bundle for Proxmox VE.",
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
}
