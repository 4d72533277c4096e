import ArgumentParser
import Foundation
import SeedgenCore
import SeedgenISO
import SeedgenNoCloud

/// Synchronous, unlike the other commands: nothing in it waits, and a synchronous command runs on
/// the main thread, where an async one first starts Swift's cooperative thread pool (threads
/// created and work handed over at every start, for a command that takes a few milliseconds).
struct ISOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iso",
        abstract: "Pack cloud-init NoCloud files into a seed ISO (a drop-in replacement for cloud-localds).",
        discussion: """
            Forms:
              seedgen iso -o seed.iso --user-data F [--meta-data F] [-N F] [-V F]
              seedgen iso -o seed.iso DIR      (DIR/user-data, meta-data, …)
              seedgen iso seed.iso user-data [meta-data] [-N F] [-V F]   (cloud-localds)

            Without a meta-data, one is generated with a content-derived instance-id.
            Timestamps come from SOURCE_DATE_EPOCH (default 2000-01-01T00:00:00Z),
            so the same input gives the same bytes.
            """)

    @Argument(
        help: ArgumentHelp(
            "DIR, or OUTPUT USER-DATA [META-DATA] as cloud-localds takes them ('-': stdin/stdout).", valueName: "args"))
    var positionals: [String] = []

    @Option(name: .shortAndLong, help: "The seed ISO to write ('-' for standard output).")
    var output: String?

    @Option(name: .customLong("user-data"), help: "The user-data file ('-' for standard input).")
    var userData: String?

    @Option(name: .customLong("meta-data"), help: "The meta-data file (generated when omitted).")
    var metaData: String?

    @Option(name: [.customShort("N"), .customLong("network-config")], help: "The network-config file.")
    var networkConfig: String?

    @Option(name: [.customShort("V"), .customLong("vendor-data")], help: "The vendor-data file.")
    var vendorData: String?

    @Option(
        name: .customLong("volume-id"),
        help: "The ISO label: cidata (default) or CIDATA, the only ones cloud-init finds.")
    var volumeID: String = SeedISO.defaultVolumeID

    @Option(
        name: .customLong("instance-id"),
        help: "instance-id of the generated meta-data (default: derived from the content).")
    var instanceID: String?

    @Option(name: [.customShort("H"), .long], help: "local-hostname of the generated meta-data.")
    var hostname: String?

    @Option(name: [.customShort("m"), .long], help: "dsmode of the generated meta-data (local or net).")
    var dsmode: String?

    @Option(name: [.customShort("i"), .long], help: "A network interfaces file for the generated meta-data.")
    var interfaces: String?

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("cloud-localds compatibility: only iso9660.", visibility: .hidden))
    var filesystem: String?

    @Option(
        name: [.customShort("d"), .customLong("disk-format")],
        help: ArgumentHelp("cloud-localds compatibility: only raw.", visibility: .hidden))
    var diskFormat: String?

    @Flag(
        name: [.customShort("v"), .long],
        help: ArgumentHelp("cloud-localds compatibility: accepted and ignored.", visibility: .hidden))
    var verbose: Int

    @OptionGroup var outputOptions: OutputOptions

    func run() throws {
        try reportingErrorsSynchronously(json: outputOptions.json) {
            try Self.pack(seedISOArguments, json: outputOptions.json)
        }
    }

    /// What the parsed options ask for, in the form the library takes.
    var seedISOArguments: SeedISOArguments {
        var arguments = SeedISOArguments()
        arguments.positionals = positionals
        arguments.output = output
        arguments.userData = userData
        arguments.metaData = metaData
        arguments.networkConfig = networkConfig
        arguments.vendorData = vendorData
        arguments.volumeID = volumeID
        arguments.instanceID = instanceID
        arguments.hostname = hostname
        arguments.dsmode = dsmode
        arguments.interfaces = interfaces
        arguments.filesystem = filesystem
        arguments.diskFormat = diskFormat
        return arguments
    }

    /// The command's work, shared by the parsed command and `ISOQuickStart`.
    static func pack(_ arguments: SeedISOArguments, json: Bool) throws {
        let request = try SeedISORequest.resolve(arguments)
        if json, request.output == "-" {
            throw SeedgenError.usage("--json and an ISO on standard output ('-') cannot share stdout")
        }
        let result = try SeedISOPacker.pack(request, epoch: BuildEpoch.current())
        for warning in result.warnings {
            Terminal.standardError.write("warning: \(warning)\n")
        }
        if json {
            StandardOutputJSON.write(encoded: try SeedISOReport.json(result))
        } else if result.output != "-" {
            Terminal.standardError.write("wrote \(result.output) (\(result.size) bytes, sha256 \(result.sha256))\n")
        }
    }
}
