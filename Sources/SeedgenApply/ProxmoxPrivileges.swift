import Crypto
import Foundation
import SeedgenBundle

/// Privileges an API call needs on one ACL path, and why.
public struct ProxmoxPrivilegeNeed: Sendable, Hashable, Codable {
    public var path: String
    public var privileges: [String]
    /// What seedgen does that needs them (`upload the seed ISO`, `create VM 9001`, …).
    public var reasons: [String]
}

/// What `seedgen apply` needs to be allowed, derived from the very calls it will make, by the
/// rules of Proxmox's own permission checks (qemu-server `API2/Qemu.pm`: `check_vm_modify_config_perm`,
/// `check_storage_access`, `check_bridge_access`; pve-storage `API2/Storage/Status.pm` and
/// `Storage.pm`'s `check_volume_access`; pve-guest-common `check_vnet_access`, `assert_tag_permissions`).
public enum ProxmoxPrivileges {
    /// The option groups of `check_vm_modify_config_perm`, for the options seedgen's plans set.
    private static let optionPrivilege: [String: String] = [
        "cores": "VM.Config.CPU", "cpu": "VM.Config.CPU", "sockets": "VM.Config.CPU", "numa": "VM.Config.CPU",
        "memory": "VM.Config.Memory", "balloon": "VM.Config.Memory",
        "machine": "VM.Config.HWType", "scsihw": "VM.Config.HWType", "vga": "VM.Config.HWType",
        "agent": "VM.Config.Options", "bios": "VM.Config.Options", "description": "VM.Config.Options",
        "name": "VM.Config.Options", "onboot": "VM.Config.Options", "ostype": "VM.Config.Options",
        // Tags: assert_tag_permissions checks VM.Config.Options on /vms/<vmid> (and Sys.Modify on /
        // only for tags the datacenter's user-tag-access does not allow; its default allows all).
        "tags": "VM.Config.Options",
        "boot": "VM.Config.Disk",
        // Cloud-init options take VM.Config.Cloudinit or VM.Config.Network; seedgen asks for the first.
        "cicustom": "VM.Config.Cloudinit", "cipassword": "VM.Config.Cloudinit", "citype": "VM.Config.Cloudinit",
        "ciuser": "VM.Config.Cloudinit", "ciupgrade": "VM.Config.Cloudinit", "nameserver": "VM.Config.Cloudinit",
        "searchdomain": "VM.Config.Cloudinit", "sshkeys": "VM.Config.Cloudinit",
    ]

    /// Everything `calls` (from `ProxmoxAPIPlanner`: a first deployment and a seed swap) need, merged
    /// per path.
    public static func needs(for calls: [ProxmoxAPICall], node: String) -> [ProxmoxPrivilegeNeed] {
        var collected = Collector()
        // Disk key → storage, from the create call, for the resize that follows it.
        var diskStorage: [String: String] = [:]
        for call in calls {
            let vmid = call.pathValues["vmid"] ?? call.parameters.first { $0.name == "vmid" }?.value ?? ""
            let vm = "/vms/\(vmid)"
            switch (call.method, call.endpoint) {
            case (.post, "/nodes/{node}/storage/{storage}/upload"):
                guard let upload = call.upload, let storage = call.pathValues["storage"] else { continue }
                let what = upload.role == .image ? "the cloud image" : "the seed ISO"
                collected.add("/storage/\(storage)", ["Datastore.AllocateTemplate"], "upload \(what)")
                collected.add("/storage/\(storage)", ["Datastore.Audit"], "see whether \(what) is already there")
            case (.post, "/nodes/{node}/storage/{storage}/download-url"):
                // Status.pm download_url: Datastore.AllocateTemplate on the storage, and Sys.AccessNetwork
                // on the node (PVE 8.2+; the older alternative, Sys.Audit + Sys.Modify on /, grants far more).
                guard let storage = call.pathValues["storage"] else { continue }
                let target = call.pathValues["node"] ?? node
                collected.add(
                    "/storage/\(storage)", ["Datastore.AllocateTemplate"], "let the node download the cloud image")
                collected.add(
                    "/storage/\(storage)", ["Datastore.Audit"], "see whether the cloud image is already there")
                collected.add(
                    "/nodes/\(target)", ["Sys.AccessNetwork"], "let the node download the cloud image (download-url)")
            case (.post, "/nodes/{node}/qemu"):
                collected.add(vm, ["VM.Allocate"], "create VM \(vmid)")
                for parameter in call.parameters where parameter.name != "vmid" {
                    add(parameter.name, parameter.value, creating: true, to: &collected, vm: vm, vmid: vmid)
                    if isDrive(parameter.name) { diskStorage[parameter.name] = splitVolume(parameter.value).storage }
                }
            case (.post, "/nodes/{node}/qemu/{vmid}/config"):
                for parameter in call.parameters {
                    add(parameter.name, parameter.value, creating: false, to: &collected, vm: vm, vmid: vmid)
                }
            case (.put, "/nodes/{node}/qemu/{vmid}/resize"):
                let disk = call.parameters.first { $0.name == "disk" }?.value ?? ""
                collected.add(vm, ["VM.Config.Disk"], "resize \(disk) of VM \(vmid)")
                if let storage = diskStorage[disk] {
                    collected.add("/storage/\(storage)", ["Datastore.AllocateSpace"], "resize \(disk) of VM \(vmid)")
                }
            case (.get, "/nodes/{node}/qemu/{vmid}/config"), (.get, "/nodes/{node}/qemu/{vmid}/status/current"):
                collected.add(vm, ["VM.Audit"], "read VM \(vmid)'s configuration and status")
            case (.post, "/nodes/{node}/qemu/{vmid}/status/start"):
                collected.add(vm, ["VM.PowerMgmt"], "start VM \(vmid)")
            case (.delete, "/nodes/{node}/storage/{storage}/content/{volume}"):
                guard let storage = call.pathValues["storage"] else { continue }
                collected.add(
                    "/storage/\(storage)", ["Datastore.Allocate"],
                    "remove \(call.pathValues["volume"] ?? "a replaced file")")
            default:
                continue
            }
        }
        return collected.needs
    }

