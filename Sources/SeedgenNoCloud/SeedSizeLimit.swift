import Foundation
import SeedgenCore
import SeedgenISO

/// Proxmox's cloud-init size limits (proxmox.md, `cicustom`): each snippet ≤ 1 MiB, all of them
/// together ≤ 3 MiB ("Cloud-Init sum of snippets too big (> 3 MiB)").
public enum SeedSizeLimit {
    public static let proxmoxTotalBytes = 3 << 20
    public static let proxmoxFileBytes = 1 << 20

    /// Checks the NoCloud files against Proxmox's limits. In `pve` and `snippets` modes Proxmox
    /// itself would refuse to start the VM, so an excess is an error; in `iso` mode seedgen's own
    /// ISO carries the files and Proxmox never sees them, so it is a warning.
    public static func check(_ files: [SeedFile], mode: CloudInitMode, location: SourceLocation? = nil) -> [Diagnostic]
    {
        let severity: Diagnostic.Severity = mode == .iso ? .warning : .error
        var diagnostics: [Diagnostic] = []
        let total = files.reduce(0) { $0 + $1.data.count }
        if total > proxmoxTotalBytes {
            let sizes = files.map { "\($0.name) \(ByteSize.readable(UInt64($0.data.count), decimals: 2))" }.joined(
                separator: ", ")
            diagnostics.append(
                Diagnostic(
                    severity, at: location, keyPath: "cloud_init",
                    message:
                        "the cloud-init files total \(ByteSize.readable(UInt64(total), decimals: 2)) (\(sizes)), more "
                        + "than Proxmox's 3 MiB limit"
                        + (mode == .iso
                            ? "; the seed ISO still works, but the files cannot move to pve or snippets mode" : ""),
                    allowed:
                        "at most 3 MiB together; move large content to a downloaded file (write_files with a URL, "
                        + "runcmd)"
                ))
        }
        if mode == .snippets {
            for file in files where file.data.count > proxmoxFileBytes {
                diagnostics.append(
                    Diagnostic(
                        .error, at: location, keyPath: "cloud_init",
                        message:
                            "\(file.name) is \(ByteSize.readable(UInt64(file.data.count), decimals: 2)), more than "
                            + "Proxmox's 1 MiB limit per snippet",
                        allowed: "at most 1 MiB per file in snippets mode; or use cloud_init.mode: iso"))
            }
        }
        return diagnostics
    }
}
