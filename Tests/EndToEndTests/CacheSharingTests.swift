import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

/// Builds that share one image cache: many at once lose nothing, and a damaged index stops them.
@Suite struct CacheSharingTests {
    /// Eight `seedgen build` processes started together on one cache, four images between them
    /// (two builds per image): every build succeeds, each image is downloaded once, and afterwards
    /// `seedgen image verify` passes with every image in the index.
    @Test func eightParallelBuildsShareOneCacheAndLoseNothing() async throws {
        let images = try LoopbackImages()
        let directory = try TemporaryDirectory(prefix: "seedgen-e2e-shared-cache")
        let cache = directory.path("cache")
        // Four distinct images: the catalog names serve one file, so each build pins its own copy by URL.
        var files: [String] = []
        var digests: Set<String> = []
        for copy in 0..<4 {
            let name = "copy\(copy).qcow2"
            try runChecked(
                "qemu-img", ["create", "-q", "-f", "qcow2", images.directory.path("www/\(name)").path, "\(copy + 1)G"])
            let sha256 = Digest.sha256Hex(try Data(contentsOf: images.directory.path("www/\(name)")))
            digests.insert(sha256)
            for twin in 0..<2 {
                let vm = "vm\(copy)\(twin)"
                files.append(
                    try directory.write(
                        "\(vm).yaml",
                        """
                        name: \(vm)
                        vmid: \(500 + copy * 2 + twin)
                        image:
                          url: \(images.server.url(name, fault: "slow10").absoluteString)
                          sha256: \(sha256)
                        hardware:
                          disk: { size: 8G }

                        """
                    ).path)
            }
        }
        let environment = buildEnvironment()
        let results = try await withThrowingTaskGroup(of: (String, ProcessResult).self) { group in
            for file in files {
                group.addTask {
                    let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                    let output = directory.path("out-\(name)").path
                    return (
                        name,
                        try seedgen(
                            ["build", "--progress", "none", "-o", output, "--cache", cache.path, file],
                            environment: environment)
                    )
                }
            }
            return try await group.reduce(into: [(String, ProcessResult)]()) { $0.append($1) }
        }
        for (name, result) in results {
            #expect(result.exitCode == 0, "\(name): \(result.stderr)")
        }
        let downloads = try images.server.requests().filter { $0.path.hasSuffix(".qcow2") && $0.range == nil }
        #expect(downloads.count == 4, "one download per image: \(downloads.map(\.path))")
        let verify = try seedgen(["image", "verify", "--cache", cache.path, "--json"])
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")
        let findings = try #require(
            try? JSONSerialization.jsonObject(with: verify.stdoutData) as? [[String: Any]], "\(verify.stdout)")
        let verified = Set(findings.compactMap { ($0["record"] as? [String: Any])?["sha256"] as? String })
        #expect(verified == digests, "every image in the index once verified")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("sha256").path)
        #expect(Set(blobs) == digests)
    }

    /// A build that would add an image to a cache with a damaged index stops with exit 1 before
    /// anything is downloaded or written, naming the file; one that only uses a local image runs.
    @Test func aDamagedIndexStopsABuildThatNeedsTheCache() throws {
        let images = try LoopbackImages()
        let vms = try LocalVMDirectory(prefix: "seedgen-e2e-damaged-index")
        try FileManager.default.createDirectory(at: vms.cache, withIntermediateDirectories: true)
        let index = vms.cache.appendingPathComponent("index.json")
        try Data("{\"version\" : 1, \"images\" : [ {\"sha".utf8).write(to: index)
        let catalogVM = try vms.directory.write(
            "catalog-vm.yaml", "name: catalog-vm\nvmid: 9300\nimage: debian-12\nhardware: { disk: { size: 8G } }\n"
        ).path
        let before = try images.requestCount()
        let result = try seedgen([
            "build", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, "--catalog",
            images.catalog.path, catalogVM,
        ])
        #expect(result.exitCode == 1, "\(result.stderr)")
        #expect(result.stderr.contains(index.path) && result.stderr.contains("damaged"), "\(result.stderr)")
        #expect(try images.requestCount() == before, "a download started")
        #expect(!FileManager.default.fileExists(atPath: vms.output.path), "the output directory was created")
        #expect(try Data(contentsOf: index) == Data("{\"version\" : 1, \"images\" : [ {\"sha".utf8))

        let local = try vms.writeVM("local-vm", vmid: 9301)
        let localBuild = try seedgen([
            "build", "--progress", "none", "-o", vms.output.path, "--cache", vms.cache.path, local,
        ])
        #expect(localBuild.exitCode == 0, "a local image needs no cache: \(localBuild.stderr)")
    }
}
