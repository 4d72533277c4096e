// swift-tools-version: 6.0
import PackageDescription

/// Importing FoundationNetworking makes the compiler ask the linker for libcurl, and a static build
/// then loads libcurl and its 40 libraries at every start (about 10 ms of 20). CCurlLoader provides
/// the libcurl functions URLSession calls and loads libcurl itself on the first download, so the
/// modules that import FoundationNetworking, and the executables, do not ask for it.
let withoutLibcurlAtStartup: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-autolink-library", "-Xfrontend", "curl"], .when(platforms: [.linux]))
]

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
        // libcurl loaded on first use rather than at start-up (Sources/CCurlLoader says why);
        // needs Debian's libcurl4-openssl-dev to build, libcurl4 to download.
        .target(name: "CCurlLoader", linkerSettings: [.linkedLibrary("dl")]),
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
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: withoutLibcurlAtStartup,
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
                .target(name: "CCurlLoader", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // With --static-swift-stdlib, URLSession is linked in statically and its libcurl calls
            // are served by CCurlLoader, which loads libcurl on the first download.
            swiftSettings: withoutLibcurlAtStartup
        ),
        // Benchmarks against the peer tools (scripts/bench.sh runs them all).
        .executableTarget(
            name: "seedgen-bench",
            dependencies: [
                "SeedgenKit",
                .target(name: "CCurlLoader", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: withoutLibcurlAtStartup
        ),
        // Tests only: drives a transfer through CCurlLoader's libcurl functions the way URLSession does.
        .target(name: "CurlProbe", dependencies: ["CCurlLoader"], path: "Tests/CurlProbe"),
        .target(
            name: "SeedgenTestSupport",
            dependencies: ["SeedgenKit"],
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
            dependencies: [
                "SeedgenKit", "SeedgenTestSupport", "seedgen", .target(name: "CCurlLoader", condition: .when(platforms: [.linux])),
                .target(name: "CurlProbe", condition: .when(platforms: [.linux])),
            ]),
        // Runs the built `seedgen` binary on the samples, a fleet and faults.
        .testTarget(name: "EndToEndTests", dependencies: ["SeedgenKit", "SeedgenTestSupport", "seedgen"]),
    ],
    swiftLanguageModes: [.v6]
)
