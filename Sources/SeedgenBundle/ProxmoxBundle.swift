import Foundation
import SeedgenCore
import SeedgenSpec

/// Builds the Proxmox bundle (SPEC §4–§5): one typed plan, rendered as deploy.sh and plan.json.
public enum ProxmoxBundle {
    public static let schemaVersion = 1
    public static let minimumPVE = "7.2"

    /// The plan for `spec`; throws `.invalidInput` for what a mode cannot express and rules across
    /// fields (the description with seedgen's marker, the image against the disk),
    /// `.runtime` when the build stage did not supply a file the mode needs.
    public static func plan(for spec: VMSpec, inputs: BundleInputs) throws -> BundlePlan {
        var collector = DiagnosticCollector()
        collector.append(contentsOf: specDiagnostics(for: spec))
        collector.append(contentsOf: BundleValidation.diagnostics(for: spec, inputs: inputs))
        try collector.throwIfErrors()
        return try BundlePlanner(spec: spec, inputs: inputs).makePlan()
    }

    /// plan.json: sorted keys, two-space indentation, no escaped slashes, trailing newline.
    public static func planJSON(_ plan: BundlePlan) throws -> Data {
        try JSONOutput.data(plan)
    }

    public static func deployScript(_ plan: BundlePlan) -> String {
        DeployScriptWriter(plan: plan).render()
    }

    /// pve mode: the file `qm --sshkeys` reads, one OpenSSH key per line; nil when there is no key
    /// (or the mode is not pve). The build stage writes it into the artifact directory as `sshkeys`.
    public static func pveSSHKeysFile(for spec: VMSpec) -> Data? {
        guard spec.cloudInit.mode == .pve, let user = spec.cloudInit.users.first, !user.sshAuthorizedKeys.isEmpty else {
            return nil
        }
        let lines = user.sshAuthorizedKeys.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return Data((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// The file name the build stage should give the pve-mode keys file.
    public static let pveSSHKeysFileName = "sshkeys"

    /// What `cloud_init.mode` cannot express, positioned at the offending key.
    public static func modeDiagnostics(for spec: VMSpec) -> [Diagnostic] {
        BundleValidation.modeDiagnostics(for: spec)
    }

    /// Everything the bundle refuses that the VM file alone shows: what the mode cannot express and
    /// a description with no room for seedgen's marker. `validate` runs these, so it finds what
    /// `build` would.
    public static func specDiagnostics(for spec: VMSpec) -> [Diagnostic] {
        modeDiagnostics(for: spec)
            + BundleValidation.specDiagnostics(for: spec, description: BundlePlanner.description(for: spec))
    }
}
