// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "seedgen",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "seedgen", targets: ["seedgen"]),
        .library(name: "SeedgenKit", targets: ["SeedgenKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
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
        // All of seedgen's logic; folders follow the pipeline: Spec → Render → ISO → Image → Bundle → Artifacts.
        .target(
            name: "SeedgenKit",
            dependencies: [
                "CLibisofs",
                "CCrypt",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            plugins: ["RenderTemplateEmbedder"]
        ),
        // Build-time: templates/*.mustache → a generated Swift file inside SeedgenKit (relocatable binary).
        .executableTarget(name: "RenderTemplateEmbedderTool"),
        .plugin(
            name: "RenderTemplateEmbedder",
            capability: .buildTool(),
            dependencies: ["RenderTemplateEmbedderTool"]
        ),
        // The command-line layer: one file per subcommand, no logic of its own.
        .executableTarget(
            name: "seedgen",
            dependencies: [
                "SeedgenKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // With --static-swift-stdlib, FoundationNetworking is linked statically but does not
            // name libcurl itself (Debian libcurl4-openssl-dev provides it to link against).
            linkerSettings: [.linkedLibrary("curl", .when(platforms: [.linux]))]
        ),
        // Benchmarks against the peer tools (scripts/bench.sh runs them all).
        .executableTarget(
            name: "seedgen-bench",
            dependencies: [
                "SeedgenKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: [.linkedLibrary("curl", .when(platforms: [.linux]))]
        ),
        .target(
            name: "SeedgenTestSupport",
            dependencies: ["SeedgenKit"],
            path: "Tests/SeedgenTestSupport"
        ),
        .testTarget(name: "SpecTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        .testTarget(name: "ISOTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        .testTarget(
            name: "RenderTests",
            dependencies: ["SeedgenKit", "SeedgenTestSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "BundleTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        .testTarget(name: "ImageTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
        // Runs the built `seedgen` binary (swift build first) on the samples, a fleet and faults.
        .testTarget(name: "EndToEndTests", dependencies: ["SeedgenKit", "SeedgenTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
