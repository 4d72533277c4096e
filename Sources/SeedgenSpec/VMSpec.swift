import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenNoCloud
import SeedgenYAML

/// One VM as vm.yaml (SPEC §2) describes it, after `extends` merging, defaults and validation.
/// Every later stage (render, ISO, image, bundle) reads this model and nothing else.
public struct VMSpec: Sendable, Hashable {
    /// The file the VM was read from, as the user named it (used in messages).
    public var sourceFile: String
    /// DNS name; `hostname` is its first label, `fqdn` the whole name when it has a dot.
    public var name: DNSName
    public var vmid: VMID
    /// The node deploy.sh must run on; nil: any node.
    public var node: DNSName?
    public var description: String?
    public var tags: [ProxmoxTag]
    public var pool: PoolName?
    /// nil: the boot disk is a new empty disk of `hardware.disk.size`.
    public var image: ImageSpec?
    public var hardware: HardwareSpec
    public var storage: StorageSpec
    public var network: NetworkSpec
    public var cloudInit: CloudInitSpec
    /// Where each key was written, by key path (`vmid`, `network.interfaces[0].mac`,
    /// `hardware.disk.size`), so checks made after parsing (fleet duplicates, image size) can
    /// point at the user's line.
    public var locations: [String: SourceLocation]

    public init(
        sourceFile: String, name: DNSName, vmid: VMID, node: DNSName? = nil, description: String? = nil,
        tags: [ProxmoxTag] = [], pool: PoolName? = nil, image: ImageSpec? = nil,
        hardware: HardwareSpec = HardwareSpec(),
        storage: StorageSpec = StorageSpec(), network: NetworkSpec = NetworkSpec(),
        cloudInit: CloudInitSpec = CloudInitSpec(),
        locations: [String: SourceLocation] = [:]
    ) {
        self.sourceFile = sourceFile
        self.name = name
        self.vmid = vmid
        self.node = node
        self.description = description
        self.tags = tags
        self.pool = pool
        self.image = image
        self.hardware = hardware
        self.storage = storage
        self.network = network
        self.cloudInit = cloudInit
        self.locations = locations
    }

    /// The guest's host name: `cloud_init.hostname`, else the first label of `name`.
    public var hostname: String {
        cloudInit.hostname ?? name.firstLabel
    }

    /// The fully qualified name when `name` has a dot, else `hostname.<first search domain>`, else nil.
    public var fqdn: String? {
        if name.text.contains(".") { return name.text }
        if let domain = network.search.first { return "\(hostname).\(domain)" }
        return nil
    }

    /// The location of `keyPath` or, failing that, of the nearest enclosing key that has one.
    public func location(of keyPath: String) -> SourceLocation? {
        var path = keyPath
        while true {
            if let location = locations[path] { return location }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = String(path[..<cut])
        }
        return locations[""]
    }
}

public enum Firmware: String, Sendable, Hashable, CaseIterable {
    case seabios
    case ovmf
}

public struct HardwareSpec: Sendable, Hashable {
    public var cores: Int = 2
    public var sockets: Int = 1
    public var memory: ByteSize = .gibibytes(2)
    /// nil: Proxmox's default (balloon = memory); `.mebibytes(0)` disables ballooning.
    public var balloon: ByteSize?
    public var cpu: String = "x86-64-v2-AES"
    public var machine: String = "q35"
    public var bios: Firmware = .seabios
    public var agent: Bool = true
    public var onboot: Bool = false
    public var disk = BootDiskSpec()
    public var extraDisks: [ExtraDiskSpec] = []

    public init() {}
}

public struct BootDiskSpec: Sendable, Hashable {
    /// Final size of the boot disk; must be at least the image's virtual size.
    public var size: ByteSize = .gibibytes(20)
    public var storage: StorageID = .localLVM
    public var discard: Bool = true
    public var ssd: Bool = true
    public var iothread: Bool = true

    public init() {}
}

public struct ExtraDiskSpec: Sendable, Hashable {
    public var size: ByteSize
    public var storage: StorageID
    public var discard: Bool = true
    public var ssd: Bool = true
    public var iothread: Bool = true

    public init(size: ByteSize, storage: StorageID) {
        self.size = size
        self.storage = storage
    }
}

public struct StorageSpec: Sendable, Hashable {
    /// Dir-type storage with `iso` content: receives the seed ISO.
    public var iso: StorageID = .local
    /// Where the image file is placed before import (`import` content on PVE 8.3+).
    public var `import`: StorageID = .local
    /// Only for `cloud_init.mode: snippets`.
    public var snippets: StorageID = .local

    public init() {}
}

