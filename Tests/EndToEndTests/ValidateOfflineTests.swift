import Foundation
import SeedgenTestSupport
import Testing

/// `seedgen validate` finds every error `seedgen build --offline` finds, without the network.
@Suite struct ValidateOfflineTests {
    /// A description with no room left for seedgen's marker is refused by `validate` as by `build`,
    /// positioned at the description (the room depends on the VM's name and vmid).
    @Test func validateFindsADescriptionThatLeavesNoRoomForTheMarker() throws {
        let directory = try TemporaryDirectory(prefix: "seedgen-validate-description")
        let text = String(repeating: "x", count: 8160)
        let file = try directory.write("web02.yaml", "name: web02\nvmid: 9002\ndescription: \(text)\n").path
        for arguments in [["validate", file], ["build", file, "-o", directory.path("out").path]] {
            let result = try seedgen(arguments)
            #expect(result.exitCode == 2, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains("web02.yaml:3:14: error: description:"), "\(arguments[0]): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("out").path))
    }

    @Test func validateReportsTheImageErrorsBuildOfflineWouldFind() throws {
        try requireTool("qemu-img")
        let images = try LoopbackImages()
        let directory = try TemporaryDirectory(prefix: "seedgen-validate-offline")
        let cache = directory.path("cache")
        let base = directory.path("base.qcow2")
        try runChecked("qemu-img", ["create", "-q", "-f", "qcow2", base.path, "1G"])
        try runChecked(
            "qemu-img",
            ["create", "-q", "-f", "qcow2", "-b", base.path, "-F", "qcow2", directory.path("overlay.qcow2").path])
        try runChecked("qemu-img", ["create", "-q", "-f", "qcow2", directory.path("big.qcow2").path, "40G"])
        try Data("secret".utf8).write(to: directory.path("unreadable.qcow2"))
        _ = chmod(directory.path("unreadable.qcow2").path, 0o000)
        // debian-12 (1 GiB virtual) in the cache, fetched over loopback beforehand.
        let fetch = try seedgen([
            "image", "fetch", "debian-12", "--cache", cache.path, "--catalog", images.catalog.path, "--progress",
            "none",
        ])
        try #require(fetch.exitCode == 0, "\(fetch.stderr)")

        func vm(_ name: String, _ vmid: Int, image: String, disk: String) throws -> String {
            try directory.write(
                "\(name).yaml", "name: \(name)\nvmid: \(vmid)\n\(image)\nhardware:\n  disk:\n    size: \(disk)\n"
            ).path
        }
        let overlay = try vm("overlay", 801, image: "image:\n  path: overlay.qcow2", disk: "8G")
        let small = try vm("small", 802, image: "image:\n  path: big.qcow2", disk: "8G")
        let unreadable = try vm("unreadable", 803, image: "image:\n  path: unreadable.qcow2", disk: "8G")
        let cachedSmall = try vm("cached", 804, image: "image: debian-12", disk: "512M")
        let fine = try vm("fine", 805, image: "image:\n  path: base.qcow2", disk: "8G")
        let notCached = try vm("later", 806, image: "image: broken-image", disk: "512M")
        let files = [overlay, small, unreadable, cachedSmall, fine, notCached]
        let before = try treeSnapshot(cache)

        let result = try seedgen(["validate", "--cache", cache.path, "--catalog", images.catalog.path] + files)
        #expect(result.exitCode == 2, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        func line(for file: String) -> String? { lines.first { $0.hasPrefix(file + ":") } }
        #expect(line(for: overlay)?.contains("backing file") == true, "\(result.stderr)")
        #expect(line(for: overlay)?.contains("image.path") == true)
        #expect(
            line(for: small)?.hasPrefix(
                "\(small):7:11: error: hardware.disk.size: disk size 8G is smaller than the image's virtual size 40G")
                == true, "\(result.stderr)")
        #expect(line(for: unreadable)?.contains("missing or unreadable") == true || getuid() == 0, "\(result.stderr)")
        #expect(
            line(for: cachedSmall)?.hasPrefix(
                "\(cachedSmall):6:11: error: hardware.disk.size: disk size 512M is smaller") == true, "\(result.stderr)"
        )
        #expect(
            line(for: fine) == nil && line(for: notCached) == nil,
            "only what needs no network is checked: \(result.stderr)")
        // In the order of the files, and the cache untouched.
        let order = lines.compactMap { line in files.firstIndex { line.hasPrefix($0 + ":") } }
        #expect(order == order.sorted(), "\(result.stderr)")
        #expect(try treeSnapshot(cache) == before)

        // build --offline finds the same problems (exit 2 for the disk sizes, before anything is built).
        let build = try seedgen([
            "build", "--offline", "--progress", "none", "-o", directory.path("out").path, "--cache", cache.path,
            "--catalog", images.catalog.path, small, cachedSmall,
        ])
        #expect(build.exitCode == 2)
        #expect(
            build.stderr.contains("\(small):7:11: error: hardware.disk.size")
                && build.stderr.contains("\(cachedSmall):6:11: error: hardware.disk.size"), "\(build.stderr)")

        // The JSON report carries the same diagnostics.
        let json = try seedgen(["validate", "--json", "--cache", cache.path, "--catalog", images.catalog.path, small])
        #expect(json.exitCode == 2)
        let object = try #require(
            try? JSONSerialization.jsonObject(with: json.stdoutData) as? [String: Any], "\(json.stdout)")
        let error = try #require(object["error"] as? [String: Any])
        #expect(
            error["file"] as? String == small && error["line"] as? Int == 7 && error["column"] as? Int == 11, "\(error)"
        )
    }
}
