import ArgumentParser
import SeedgenCore
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@testable import SeedgenCommands

/// `ISOQuickStart` reads `seedgen iso`'s command lines without the argument parser, so nothing but
/// these tests keeps the two in step: whatever it recognises must mean exactly what the parser
/// makes of it, and whatever it is unsure of must be left to the parser.
@Suite struct ISOQuickStartTests {
    /// What the parser makes of the arguments after `iso`, in the recogniser's terms.
    static func parsed(_ arguments: [String]) throws -> ISOQuickStart.Invocation {
        let command = try ISOCommand.parse(arguments)
        return ISOQuickStart.Invocation(
            arguments: command.seedISOArguments, json: command.outputOptions.json,
            progress: command.outputOptions.progress)
    }

    /// The forms the README, cloud-localds's usage and scripts migrating from it write.
    static let commonForms: [[String]] = [
        ["seed.iso", "user-data"],
        ["seed.iso", "user-data", "meta-data"],
        ["seed.iso", "user-data", "meta-data", "-N", "network-config"],
        ["seed.iso", "user-data", "-N", "network-config", "-V", "vendor-data"],
        ["-v", "--network-config=net.yaml", "seed.iso", "user-data", "meta-data"],
        ["-f", "iso9660", "-d", "raw", "-H", "web01", "-m", "local", "seed.iso", "user-data"],
        ["--hostname", "web01", "--dsmode", "net", "--interfaces", "interfaces", "seed.iso", "user-data"],
        ["-", "-"],
        ["seed.iso", "-"],
        ["-o", "-", "--user-data", "user-data"],
        ["-o", "seed.iso", "--user-data", "user-data", "--meta-data", "meta-data", "--json"],
        ["--output=seed.iso", "--user-data=u d", "--vendor-data", "vendor data"],
        ["-o", "seed.iso", "seed-directory"],
        ["seed-directory", "--output", "out/seed.iso", "--volume-id", "CIDATA", "--instance-id", "iid-1"],
        ["--json", "--progress", "none", "-o", "seed.iso", "dir"],
        ["--progress=plain", "seed.iso", "user-data"],
        ["--instance-id=iid=with=equals", "seed.iso", "user-data"],
        ["--volume-id=-x", "seed.iso", "user-data"],
        ["seed.iso", "user-data", "meta-data", "extra-positional"],
        ["--verbose", "-v", "-v", "ünïcödé.iso", "user-data"],
        [],
    ]

