import Foundation
import SeedgenBundle
import SeedgenTestSupport
import Testing

/// Limits that Proxmox itself sets (qm-options.json: `scsi[n]`, n is 0 to 30).
@Suite struct ProxmoxLimitTests {
    private func file(extraDisks count: Int) -> String {
        let disks = (0..<count).map { "    \($0 == 0 ? "⟨disks⟩" : "")- {size: 1G, storage: local-lvm}" }.joined(
            separator: "\n")
        return "name: web01\nvmid: 9001\nhardware:\n  extra_disks:\n\(disks)\n"
    }

    /// scsi0 is the boot disk, so scsi1..scsi30 leave room for 30 extra disks (Spec allowed 29).
    @Test func thirtyExtraDisksFitScsi1ToScsi30() throws {
        let fixture = try SpecFixture(file(extraDisks: 30))
        let result = fixture.load()
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics.map(\.description))")
        let spec = try #require(result.specs.first)
        let plan = try ProxmoxBundle.plan(
            for: spec,
            inputs: BundleInputs(
                seedISO: BundleFile(
                    name: "seedgen-9001-00000000.iso", sha256: String(repeating: "0", count: 64), size: 2048)))
        let keys = plan.vm.options.map(\.key)
        #expect(keys.contains("scsi30") && !keys.contains("scsi31"))
        let argv =
            ["qm", "create", "9001"]
            + plan.vm.options.filter { $0.key.hasPrefix("scsi") && $0.key != "scsi0" && $0.key != "scsihw" }
            .flatMap { ["--\($0.key)", $0.value.description] }
        #expect(
            QMOptionChecker.problems(in: argv, version: (8, 4)).isEmpty,
            "\(QMOptionChecker.problems(in: argv, version: (8, 4)))")
    }

    @Test func thirtyOneExtraDisksAreAPositionedError() throws {
        let fixture = try SpecFixture(file(extraDisks: 31))
        fixture.expectError(
            "disks", keyPath: "hardware.extra_disks", contains: "too many extra disks", in: fixture.load())
    }
}
