import Foundation

public enum CloudInitMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// seedgen's own NoCloud ISO attached as a CD-ROM.
    case iso
    /// Proxmox's own cloud-init drive + ci* options.
    case pve
    /// Rendered files uploaded as snippets + cicustom.
    case snippets
}
