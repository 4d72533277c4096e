import Foundation
import SeedgenCore
import SeedgenRender
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Specs whose rendered files are checked by cloud-init, netplan and PyYAML.
let consumerSpecs: [(label: String, spec: VMSpec)] = {
    var keepNoDefault = RenderSpecs.full(networkVersion: 2)
    keepNoDefault.cloudInit.keepDefaultUser = false
    var noUsersAtAll = RenderSpecs.minimal()
    noUsersAtAll.cloudInit.keepDefaultUser = false
    var dhcpOnly = RenderSpecs.minimal()
    dhcpOnly.network.nameservers = ["9.9.9.9"]
    var unconfigured = RenderSpecs.minimal()
    unconfigured.network.interfaces[0].ipv4 = .none
    return [
        ("minimal", RenderSpecs.minimal()),
        ("full-v2", RenderSpecs.full(networkVersion: 2)),
        ("full-v1", RenderSpecs.full(networkVersion: 1)),
        ("no-default-user", keepNoDefault),
        ("no-users-at-all", noUsersAtAll),
        ("dhcp-with-nameservers", dhcpOnly),
        (
            "dhcp-with-nameservers-v1",
            {
                var spec = dhcpOnly; spec.cloudInit.networkConfigVersion = 1; return spec
            }()
        ),
        ("unconfigured-nic", unconfigured),
        ("hostile-v2", specWithEverywhereSafeForConsumers(networkVersion: 2)),
    ]
}()

/// Hostile free text only where cloud-init's schema accepts any string (network values must be
/// addresses for the renderers to run at all).
func specWithEverywhereSafeForConsumers(networkVersion: Int) -> VMSpec {
    var spec = RenderSpecs.full(networkVersion: networkVersion)
    let value = "it's \"x\" $(id) `id` : # yes 0755\nnext line ünï ☃"
    spec.cloudInit.users[0].sudo = value
    spec.cloudInit.users[0].groups = ["yes", "0755"]
    spec.cloudInit.packages = ["yes", "on", "0755"]
    spec.cloudInit.writeFiles[0].content = Data(value.utf8)
    spec.cloudInit.runcmd = [.shell(value), .argv(["echo", value])]
    spec.cloudInit.bootcmd = [.shell("no")]
    return spec
}

@Suite struct ConsumerTests {
    @Test(arguments: consumerSpecs.map(\.label))
    func cloudInitSchemaAcceptsUserData(label: String) throws {
        guard requireTool("cloud-init") else { return }
        let spec = try #require(consumerSpecs.first { $0.label == label }?.spec)
        let seed = try SeedRenderer.render(spec)
        let directory = try TemporaryDirectory(prefix: "render-schema")
        let file = directory.path("user-data")
        try seed.userData.write(to: file)
        let result = try ProcessRunner.run("cloud-init", ["schema", "--config-file", file.path])
        #expect(
            result.exitCode == 0,
            "cloud-init schema rejected \(label):\n\(result.stdout)\(result.stderr)\n\(text(seed.userData))")
        #expect(result.stdout.contains("Valid cloud-config"), "\(result.stdout)")
    }

    @Test(arguments: consumerSpecs.map(\.label))
    func networkConfigRendersWithEveryRenderer(label: String) throws {
        guard requireTool("cloud-init"), requireTool("netplan") else { return }
        let spec = try #require(consumerSpecs.first { $0.label == label }?.spec)
        let seed = try SeedRenderer.render(spec)
        try checkNetworkConfig(seed.networkConfig, label: label, macs: spec.network.interfaces.map(\.mac.text))
    }

    @Test func everyNetworkSettingReachesTheRenderedOutput() throws {
        guard requireTool("cloud-init"), requireTool("netplan") else { return }
        for version in [1, 2] {
            let seed = try SeedRenderer.render(RenderSpecs.full(networkVersion: version))
            let directory = try TemporaryDirectory(prefix: "render-net-detail")
            let input = directory.path("network-config")
            try seed.networkConfig.write(to: input)
            let eni = try convert(input, to: "eni", in: directory.path("eni"))
            let interfaces = try String(
                contentsOf: directory.path("eni/etc/network/interfaces.d/50-cloud-init"), encoding: .utf8)
            #expect(eni.exitCode == 0)
            #expect(interfaces.contains("address 192.0.2.10/24"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("gateway 192.0.2.1"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("gateway 2001:db8::1"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("iface eth1 inet dhcp"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("mtu 1500"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("dns-nameservers 1.1.1.1 2606:4700:4700::1111"), "v\(version): \(interfaces)")
            #expect(interfaces.contains("dns-search example.com corp.example.com"), "v\(version): \(interfaces)")
            #expect(!interfaces.contains("route add"), "default gateways must not become net-tools routes")
            let udev = try String(
                contentsOf: directory.path("eni/etc/udev/rules.d/70-persistent-net.rules"), encoding: .utf8)
            #expect(udev.contains("ATTR{address}==\"bc:24:11:12:34:56\", NAME=\"eth0\""), "\(udev)")
            #expect(udev.contains("ATTR{address}==\"bc:24:11:ab:cd:ef\", NAME=\"eth1\""), "\(udev)")
            #expect(udev.contains("ATTR{address}==\"bc:24:11:00:00:02\", NAME=\"eth2\""), "\(udev)")
        }
    }
}

/// `cloud-init devel net-convert` to netplan, eni and networkd, then `netplan generate` on the
/// netplan output; every NIC must come out matched by its MAC and named eth<n>.
func checkNetworkConfig(
    _ data: Data, label: String, macs: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
    let directory = try TemporaryDirectory(prefix: "render-net")
    let input = directory.path("network-config")
    try data.write(to: input)
    for renderer in ["netplan", "eni", "networkd"] {
        let output = directory.path(renderer)
        let result = try convert(input, to: renderer, in: output)
        #expect(
            result.exitCode == 0, "net-convert -O \(renderer) failed for \(label): \(result.stderr)\n\(text(data))",
            sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Traceback"), "\(result.stderr)", sourceLocation: sourceLocation)
    }
    let netplanFile = directory.path("netplan/etc/netplan/50-cloud-init.yaml")
    chmod(netplanFile.path, 0o600)
    let generate = try ProcessRunner.run("netplan", ["generate", "--root-dir", directory.path("netplan").path])
    #expect(
        generate.exitCode == 0, "netplan generate failed for \(label): \(generate.stderr)",
        sourceLocation: sourceLocation)
    let netplan = try String(contentsOf: netplanFile, encoding: .utf8)
    for (index, mac) in macs.enumerated() {
        #expect(
            netplan.contains("macaddress: \(mac.lowercased())"), "\(label): eth\(index) not matched by MAC",
            sourceLocation: sourceLocation)
        #expect(
            netplan.contains("set-name: eth\(index)"), "\(label): eth\(index) not named", sourceLocation: sourceLocation
        )
    }
    let generated = try FileManager.default.contentsOfDirectory(
        atPath: directory.path("netplan/run/systemd/network").path)
    #expect(
        generated.contains { $0.hasSuffix(".network") }, "netplan generated no networkd units: \(generated)",
        sourceLocation: sourceLocation)
}

@discardableResult
func convert(_ input: URL, to renderer: String, in output: URL) throws -> ProcessResult {
    try ProcessRunner.run(
        "cloud-init",
        ["devel", "net-convert", "-p", input.path, "-k", "yaml", "-d", output.path, "-D", "debian", "-O", renderer])
}
