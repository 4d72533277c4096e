import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// VMSpec values built directly, covering every field the renderer reads.
enum RenderSpecs {
    static func minimal(name: DNSName = "web01", vmid: VMID = 9001) -> VMSpec {
        var spec = VMSpec(sourceFile: "vm.yaml", name: name, vmid: vmid)
        spec.network.interfaces = [InterfaceSpec(index: 0, mac: "BC:24:11:12:34:56")]
        return spec
    }

    /// Every structured field set, two users, three NICs (static v4+v6, DHCP+SLAAC, DHCPv6 only).
    static func full(networkVersion: Int = 2) -> VMSpec {
        var spec = VMSpec(sourceFile: "vm.yaml", name: "web01.example.com", vmid: 9001, description: "Web frontend")
        spec.network.nameservers = ["1.1.1.1", "2606:4700:4700::1111"]
        spec.network.search = ["example.com", "corp.example.com"]
        var eth0 = InterfaceSpec(index: 0, mac: "BC:24:11:12:34:56")
        eth0.ipv4 = .static(address: "192.0.2.10", prefix: 24)
        eth0.gateway4 = "192.0.2.1"
        eth0.ipv6 = .static(address: "2001:db8::10", prefix: 64)
        eth0.gateway6 = "2001:db8::1"
        eth0.mtu = 1500
        var eth1 = InterfaceSpec(index: 1, mac: "BC:24:11:AB:CD:EF")
        eth1.ipv4 = .dhcp
        eth1.ipv6 = .slaac
        var eth2 = InterfaceSpec(index: 2, mac: "BC:24:11:00:00:02")
        eth2.ipv4 = .none
        eth2.ipv6 = .dhcp
        spec.network.interfaces = [eth0, eth1, eth2]

        var ops = UserSpec(name: "ops")
        ops.sshAuthorizedKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExample ops@laptop"]
        ops.passwordHash =
            "$6$saltsalt$7wQ1uYDBq7ZV2h5n0l3Wv0mZqQO7r3pTn6mXjvQ0bY1c8W2oH6bPq9kGyJ0u1a2b3c4d5e6f7g8h9i0jKlMnOp"
        ops.sudo = "ALL=(ALL) NOPASSWD:ALL"
        ops.groups = ["sudo", "adm"]
        ops.shell = "/bin/bash"
        var deploy = UserSpec(name: "deploy")
        deploy.sshAuthorizedKeys = [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployDeployDeployDeployDeployDeploy deploy@ci"
        ]
        spec.cloudInit.networkConfigVersion = networkVersion
        spec.cloudInit.users = [ops, deploy]
        spec.cloudInit.timezone = "Etc/UTC"
        spec.cloudInit.locale = "en_US.UTF-8"
        spec.cloudInit.packageUpdate = true
        spec.cloudInit.packages = ["qemu-guest-agent", "nginx"]
        var motd = WriteFileSpec(path: "/etc/motd", content: Data("hello\nworld\n".utf8))
        motd.permissions = "0644"
        motd.owner = "root:root"
        var binary = WriteFileSpec(path: "/usr/local/bin/x", content: Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0xFF, 0x10]))
        binary.binary = true
        binary.permissions = "0755"
        binary.deferred = true
        var appended = WriteFileSpec(path: "/etc/environment", content: Data("PROXY=none\n".utf8))
        appended.append = true
        spec.cloudInit.writeFiles = [motd, binary, appended]
        spec.cloudInit.bootcmd = [.shell("echo booting > /dev/console")]
        spec.cloudInit.runcmd = [
            .shell("systemctl enable --now qemu-guest-agent"), .argv(["touch", "/var/tmp/seeded"]),
        ]
        return spec
    }
}

/// Fails the test (never skips) when a consumer the tests rely on is missing.
func requireTool(_ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Bool {
    let installed = ProcessRunner.isInstalled(name)
    #expect(installed, "\(name) is not installed: run scripts/install-deps.sh as root", sourceLocation: sourceLocation)
    return installed
}

/// The Python that Debian's cloud-init runs on (PATH may hold another one without cloudinit).
let systemPython = "/usr/bin/python3"

/// Reads YAML with PyYAML's safe loader, the parser cloud-init itself uses, and returns it as
/// Foundation values (through JSON).
func loadWithPyYAML(_ data: Data, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Any {
    let script = """
        import json, sys, yaml
        print(json.dumps(yaml.safe_load(sys.stdin.buffer.read().decode("utf-8")), default=str))
        """
    let result = try ProcessRunner.run(systemPython, ["-c", script], stdin: data)
    try #require(result.exitCode == 0, "PyYAML failed: \(result.stderr)", sourceLocation: sourceLocation)
    return try JSONSerialization.jsonObject(with: result.stdoutData, options: [.fragmentsAllowed])
}

func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