    /// What applying `target` can need on a node of `version`: its first deployment and a later
    /// seed swap (the preflight and `--print-grants` ask for both, so a re-run is covered too).
    public static func needs(
        for target: ProxmoxApplyTarget, version: (major: Int, minor: Int), nodeDownloads: Bool = false
    ) throws -> [ProxmoxPrivilegeNeed] {
        let planner = ProxmoxAPIPlanner(
            plan: target.plan, node: target.node, version: version, sshKeys: target.sshKeys,
            nodeDownloads: nodeDownloads)
        var calls = try planner.firstDeploymentCalls()
        if let seed = target.plan.file(role: .seedISO)?.volume {
            calls += try planner.seedSwapCalls(oldSeedVolume: seed)
        }
        return needs(for: calls, node: target.node)
    }

    /// `needs` (of several VMs) merged per path, in first-seen order.
    public static func merged(_ needs: [ProxmoxPrivilegeNeed]) -> [ProxmoxPrivilegeNeed] {
        var collected = Collector()
        for need in needs {
            for reason in need.reasons { collected.add(need.path, need.privileges, reason) }
        }
        return collected.needs
    }

    /// The needs that `granted` (path → effective privileges, as `GET /access/permissions?path=…`
    /// reports them for the token) does not cover, with only the missing privileges.
    public static func missing(_ needs: [ProxmoxPrivilegeNeed], granted: [String: Set<String>])
        -> [ProxmoxPrivilegeNeed]
    {
        needs.compactMap { need in
            let have = granted[need.path] ?? []
            let lacking = need.privileges.filter { !have.contains($0) }
            guard !lacking.isEmpty else { return nil }
            return ProxmoxPrivilegeNeed(path: need.path, privileges: lacking, reasons: need.reasons)
        }
    }

    /// `pveum` commands that grant exactly `needs` to `tokenID` (`USER@REALM!NAME`) and its user:
    /// a privilege-separated token gets the intersection of its own and its user's ACLs, so both get
    /// the same roles. One role per distinct set of privileges, named after that set.
    public static func grantCommands(_ needs: [ProxmoxPrivilegeNeed], tokenID: String) -> [String] {
        let user = String(tokenID.split(separator: "!", maxSplits: 1).first ?? Substring(tokenID))
        var roles: [[String]: String] = [:]
        var commands: [String] = []
        for need in needs {
            let privileges = need.privileges.sorted()
            let role: String
            if let existing = roles[privileges] {
                role = existing
            } else {
                role = roleName(for: privileges)
                roles[privileges] = role
                commands.append(
                    "pveum role add \(role) --privs \(BundleShell.quote(privileges.joined(separator: ",")))")
            }
            var grant =
                "pveum acl modify \(BundleShell.quote(need.path)) --roles \(role) --users \(BundleShell.quote(user))"
            if tokenID.contains("!") { grant += " --tokens \(BundleShell.quote(tokenID))" }
            commands.append(grant)
        }
        return commands
    }

