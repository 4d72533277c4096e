// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "seedgen",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "seedgen", targets: ["seedgen"]),
        .library(name: "SeedgenKit", targets: ["SeedgenKit"]),
        .library(name: "SeedgenHTTP", targets: ["SeedgenHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libisofs (Debian libisofs-dev, pulled in by libisoburn-dev): ISO 9660 writing in-process.
        .systemLibrary(
            name: "CLibisofs",
            pkgConfig: "libisofs-1",
            providers: [.apt(["libisoburn-dev"])]
        ),
        // libcrypt (Debian libcrypt-dev): crypt_r for SHA-512 password hashes.
        .systemLibrary(
            name: "CCrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        // Extended attributes (glibc's sys/xattr.h): a `.part` download carries the server's validator.
        .systemLibrary(name: "CXattr"),
        // Every network call seedgen makes: HTTP(S) on async-http-client (SwiftNIO + BoringSSL), with
        // proxies from the environment, a CA file, certificate pinning and streaming bodies. Knows
        // nothing of images or cloud-init, so the image downloader and the Proxmox API client share it.
        .target(
            name: "SeedgenHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The one YAML layer: reading with positions, PyYAML's (cloud-init's) scalar typing and
        // tags, aliases and merge keys, writing. It uses libyaml through Yams' CYaml module.
        .target(name: "SeedgenYAML", dependencies: [.product(name: "Yams", package: "Yams")]),
        // All of seedgen's logic; folders follow the pipeline: Spec → Render → ISO → Image → Bundle → Artifacts.
        .target(
            name: "SeedgenKit",
            dependencies: [
                "SeedgenYAML",
                "CLibisofs",
                "CCrypt",
                "CXattr",
                "SeedgenHTTP",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["TemplateEmbedder"]
        ),
        // Build-time: templates/*.mustache and templates/*.bash → generated Swift files inside
        // SeedgenKit (the binary stays relocatable).
        .executableTarget(name: "TemplateEmbedderTool"),
        .plugin(
            name: "TemplateEmbedder",
            capability: .buildTool(),
            dependencies: ["TemplateEmbedderTool"]
        ),
        // The command-line layer: one file per subcommand, no logic of its own.
        .executableTarget(
            name: "seedgen",
            dependencies: [
                "SeedgenKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks against the peer tools (scripts/bench.sh runs them all).
        .executableTarget(
            name: "seedgen-bench",
            dependencies: [
                "SeedgenKit",
                // `upload` and `apply`: the HTTP client, and the loopback servers and fake Proxmox API of the tests.
                "SeedgenHTTP", "SeedgenTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "SeedgenTestSupport",
            dependencies: [
                "SeedgenKit",
                // The fake Proxmox API's HTTPS front end.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/SeedgenTestSupport"
        ),
        .testTarget(
            name: "YAMLTests", dependencies: ["SeedgenYAML", "SeedgenKit", "SeedgenTestSupport"]),
        .testTarget(name: "SpecTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        // Targets whose tests run the built `seedgen` binary depend on it, so SwiftPM builds it
        // before they run and they never test a stale binary.
        .testTarget(name: "ISOTests", dependencies: ["SeedgenKit", "SeedgenTestSupport", "seedgen"]),
        .testTarget(
            name: "RenderTests",
            dependencies: ["SeedgenKit", "SeedgenYAML", "SeedgenTestSupport"]),
        .testTarget(name: "BundleTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        .testTarget(
            name: "ImageTests",
            dependencies: ["SeedgenKit", "SeedgenTestSupport", "seedgen", "CXattr"]),
        // The transport against loopback HTTP, HTTPS (a certificate made per test), proxy servers.
        .testTarget(
            name: "HTTPTests",
            dependencies: ["SeedgenHTTP", "SeedgenTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        // Runs the built `seedgen` binary on the samples, a fleet and faults.
        .testTarget(name: "EndToEndTests", dependencies: ["SeedgenKit", "SeedgenTestSupport", "seedgen"]),
    ],
    swiftLanguageModes: [.v6]
)