public struct NetworkSpec: Sendable, Hashable {
    public var nameservers: [String] = []
    public var search: [String] = []
    /// One entry per NIC, net0, net1, … in order. Never empty after parsing: a file that names no
    /// interface gets one on `vmbr0` with DHCP, because an unconfigured NIC is a silent trap.
    public var interfaces: [InterfaceSpec] = []

    public init() {}
}

public enum IPv4Config: Sendable, Hashable {
    case none
    case dhcp
    /// Address with prefix, e.g. `192.0.2.10/24`.
    case `static`(address: String, prefix: Int)
}

public enum IPv6Config: Sendable, Hashable {
    case none
    case dhcp
    case slaac
    case `static`(address: String, prefix: Int)
}

public struct InterfaceSpec: Sendable, Hashable {
    /// Position in `network.interfaces`: NIC `net<index>`, guest name `eth<index>`.
    public var index: Int
    public var bridge: BridgeName = .vmbr0
    public var model: NICModel = .virtio
    /// Upper-case colon form (`BC:24:11:12:34:56`): the same string on the VM's NIC and in network-config.
    public var mac: MACAddress
    /// True when seedgen derived the MAC from vmid + index (none was given).
    public var macDerived: Bool = false
    public var vlan: Int?
    public var firewall: Bool = true
    /// 1..65520; 1 means the bridge's MTU (Proxmox passes it to the virtio driver).
    public var mtu: Int?
    public var ipv4: IPv4Config = .dhcp
    public var gateway4: String?
    public var ipv6: IPv6Config = .none
    public var gateway6: String?

    public init(index: Int, mac: MACAddress) {
        self.index = index
        self.mac = mac
    }

    public var deviceName: String { "eth\(index)" }
    public var proxmoxKey: String { "net\(index)" }
}

public struct CloudInitSpec: Sendable, Hashable {
    public var mode: CloudInitMode = .iso
    public var networkConfigVersion: Int = 2
    /// nil: the first label of `name`.
    public var hostname: String?
    public var users: [UserSpec] = []
    public var keepDefaultUser: Bool = true
    public var sshPwauth: Bool = false
    public var timezone: String?
    public var locale: String?
    public var packageUpdate: Bool?
    public var packageUpgrade: Bool = false
    public var packages: [String] = []
    public var writeFiles: [WriteFileSpec] = []
    public var bootcmd: [CommandSpec] = []
    public var runcmd: [CommandSpec] = []
    /// Raw cloud-config keys deep-merged last.
    public var extra: YAMLNode?
    /// Extra MIME parts; any part turns user-data into multipart MIME.
    public var parts: [MIMEPartSpec] = []
    /// Contents of `vendor_data`, when given.
    public var vendorData: Data?
    public var templates = TemplateOverrides()

    public init() {}
}

public struct UserSpec: Sendable, Hashable {
    public var name: String
    /// Keys from `ssh_authorized_keys` and `ssh_authorized_keys_file`, validated, in that order.
    public var sshAuthorizedKeys: [String] = []
    /// A crypt hash (`$6$`, `$5$`, `$y$`): given as `password_hash` or made at build time from
    /// `password_file` / `password_env`. The plaintext is never stored.
    public var passwordHash: String?
    public var sudo: String?
    public var groups: [String] = []
    public var shell: String?

    public init(name: String) { self.name = name }
}

public struct WriteFileSpec: Sendable, Hashable {
    public var path: String
    public var content: Data
    /// True when the content came from `source:` and is not valid UTF-8 text: emitted as base64.
    public var binary: Bool = false
    public var permissions: String?
    public var owner: String?
    public var append: Bool = false
    public var deferred: Bool = false

    public init(path: String, content: Data) {
        self.path = path
        self.content = content
    }
}

/// A `bootcmd`/`runcmd` entry: a shell string, or an argv list run without a shell.
public enum CommandSpec: Sendable, Hashable {
    case shell(String)
    case argv([String])
}

public struct MIMEPartSpec: Sendable, Hashable {
    /// e.g. `text/x-shellscript`, `text/cloud-config`, `text/cloud-boothook`.
    public var type: String
    public var filename: String
    public var content: Data

    public init(type: String, filename: String, content: Data) {
        self.type = type
        self.filename = filename
        self.content = content
    }
}

/// The user's own templates, read at parse time; nil: the built-in one.
public struct TemplateOverrides: Sendable, Hashable {
    public var userData: TemplateSource?
    public var networkConfig: TemplateSource?
    public var metaData: TemplateSource?

    public init() {}
}

public struct TemplateSource: Sendable, Hashable {
    /// The path as written (for messages).
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
