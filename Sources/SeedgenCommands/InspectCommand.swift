import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenNoCloud

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract:
            "Read a seed ISO back: label, extensions, files, contents, and the problems cloud-init would have with it.")

    @Argument(help: "The ISO image to read.")
    var image: String

    @Option(
        name: .customLong("extract"), help: ArgumentHelp("Write the ISO's files into this directory.", valueName: "DIR")
    )
    var extractDirectory: String?

    @Option(
        name: .customLong("cat"),
        help: ArgumentHelp("Print this file of the ISO on standard output.", valueName: "FILE"))
    var catFile: String?

    @OptionGroup var outputOptions: OutputOptions

    func run() async throws {
        try await reportingErrors(json: outputOptions.json) {
            if outputOptions.json, catFile != nil {
                throw SeedgenError.usage("--json and --cat cannot share standard output")
            }
            let url = URL(fileURLWithPath: image)
            let inspection = try SeedISOInspector.inspect(url)
            if let extractDirectory {
                let written = try ISOImageReader.extract(url, to: URL(fileURLWithPath: extractDirectory))
                Terminal.standardError.write("extracted \(written.count) file(s) to \(extractDirectory)\n")
            }
            if let catFile {
                guard let file = try ISOImageReader.contents(of: url).first(where: { $0.name == catFile }) else {
                    throw SeedgenError.usage(
                        "\(image) has no file \(catFile) (it has "
                            + "\(inspection.files.map(\.path).joined(separator: ", ")))"
                    )
                }
                try FileHandle.standardOutput.write(contentsOf: file.data)
                for warning in inspection.warnings {
                    Terminal.standardError.write("warning: \(warning)\n")
                }
            } else if outputOptions.json {
                StandardOutputJSON.write(encoded: try SeedISOReport.json(inspection))
            } else {
                Terminal.standardOutput.write(SeedISOReport.text(inspection))
            }
        }
    }
}
