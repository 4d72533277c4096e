// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "seedgen",
    // No `platforms:` entry: SwiftPM lists only Apple platforms there, and seedgen builds on Linux
    // only (libisofs, libcrypt and xattr come from Debian packages; see the README's Install).
    products: [
        .executable(name: "seedgen", targets: ["seedgen"]),
        .library(
            name: "SeedgenKit",
            targets: [
                "SeedgenCore", "SeedgenYAML", "SeedgenHTTP", "SeedgenISO", "SeedgenNoCloud", "SeedgenImage",
                "SeedgenSpec", "SeedgenRender", "SeedgenBundle", "SeedgenBuild", "SeedgenApply",
            ]),
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
        // What every stage shares: diagnostics, the one error type, sizes, digests, atomic files,
        // JSON output, shell quoting, name suggestions, the terminal. Knows no stage.
        .target(name: "SeedgenCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The one YAML layer: reading with positions, PyYAML's (cloud-init's) scalar typing and
        // tags, aliases and merge keys, writing. It uses libyaml through Yams' CYaml module.
        .target(name: "SeedgenYAML", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Every network call seedgen makes: HTTP(S) on async-http-client (SwiftNIO + BoringSSL), with
        // proxies from the environment, a CA file, certificate pinning and streaming bodies. Knows
        // nothing of images or cloud-init, so the image downloader and the Proxmox API client share it.
        .target(
            name: "SeedgenHTTP",
            dependencies: [
                "SeedgenCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // ISO 9660 through libisofs: files in, image out; image in, files out. Knows no cloud-init,
        // vm.yaml or Proxmox.
        .target(
            name: "SeedgenISO",
            dependencies: ["SeedgenCore", "CLibisofs", .product(name: "Crypto", package: "swift-crypto")]),
        // cloud-init's NoCloud seed: file names, meta-data, how the seed reaches the VM (iso, pve,
        // snippets), Proxmox's size limits for each, `seedgen iso` packing and `inspect`'s checks.
        .target(name: "SeedgenNoCloud", dependencies: ["SeedgenCore", "SeedgenISO", "SeedgenYAML"]),
        // Cloud images: the catalog, sources and "latest" pages, fetch, verification (checksums,
        // signed lists), the cache and its index, the lockfile. Knows no cloud-init and no vm.yaml.
        .target(
            name: "SeedgenImage",
            dependencies: [
                "SeedgenCore", "SeedgenHTTP", "SeedgenYAML", "CXattr",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // vm.yaml (and Ansible variables) → `VMSpec`, every value checked once, with positions.
        // Knows no rendering and no bundle; `image:` is decoded into the image stage's `ImageSpec`.
        .target(
            name: "SeedgenSpec",
            dependencies: [
                "SeedgenCore", "SeedgenYAML", "SeedgenNoCloud", "SeedgenImage", "CCrypt",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // VMSpec → the cloud-init files (user-data, meta-data, network-config) from Mustache templates.
        .target(
            name: "SeedgenRender",
            dependencies: [
                "SeedgenCore", "SeedgenYAML", "SeedgenSpec", "SeedgenNoCloud",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            plugins: ["TemplateEmbedder"]
        ),
        // VMSpec → the Proxmox plan: `qm` steps, deploy.sh and plan.json. Knows no rendering.
        .target(
            name: "SeedgenBundle", dependencies: ["SeedgenCore", "SeedgenSpec", "SeedgenNoCloud"],
            plugins: ["TemplateEmbedder"]),
        // `seedgen build`'s orchestration: load, render, pack, fetch, plan, write the artifact set.
        .target(
            name: "SeedgenBuild",
            dependencies: [
                "SeedgenCore", "SeedgenSpec", "SeedgenRender", "SeedgenNoCloud", "SeedgenISO", "SeedgenImage",
                "SeedgenBundle",
            ]),
        // `seedgen apply`: the bundle plan as Proxmox API calls, privileges, preflight and executor.
        .target(
            name: "SeedgenApply",
            dependencies: [
                "SeedgenCore", "SeedgenHTTP", "SeedgenSpec", "SeedgenImage", "SeedgenBundle", "SeedgenBuild",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Build-time: templates/*.mustache (into SeedgenRender) and templates/*.bash (into
        // SeedgenBundle) → generated Swift files, so the binary stays relocatable.
        .executableTarget(name: "TemplateEmbedderTool"),
        .plugin(
            name: "TemplateEmbedder",
            capability: .buildTool(),
            dependencies: ["TemplateEmbedderTool"]
        ),
        // The command-line layer: one file per subcommand and its output, testable in-process.
        .target(
            name: "SeedgenCommands",
            dependencies: [
                "SeedgenCore", "SeedgenSpec", "SeedgenRender", "SeedgenNoCloud", "SeedgenISO", "SeedgenImage",
                "SeedgenBundle", "SeedgenBuild", "SeedgenApply",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The executable: hands the process to SeedgenCommands.
        .executableTarget(name: "seedgen", dependencies: ["SeedgenCommands"]),
        // Benchmarks against the peer tools (scripts/bench.sh runs them all).
        .executableTarget(
            name: "seedgen-bench",
            dependencies: [
                "SeedgenCore", "SeedgenSpec", "SeedgenNoCloud", "SeedgenISO", "SeedgenImage", "SeedgenBuild",
                "SeedgenApply",
                // `upload` and `apply`: the HTTP client, and the loopback servers and fake Proxmox API of the tests.
                "SeedgenHTTP", "SeedgenTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "SeedgenTestSupport",
            dependencies: [
                "SeedgenCore", "SeedgenHTTP", "SeedgenApply",
                // The fake Proxmox API's HTTPS front end.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/SeedgenTestSupport"
        ),
        .testTarget(name: "YAMLTests", dependencies: ["SeedgenYAML", "SeedgenTestSupport"]),
        .testTarget(
            name: "SpecTests",
            dependencies: ["SeedgenCore", "SeedgenSpec", "SeedgenImage", "SeedgenBundle", "SeedgenTestSupport"]),
        // Targets whose tests run the built `seedgen` binary depend on it, so SwiftPM builds it
        // before they run and they never test a stale binary.
        .testTarget(
            name: "ISOTests",
            dependencies: ["SeedgenCore", "SeedgenISO", "SeedgenNoCloud", "SeedgenTestSupport", "seedgen"]),
        .testTarget(
            name: "RenderTests",
            dependencies: ["SeedgenCore", "SeedgenSpec", "SeedgenRender", "SeedgenYAML", "SeedgenTestSupport"]),
        .testTarget(
            name: "BundleTests",
            dependencies: [
                "SeedgenCore", "SeedgenSpec", "SeedgenNoCloud", "SeedgenImage", "SeedgenBundle", "SeedgenApply",
                "SeedgenTestSupport",
            ]),
        .testTarget(
            name: "ImageTests",
            dependencies: ["SeedgenCore", "SeedgenImage", "SeedgenSpec", "SeedgenTestSupport", "seedgen", "CXattr"]),
        // The transport against loopback HTTP, HTTPS (a certificate made per test), proxy servers.
        .testTarget(
            name: "HTTPTests",
            dependencies: [
                "SeedgenCore", "SeedgenHTTP", "SeedgenTestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The commands in-process: `ISOQuickStart` held to the argument parser it stands in for.
        .testTarget(
            name: "CommandTests",
            dependencies: [
                "SeedgenCommands", "SeedgenNoCloud", "SeedgenCore", "SeedgenTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Runs the built `seedgen` binary on the samples, a fleet and faults.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SeedgenCore", "SeedgenImage", "SeedgenApply", "SeedgenTestSupport", "seedgen"]),
    ],
    swiftLanguageModes: [.v6]
)