    @Test(arguments: commonForms)
    func commonFormsAreRecognisedAndMeanWhatTheParserReads(arguments: [String]) throws {
        let recognised = try #require(
            ISOQuickStart.recognise(arguments[...]), "\(arguments) should start without the parser")
        #expect(recognised == (try Self.parsed(arguments)), "\(arguments)")
    }

    /// Lines whose meaning depends on rules the recogniser does not implement, or that are errors.
    static let leftToTheParser: [[String]] = [
        ["--help"],
        ["-h"],
        ["--version"],
        ["seed.iso", "user-data", "--help"],
        ["--", "seed.iso", "user-data"],
        ["-vv", "seed.iso", "user-data"],
        ["-oseed.iso", "--user-data", "user-data"],
        ["-o=seed.iso", "--user-data", "user-data"],
        ["-o", "--json", "user-data"],
        ["-o", "-x", "user-data"],
        ["--output"],
        ["seed.iso", "user-data", "-N"],
        ["-o", "a.iso", "-o", "b.iso", "user-data"],
        ["-o", "a.iso", "--output=b.iso", "user-data"],
        ["--json", "--json", "seed.iso", "user-data"],
        ["--progress", "sideways", "seed.iso", "user-data"],
        ["--no-such-option", "x", "seed.iso", "user-data"],
        ["--user", "user-data", "-o", "seed.iso"],
        ["-x", "seed.iso"],
        ["--json=true", "seed.iso", "user-data"],
        ["--verbose=2", "seed.iso", "user-data"],
        // The parser takes `--hostname=` as a name without its value, and the next token for it.
        ["--hostname=", "seed.iso", "user-data"],
    ]

    @Test(arguments: leftToTheParser)
    func uncertainLinesAreLeftToTheParser(arguments: [String]) {
        #expect(ISOQuickStart.recognise(arguments[...]) == nil, "\(arguments)")
    }

    /// Lines put together from pieces, valid and not: whenever the recogniser takes one, the parser
    /// must accept it too and read the same. Random with a fixed seed, so a failure repeats.
    @Test func generatedLinesMeanTheSameToBoth() throws {
        let pieces: [[String]] = [
            ["seed.iso"], ["user-data"], ["-"], ["dir with space"], ["-o", "out.iso"], ["--output", "-"],
            ["--output=x.iso"], ["--user-data", "u"], ["--user-data=-"], ["--meta-data", "m"], ["-N", "n"],
            ["--network-config=n"], ["-V", "v"], ["--vendor-data", "v"], ["--volume-id", "cidata"],
            ["--volume-id=CIDATA"], ["--instance-id", "iid"], ["-H", "host"], ["--hostname=host"],
            ["-m", "local"], ["--dsmode", "net"], ["-i", "ifaces"], ["--interfaces=ifaces"], ["-f", "iso9660"],
            ["--filesystem", "vfat"], ["-d", "raw"], ["--disk-format=qcow2"], ["-v"], ["--verbose"], ["--json"],
            ["--progress", "bar"], ["--progress=auto"], ["--progress", "loud"], ["--"], ["-h"], ["-vv"],
            ["-N"], ["--bogus"], ["-o", "-N"], ["--hostname", "--json"], ["--hostname="], ["--output="],
        ]
        var generator = SeededGenerator(state: 0x5EED_150)
        var recognisedCount = 0
        for _ in 0..<3000 {
            var line: [String] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                line += pieces.randomElement(using: &generator)!
            }
            guard let recognised = ISOQuickStart.recognise(line[...]) else { continue }
            recognisedCount += 1
            let parsed: ISOQuickStart.Invocation
            do {
                parsed = try Self.parsed(line)
            } catch {
                Issue.record("\(line): recognised, but the parser says \(ISOCommand.message(for: error))")
                continue
            }
            #expect(recognised == parsed, "\(line)")
        }
        // The check above is only as good as the lines it saw taken.
        #expect(recognisedCount > 500, "only \(recognisedCount) of 3000 generated lines were recognised")
    }

    /// A new option on `ISOCommand` that the recogniser does not know would be taken for an unknown
    /// one and left to the parser: harmless, but the fast start lost for it. This keeps the lists
    /// equal, hidden options included.
    @Test func everyOptionOfTheCommandIsKnownToTheRecogniser() throws {
        let help = ISOCommand.helpMessage(includeHidden: true, columns: 400)
        let pattern = /(?:^|[\s,\[(])(--?[A-Za-z][A-Za-z-]*)/
        var named = Set(help.matches(of: pattern).map { String($0.output.1) })
        named.subtract(["-h", "--help"])
        let known = Set(ISOQuickStart.valuedOptions.map(\.name)).union([ISOQuickStart.jsonFlag])
            .union(ISOQuickStart.verboseFlags)
        #expect(named.isSuperset(of: ["--output", "-N", "--volume-id", "-f", "--disk-format"]), "\(named.sorted())")
        let helpOnly = named.subtracting(known).sorted()
        let knownOnly = known.subtracting(named).sorted()
        #expect(named == known, "in --help only: \(helpOnly); known only: \(knownOnly)")
    }

    /// Only `seedgen iso` starts this way: other commands, and options before the command name,
    /// go to the parser.
    @Test func onlyTheISOCommandIsTaken() {
        #expect(ISOQuickStart.runIfRecognised(["seedgen"]) == nil)
        #expect(ISOQuickStart.runIfRecognised(["seedgen", "build", "vm.yaml"]) == nil)
        #expect(ISOQuickStart.runIfRecognised(["seedgen", "--json", "iso", "seed.iso", "user-data"]) == nil)
        #expect(ISOQuickStart.runIfRecognised(["seedgen", "iso", "--help"]) == nil)
    }
}