    /// `Seedgen-<8 hex>`, from the sorted privileges: the same set always gets the same role.
    static func roleName(for privileges: [String]) -> String {
        let digest = SHA256.hash(data: Data(privileges.joined(separator: ",").utf8))
        return "Seedgen-" + digest.prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    private static func add(
        _ key: String, _ value: String, creating: Bool, to collected: inout Collector, vm: String, vmid: String
    ) {
        let reason = "set \(key) on VM \(vmid)"
        if let privilege = optionPrivilege[key] {
            collected.add(vm, [privilege], reason)
            if key == "cpu", value.hasPrefix("custom-") {
                let model = String(value.dropFirst("custom-".count).prefix { $0 != "," })
                collected.add("/mapping/cpu/\(model)", ["Mapping.Use"], "use the custom CPU model \(model)")
            }
        } else if key.hasPrefix("ipconfig") {
            collected.add(vm, ["VM.Config.Cloudinit"], reason)
        } else if key.hasPrefix("serial") {
            // serialN=socket; real devices are root-only, and seedgen sets none.
            collected.add(vm, ["VM.Config.HWType"], reason)
        } else if key.hasPrefix("net") {
            collected.add(vm, ["VM.Config.Network"], reason)
            let fields = propertyFields(value)
            if let bridge = fields["bridge"] {
                let vlan = fields["tag"]
                let path = vlan.map { "/sdn/zones/localnetwork/\(bridge)/\($0)" } ?? "/sdn/zones/localnetwork/\(bridge)"
                collected.add(
                    path, ["SDN.Use"], "connect \(key) of VM \(vmid) to \(bridge)\(vlan.map { " VLAN \($0)" } ?? "")")
            }
        } else if isDrive(key) {
            if !creating {
                // update_vm's check_drive_perms: a CD-ROM needs VM.Config.CDROM, a disk VM.Config.Disk.
                let cdrom = value.contains("media=cdrom")
                collected.add(
                    vm, [cdrom ? "VM.Config.CDROM" : "VM.Config.Disk"],
                    cdrom ? "attach a changed seed ISO to VM \(vmid)" : reason)
            }
            addDrive(key, value, to: &collected, vmid: vmid)
        }
    }

    /// Drives, by `check_storage_access`: a new volume needs AllocateSpace on its storage; an ISO or an
    /// import source needs Audit (or AllocateSpace) on its storage; a cloud-init drive needs nothing.
    private static func addDrive(_ key: String, _ value: String, to collected: inout Collector, vmid: String) {
        let first = String(value.prefix { $0 != "," })
        let fields = propertyFields(value)
        let (storage, volume) = splitVolume(first)
        if volume == "cloudinit" {
            // nothing to check
        } else if volume.hasPrefix("iso/") {
            collected.add("/storage/\(storage)", ["Datastore.Audit"], "attach the seed ISO as \(key) of VM \(vmid)")
        } else if !volume.isEmpty, volume.allSatisfy({ $0.isNumber || $0 == "." }) {
            collected.add("/storage/\(storage)", ["Datastore.AllocateSpace"], "allocate \(key) of VM \(vmid)")
        }
        if let source = fields["import-from"] {
            let (sourceStorage, _) = splitVolume(source)
            collected.add(
                "/storage/\(sourceStorage)", ["Datastore.Audit"], "import \(key) of VM \(vmid) from \(source)")
        }
    }

    private static func isDrive(_ key: String) -> Bool {
        if key == "efidisk0" || key == "tpmstate0" { return true }
        for bus in ["scsi", "sata", "ide", "virtio"] where key.hasPrefix(bus) {
            return key.dropFirst(bus.count).allSatisfy(\.isNumber)
        }
        return false
    }

    private static func splitVolume(_ text: String) -> (storage: String, volume: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        return (String(parts.first ?? ""), parts.count > 1 ? String(parts[1]) : "")
    }

    /// `key=value` parts of a Proxmox property string (`virtio=…,bridge=vmbr0,tag=20`).
    private static func propertyFields(_ value: String) -> [String: String] {
        var fields: [String: String] = [:]
        for part in value.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        return fields
    }

    /// Needs merged per path in first-seen order, privileges and reasons without repeats.
    private struct Collector {
        var needs: [ProxmoxPrivilegeNeed] = []

        mutating func add(_ path: String, _ privileges: [String], _ reason: String) {
            if let index = needs.firstIndex(where: { $0.path == path }) {
                for privilege in privileges where !needs[index].privileges.contains(privilege) {
                    needs[index].privileges.append(privilege)
                }
                if !needs[index].reasons.contains(reason) { needs[index].reasons.append(reason) }
            } else {
                needs.append(ProxmoxPrivilegeNeed(path: path, privileges: privileges, reasons: [reason]))
            }
        }
    }
}
