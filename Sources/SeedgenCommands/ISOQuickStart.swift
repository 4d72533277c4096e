import ArgumentParser
import SeedgenCore
import SeedgenNoCloud

/// `seedgen iso` in the forms people and scripts write, recognised without the argument parser.
///
/// `seedgen iso` replaces `cloud-localds`, which scripts call once per VM, so its start-up is most
/// of its cost. Measured with `hyperfine -N` on the dynamic release build, a process that exits at
/// once takes 14.4 ms and `seedgen iso` through swift-argument-parser 29–32 ms: the parser's
/// reflection over the command types (each new type lookup scans every protocol conformance
/// record of the binary) and the hop to Swift's cooperative thread pool of an async `main` cost
/// more than packing the ISO. So `main` offers the command line here first, synchronously.
///
/// The recogniser is deliberately narrow: it takes only tokens whose meaning is certain (the
/// command's own option names, each at most once, as `--name value`, `--name=value` (not empty)
/// or `-x value`; `--json`; `-v`; positionals) and answers nil for anything else (`--help`, `--`,
/// joined short options, a value that looks like an option, a repeated option, an unknown name),
/// which then goes to the argument parser as before. `ISOQuickStartTests` holds it to the
/// parser: for every command line it recognises, the parser must produce the same arguments, and
/// every option name in `seedgen iso --help` must be one it knows.
public enum ISOQuickStart {
    /// What a recognised command line asks for.
    struct Invocation: Equatable {
        var arguments = SeedISOArguments()
        var json = false
        var progress = ProgressMode.auto
    }

    /// The fields an option can set, so each is taken once.
    enum Field {
        case output, userData, metaData, networkConfig, vendorData, volumeID, instanceID
        case hostname, dsmode, interfaces, filesystem, diskFormat, progress
    }

    /// Every option name of `ISOCommand` and `OutputOptions` that takes a value.
    static let valuedOptions: [(name: String, field: Field)] = [
        ("-o", .output),
        ("--output", .output),
        ("--user-data", .userData),
        ("--meta-data", .metaData),
        ("-N", .networkConfig),
        ("--network-config", .networkConfig),
        ("-V", .vendorData),
        ("--vendor-data", .vendorData),
        ("--volume-id", .volumeID),
        ("--instance-id", .instanceID),
        ("-H", .hostname),
        ("--hostname", .hostname),
        ("-m", .dsmode),
        ("--dsmode", .dsmode),
        ("-i", .interfaces),
        ("--interfaces", .interfaces),
        ("-f", .filesystem),
        ("--filesystem", .filesystem),
        ("-d", .diskFormat),
        ("--disk-format", .diskFormat),
        ("--progress", .progress),
    ]

    /// The flags: `--json`, and cloud-localds's `-v`, accepted and ignored as `ISOCommand` does.
    /// (Arrays, not sets, here and below: the first `Set` of a type makes the Swift runtime scan
    /// every protocol conformance record of the process for its `Hashable`, a quarter of a
    /// millisecond each in the dynamic build, which is what this type exists to save.)
    static let jsonFlag = "--json"
    static let verboseFlags = ["-v", "--verbose"]

    /// Runs `seedgen iso` if `commandLine` (the process's arguments, program name first) is one
    /// this recogniser takes, and returns the exit status; nil means "give it to the parser".
    public static func runIfRecognised(_ commandLine: [String]) -> Int32? {
        guard commandLine.count > 1, commandLine[1] == "iso",
            let invocation = recognise(commandLine.dropFirst(2))
        else { return nil }
        return run(invocation)
    }

    /// Runs a recognised command line as `ISOCommand.run` and the process's error handling would.
    static func run(_ invocation: Invocation) -> Int32 {
        do {
            try ISOCommand.pack(invocation.arguments, json: invocation.json)
            return 0
        } catch let error as SeedgenError {
            report(error, json: invocation.json)
            return error.exitCode
        } catch {
            // What the parser's `exit(withError:)` prints and returns for an error of another kind.
            Terminal.standardError.write(SeedgenCommand.fullMessage(for: error) + "\n")
            return SeedgenCommand.exitCode(for: error).rawValue
        }
    }

    /// The arguments after `iso`, or nil when any token is not certain (see the type's comment).
    static func recognise(_ tokens: ArraySlice<String>) -> Invocation? {
        var invocation = Invocation()
        var taken: [Field] = []
        var index = tokens.startIndex
        while index < tokens.endIndex {
            let token = tokens[index]
            index += 1
            if token == "-" || !token.hasPrefix("-") {
                invocation.arguments.positionals.append(token)
                continue
            }
            if token == jsonFlag {
                guard !invocation.json else { return nil }
                invocation.json = true
                continue
            }
            if verboseFlags.contains(token) { continue }
            var name = token
            var value: String?
            if token.hasPrefix("--"), let equals = token.firstIndex(of: "=") {
                name = String(token[..<equals])
                value = String(token[token.index(after: equals)...])
                // The parser reads `--name=` as a name without its value and takes the next token.
                guard value != "" else { return nil }
            }
            guard let field = valuedOptions.first(where: { $0.name == name })?.field, !taken.contains(field) else {
                return nil
            }
            taken.append(field)
            if value == nil {
                guard index < tokens.endIndex else { return nil }
                let next = tokens[index]
                guard next == "-" || !next.hasPrefix("-") else { return nil }
                value = next
                index += 1
            }
            guard let value, set(field, to: value, in: &invocation) else { return nil }
        }
        return invocation
    }

    /// Sets one field; false when the value is not one the parser would take (a progress mode).
    private static func set(_ field: Field, to value: String, in invocation: inout Invocation) -> Bool {
        switch field {
        case .output: invocation.arguments.output = value
        case .userData: invocation.arguments.userData = value
        case .metaData: invocation.arguments.metaData = value
        case .networkConfig: invocation.arguments.networkConfig = value
        case .vendorData: invocation.arguments.vendorData = value
        case .volumeID: invocation.arguments.volumeID = value
        case .instanceID: invocation.arguments.instanceID = value
        case .hostname: invocation.arguments.hostname = value
        case .dsmode: invocation.arguments.dsmode = value
        case .interfaces: invocation.arguments.interfaces = value
        case .filesystem: invocation.arguments.filesystem = value
        case .diskFormat: invocation.arguments.diskFormat = value
        case .progress:
            guard let mode = ProgressMode(rawValue: value) else { return false }
            invocation.progress = mode
        }
        return true
    }
}
