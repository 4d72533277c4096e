import Foundation
import SeedgenCore
import SeedgenNoCloud
import SeedgenTestSupport
import Testing

@Suite("seedgen iso: calling conventions and generated meta-data")
struct SeedISORequestTests {
    private func arguments(
        _ positionals: [String], output: String? = nil, _ configure: (inout SeedISOArguments) -> Void = { _ in }
    )
        -> SeedISOArguments
    {
        var arguments = SeedISOArguments()
        arguments.positionals = positionals
        arguments.output = output
        configure(&arguments)
        return arguments
    }

    @Test("cloud-localds form: OUTPUT USER-DATA [META-DATA] with -N and -V")
    func cloudLocaldsForm() throws {
        let request = try SeedISORequest.resolve(
            arguments(["seed.iso", "ud", "md"]) {
                $0.networkConfig = "nc"
                $0.vendorData = "vd"
            })
        #expect(request.output == "seed.iso")
        #expect(request.inputs == ["user-data": "ud", "meta-data": "md", "network-config": "nc", "vendor-data": "vd"])
    }

    @Test("SPEC form: -o with a directory picks the NoCloud names and notes the rest; flags override")
    func directoryForm() throws {
        let directory = try TemporaryDirectory()
        for name in ["user-data", "meta-data", "extra.txt"] { try directory.write(name, "x") }
        let request = try SeedISORequest.resolve(
            arguments([directory.url.path], output: "out.iso") { $0.metaData = "/elsewhere/meta" })
        #expect(request.output == "out.iso")
        #expect(request.inputs["user-data"] == directory.path("user-data").path)
        #expect(request.inputs["meta-data"] == "/elsewhere/meta")
        #expect(request.inputs["network-config"] == nil)
        #expect(request.notes.count == 1 && request.notes[0].contains("extra.txt"))
    }

    @Test(
        "usage errors: nothing to pack, a directory without -o, conflicts, unsupported formats",
        arguments: [
            (["seed.iso"], nil, "missing arguments"),
            (["a", "b", "c", "d"], nil, "too many arguments"),
            ([], "out.iso", "no user-data given"),
        ] as [([String], String?, String)])
    func usageErrors(positionals: [String], output: String?, message: String) throws {
        let error = try #require(throws: SeedgenError.self) {
            try SeedISORequest.resolve(arguments(positionals, output: output))
        }
        #expect(error.exitCode == 2)
        #expect(error.description.contains(message), "\(error.description)")
    }

    @Test("conflicting and incompatible options are usage errors")
    func conflicts() throws {
        let cases: [(SeedISOArguments, String)] = [
            (arguments(["seed.iso", "ud"]) { $0.userData = "other" }, "user-data given twice"),
            (arguments(["seed.iso", "ud", "md"]) { $0.hostname = "h" }, "incompatible with --hostname"),
            (arguments(["seed.iso", "ud", "md"]) { $0.instanceID = "i" }, "incompatible with --instance-id"),
            (arguments(["seed.iso", "ud"]) { $0.filesystem = "vfat" }, "ISO 9660 seeds only"),
            (arguments(["seed.iso", "ud"]) { $0.diskFormat = "qcow2" }, "raw ISO images only"),
            (
                arguments(["seed.iso", "ud"]) { $0.networkConfig = "-" },
                "only user-data may be read from standard input"
            ),
        ]
        for (given, message) in cases {
            let error = try #require(throws: SeedgenError.self) { try SeedISORequest.resolve(given) }
            #expect(error.exitCode == 2)
            #expect(error.description.contains(message), "\(error.description)")
        }
        let directory = try TemporaryDirectory()
        let noOutput = try #require(throws: SeedgenError.self) {
            try SeedISORequest.resolve(arguments([directory.url.path]))
        }
        #expect(noOutput.description.contains("-o seed.iso"))
    }

    @Test("generated meta-data: instance-id from the content, cloud-localds's optional keys, valid YAML")
    func generatedMetaData() throws {
        let files = sampleSeedFiles().filter { $0.name != "meta-data" }
        let first = SeedISOPacker.generatedMetaData(for: files, hostname: "web01", dsmode: "local")
        let again = SeedISOPacker.generatedMetaData(for: files.reversed(), hostname: "web01", dsmode: "local")
        #expect(first == again)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix("{\n\"instance-id\": \"iid-seedgen-"))
        #expect(text.contains("\"local-hostname\": \"web01\""))
        #expect(text.contains("\"dsmode\": \"local\""))
        var changed = files
        changed[0].data.append(Data("# changed\n".utf8))
        #expect(SeedISOPacker.generatedMetaData(for: changed, hostname: "web01", dsmode: "local") != first)
        let explicit = String(
            decoding: SeedISOPacker.generatedMetaData(for: files, instanceID: "i-\"quoted\"\n"), as: UTF8.self)
        #expect(explicit == "{\n\"instance-id\": \"i-\\\"quoted\\\"\\n\"\n}\n")
    }

    @Test("cloud-init's own NoCloud reader gets the instance-id and hostname from a seed seedgen generated")
    func cloudInitReadsTheSeed() throws {
        try requireSeedgenBinary()
        let directory = try TemporaryDirectory()
        try sampleSeedFiles()[0].data.write(to: directory.path("user-data"))
        let result = try ProcessRunner.seedgen(
            ["iso", "seed.iso", "user-data", "-H", "web01"], currentDirectory: directory.url)
        #expect(result.exitCode == 0, "\(result.stderr)")
        try runTool(
            "xorriso", ["-osirrox", "on", "-indev", "seed.iso", "-extract", "/", "seed"],
            currentDirectory: directory.url)
        // Debian's cloud-init lives in the system Python, whatever python3 is first on PATH.
        let script = """
            import json, os
            from cloudinit import util
            # An absolute path: read_seeded treats anything else as a URL.
            md, ud, vd = util.read_seeded(base=os.path.abspath("seed") + "/", retries=0)
            print(json.dumps({"iid": md.get("instance-id"), "host": md.get("local-hostname"), "ud": ud.decode()}))
            """
        let read = try runTool("/usr/bin/python3", ["-c", script], currentDirectory: directory.url)
        struct Seen: Decodable {
            var iid: String?
            var host: String?
            var ud: String
        }
        let seen = try JSONDecoder().decode(Seen.self, from: read.stdoutData)
        #expect(seen.iid?.hasPrefix("iid-seedgen-") == true)
        #expect(seen.host == "web01")
        #expect(seen.ud == String(decoding: sampleSeedFiles()[0].data, as: UTF8.self))
    }
}
