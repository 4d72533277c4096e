import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenRender
import SeedgenSpec

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the rendered cloud-init files of a VM file (all of them, or one with --file).")

    enum SeedFileName: String, ExpressibleByArgument, CaseIterable {
        case userData = "user-data"
        case metaData = "meta-data"
        case networkConfig = "network-config"
        case vendorData = "vendor-data"
    }

    @Argument(help: "A vm.yaml (or Ansible variables) file.")
    var file: String

    @Option(
        name: .customLong("file"),
        help: "Print only this file, byte for byte: user-data, meta-data, network-config or vendor-data.")
    var fileName: SeedFileName?

    @Option(name: .customLong("catalog"), help: "A user image catalog file (for catalog names in image:).")
    var catalog: String?

    @OptionGroup var saltKey: SaltKeyOptions

    @Flag(
        help:
            """
            Print, per top-level user-data key, where it comes from: the built-in template (a structured field or its \
            default), your template, cloud_init.extra.
            """
    )
    var explain = false

    func run() async throws {
        try await reportingErrors {
            let catalog = try ImageCatalog.load(userCatalog: self.catalog.map { URL(fileURLWithPath: $0) })
            let loaded = SpecLoader.standard(environment: saltKey.environment, catalog: catalog).loadAll([file])
            for warning in loaded.warnings { Terminal.standardError.write(warning.description + "\n") }
            guard let spec = try loaded.get().first else { return }
            let seed = try SeedRenderer.render(spec)
            if explain {
                Terminal.standardOutput.write(try SeedRenderer.explanation(spec))
                return
            }
            if let fileName {
                guard let data = seed.file(named: fileName.rawValue) else {
                    throw SeedgenError.usage(
                        "\(file) has no \(fileName.rawValue) (vendor-data exists only with cloud_init.vendor_data)")
                }
                FileHandle.standardOutput.write(data)
                return
            }
            for (index, entry) in seed.files.enumerated() {
                if index > 0 { Terminal.standardOutput.write("\n") }
                Terminal.standardOutput.write("# ---- \(entry.name) ----\n")
                Terminal.standardOutput.write(String(decoding: entry.data, as: UTF8.self))
            }
        }
    }
}
