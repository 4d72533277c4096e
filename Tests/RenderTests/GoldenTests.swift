import Foundation
import SeedgenRender
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Every top-level sample VM file; `SEEDGEN_RECORD_GOLDEN=1` re-records the expected output.
let sampleFiles: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: TestPaths.samples.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
}()

let goldenDirectory = TestPaths.fixtures.appendingPathComponent("render/golden")

func renderSample(_ name: String) throws -> RenderedSeed {
    let loader = SpecLoader(options: .init(environment: [:]))
    let spec = try loader.load(TestPaths.samples.appendingPathComponent(name).path)
    return try SeedRenderer.render(spec)
}

@Suite struct GoldenTests {
    @Test func everySampleIsCovered() {
        #expect(sampleFiles.count >= 5, "samples/ holds \(sampleFiles)")
    }

    @Test(arguments: sampleFiles)
    func renderedFilesMatchTheGoldenFiles(sample: String) throws {
        let seed = try renderSample(sample)
        let directory = goldenDirectory.appendingPathComponent((sample as NSString).deletingPathExtension)
        let record = ProcessInfo.processInfo.environment["SEEDGEN_RECORD_GOLDEN"] == "1"
        if record {
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        for (name, data) in seed.files {
            let golden = directory.appendingPathComponent(name)
            if record {
                try data.write(to: golden)
                continue
            }
            let expected = try #require(
                FileManager.default.contents(atPath: golden.path),
                "no golden file \(golden.path): run with SEEDGEN_RECORD_GOLDEN=1 to record it")
            // Bytes, not strings: String equality treats canonically equivalent Unicode (é as one
            // code point or as e + accent) as equal, and decoding hides invalid UTF-8.
            #expect(data == expected, "\(sample)/\(name) differs from its golden file:\n\(text(data))")
        }
        let recorded = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(recorded == seed.files.map(\.name).sorted(), "\(sample): golden files \(recorded)")
    }

    @Test(arguments: sampleFiles)
    func sampleOutputPassesTheRealConsumers(sample: String) throws {
        guard requireTool("cloud-init"), requireTool("netplan") else { return }
        let seed = try renderSample(sample)
        let directory = try TemporaryDirectory(prefix: "render-golden")
        let cloudConfigs = try cloudConfigDocuments(of: seed.userData)
        #expect(!cloudConfigs.isEmpty)
        for (index, document) in cloudConfigs.enumerated() {
            let file = directory.path("cloud-config-\(index)")
            try document.write(to: file)
            let result = try ProcessRunner.run("cloud-init", ["schema", "--config-file", file.path])
            #expect(result.exitCode == 0, "\(sample): cloud-init schema: \(result.stdout)\(result.stderr)")
        }
        let loader = SpecLoader(options: .init(environment: [:]))
        let spec = try loader.load(TestPaths.samples.appendingPathComponent(sample).path)
        try checkNetworkConfig(seed.networkConfig, label: sample, macs: spec.network.interfaces.map(\.mac.text))
        let meta = try #require(try loadWithPyYAML(seed.metaData) as? [String: Any])
        #expect(meta["instance-id"] as? String == seed.instanceID)
        #expect(meta["local-hostname"] as? String == spec.hostname)
    }
}

/// The cloud-config documents inside user-data: the file itself, or for multipart MIME each
/// `text/cloud-config` part as cloud-init's own UserDataProcessor splits and decodes them.
func cloudConfigDocuments(of userData: Data) throws -> [Data] {
    guard text(userData).hasPrefix("Content-Type: multipart/") else { return [userData] }
    let script = """
        import json, sys
        from cloudinit import helpers, user_data
        message = user_data.UserDataProcessor(helpers.Paths({})).process(sys.stdin.buffer.read())
        print(json.dumps([part.get_payload(decode=True).decode("utf-8") for part in message.walk()
                          if part.get_content_type() == "text/cloud-config"]))
        """
    let result = try ProcessRunner.run(systemPython, ["-c", script], stdin: userData)
    try #require(result.exitCode == 0, "cloud-init's UserDataProcessor: \(result.stderr)")
    let documents = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String])
    return documents.map { Data($0.utf8) }
}
