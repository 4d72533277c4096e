import Foundation
import SeedgenSpec

/// Renders a BundlePlan as deploy.sh. The fixed bash is seedgen's own code, kept as a real bash file
/// (`templates/deploy.sh.bash`) so that shellcheck and reviewers read it as one; every value from the
/// plan enters it through `BundleShell` (quoted assignments and argument words), never by pasting
/// text into code.
struct DeployScriptWriter {
    let plan: BundlePlan

    private func q(_ text: String) -> String { BundleShell.quote(text) }

    /// deploy.sh's fixed code: `templates/deploy.sh.bash` in the source tree, compiled in, split
    /// once into its fixed runs of lines and the marker lines where the generated parts go.
    /// `@VMID@` and `@GENERATOR@` stand only in its header comment.
    private enum TemplatePart {
        case fixed(String)
        case withPlaceholders(String)
        case plan
        case steps
    }

    private static let templateParts: [TemplatePart] = {
        guard let template = BundleScriptTemplates.byName["deploy.sh"] else {
            preconditionFailure("templates/deploy.sh.bash was not embedded at build time")
        }
        var parts: [TemplatePart] = []
        var run: [Substring] = []
        func endRun() {
            guard !run.isEmpty else { return }
            let text = run.joined(separator: "\n")
            parts.append(
                text.contains("@VMID@") || text.contains("@GENERATOR@") ? .withPlaceholders(text) : .fixed(text))
            run = []
        }
        for line in template.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            switch line {
            case "#@seedgen plan":
                endRun()
                parts.append(.plan)
            case "#@seedgen steps":
                endRun()
                parts.append(.steps)
            default:
                run.append(line)
            }
        }
        endRun()
        return parts
    }()

    func render() -> String {
        var lines: [String] = []
        for part in Self.templateParts {
            switch part {
            case .fixed(let text):
                lines.append(text)
            case .withPlaceholders(let text):
                lines.append(
                    text.replacingOccurrences(of: "@VMID@", with: String(plan.vm.vmid))
                        .replacingOccurrences(of: "@GENERATOR@", with: plan.generator))
            case .plan:
                lines.append(contentsOf: dataSection())
            case .steps:
                lines.append(contentsOf: rerunSection())
                lines.append(contentsOf: firstRunSection())
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: data

    private func dataSection() -> [String] {
        let vm = plan.vm
        let artifacts = plan.files.filter { $0.included && $0.role != .image }
        let placed = plan.files.filter { $0.volume != nil && $0.role != .image }
        let image = plan.file(role: .image)
        let storages = plan.storages
        let drift = plan.rerun.driftChecks
        var lines = ["# --- the plan (quoted data only) ---"]
        func scalar(_ name: String, _ value: String) {
            lines.append(contentsOf: literalDollarDirective([value]))
            lines.append(BundleShell.assignment(name, value))
        }
        func array(_ name: String, _ values: [String]) {
            lines.append(contentsOf: literalDollarDirective(values))
            lines.append(BundleShell.arrayAssignment(name, values))
        }
        scalar("VMID", String(vm.vmid))
        scalar("VM_NAME", vm.name)
        scalar("EXPECTED_NODE", vm.node ?? "")
        scalar("MARKER_PREFIX", vm.markerPrefix)
        scalar("MINIMUM_PVE", plan.minimumPVE)
        lines.append("# Files in this directory and their sha256 (SHA256SUMS is checked too).")
        array("ARTIFACT_FILES", artifacts.map(\.source))
        array("ARTIFACT_SHA256", artifacts.map(\.sha256))
        lines.append("# Files placed on storages: role, source, sha256, target volume.")
        array("PLACE_ROLES", placed.map(\.role.rawValue))
        array("PLACE_SOURCES", placed.map(\.source))
        array("PLACE_SHA256", placed.map(\.sha256))
        array("PLACE_VOLUMES", placed.map { $0.volume ?? "" })
        lines.append("# The cloud image (IMAGE_FILE empty: the boot disk is a new empty disk).")
        scalar("IMAGE_FILE", image.map { String($0.source.dropFirst("image/".count)) } ?? "")
        scalar("IMAGE_SHA256", image?.sha256 ?? "")
        scalar("IMAGE_VOLUME", image?.volume ?? "")
        scalar("IMAGE_LEGACY_VOLUME", image?.legacyVolume ?? "")
        scalar("IMAGE_CACHE_PATH", image?.cachePath ?? "")
        lines.append("# Storages: id, content type, purpose, PVE version range, needed on a re-run.")
        array("STORAGE_IDS", storages.map(\.storage))
        array("STORAGE_CONTENTS", storages.map(\.content))
        array("STORAGE_PURPOSES", storages.map(\.purpose))
        array("STORAGE_FROM", storages.map { $0.minimumPVE ?? "" })
        array("STORAGE_BELOW", storages.map { $0.belowPVE ?? "" })
        array("STORAGE_RERUN", storages.map { $0.neededOnRerun ? "1" : "0" })
        lines.append("# Re-run: the seed the VM should carry, and hardware to compare (reported, never applied).")
        if plan.rerun.seedUpdate != nil {
            scalar("SEED_KEY", plan.rerun.seedKey ?? "")
            scalar("EXPECTED_SEED", plan.rerun.expectedSeed ?? "")
        }
        array("DRIFT_KEYS", drift.map(\.key))
        array("DRIFT_EXPECTED", drift.map(\.expected))
        array("DRIFT_MATCH", drift.map(\.match.rawValue))
        return lines
    }

    // MARK: steps

    /// shellcheck's SC2016 ("expressions don't expand in single quotes") is the point of quoting:
    /// a value such as a `$6$…` hash or a description with `$(…)` must stay literal.
    /// SC1003 ("want to escape a single quote?") likewise flags a literal backslash before `'\''`.
    private func literalDollarDirective(_ values: [String]) -> [String] {
        var codes: [String] = []
        func mentions(_ character: Unicode.Scalar) -> Bool {
            values.contains { $0.utf8.contains(UInt8(character.value)) }
        }
        if mentions("$") || mentions("`") { codes.append("SC2016") }
        if mentions("\\") { codes.append("SC1003") }
        guard !codes.isEmpty else { return [] }
        return ["# shellcheck disable=\(codes.joined(separator: ","))  # single-quoted values are meant literally"]
    }

    private func literalTexts(_ step: BundleStep) -> [String] {
        (step.command + step.options.map(\.value)).flatMap { argument in
            argument.parts.compactMap { part -> String? in
                if case .literal(let text) = part { return text }
                return nil
            }
        }
    }

    private func commandLines(_ step: BundleStep, array: String) -> [String] {
        var lines = literalDollarDirective(literalTexts(step))
        lines.append("\(array)=(" + step.command.map(BundleShell.word).joined(separator: " "))
        for option in step.options where option.minimumPVE == nil {
            lines.append("  \(q("--" + option.key)) \(BundleShell.word(option.value))")
        }
        lines[lines.count - 1] += ")"
        for option in step.options {
            guard let version = option.minimumPVE else { continue }
            lines.append(
                contentsOf: literalDollarDirective(
                    literalTexts(BundleStep(id: "", kind: step.kind, summary: "", options: [option]))))
            lines.append(
                "if version_at_least \(q(version)); then \(array)+=(\(q("--" + option.key)) "
                    + "\(BundleShell.word(option.value))); fi"
            )
        }
        lines.append("run \"${\(array)[@]}\"")
        return lines
    }

    private func stepLines(_ step: BundleStep) -> [String] {
        // Only the step id (seedgen's own word) goes into the comment; summaries may carry user text.
        var lines = ["# step: \(step.id)"]
        switch step.kind {
        case .placeFile:
            let role = step.fileRole
            lines.append(role == .image ? "place_image" : "place_role \(q(role?.rawValue ?? ""))")
        case .createVM, .updateVM, .setPassword:
            lines.append(contentsOf: commandLines(step, array: "QM_ARGS"))
        case .resizeDisk:
            let arguments = step.command.dropFirst(3).map(BundleShell.word).joined(separator: " ")
            lines.append("resize_disk \(arguments)")
        case .confirmDiskSize:
            lines.append(
                "confirm_disk_size \(q(String(plan.vm.vmid))) \(q(step.disk ?? "scsi0")) \(q(step.expectedSize ?? ""))")
        case .startVM:
            lines.append("if [ \"$NO_START\" -eq 1 ]; then")
            lines.append("  say \"not starting VM $VMID (--no-start); start it with: qm start $VMID\"")
            lines.append("else")
            lines.append(contentsOf: commandLines(step, array: "QM_ARGS").map { "  " + $0 })
            lines.append("fi")
        }
        return lines
    }

    private func rerunSection() -> [String] {
        var lines = [
            "# --- re-run: the VM is ours ---",
            "if [ \"$VM_STATE\" = ours ]; then",
            "  say \"already deployed: VM $VMID ($VM_NAME) exists and carries seedgen's marker\"",
        ]
        if let update = plan.rerun.seedUpdate {
            lines.append("  CURRENT_SEED=$(config_value \"$CURRENT_CONFIG\" \"$SEED_KEY\")")
            lines.append(
                "  if [[ $CURRENT_SEED == \"$EXPECTED_SEED\" || $CURRENT_SEED == \"$EXPECTED_SEED\",* ]]; then")
            lines.append("    say \"the seed is unchanged ($SEED_KEY)\"")
            lines.append("  else")
            lines.append(
                "    say \"the seed changed: $SEED_KEY is '${CURRENT_SEED:-nothing}', the plan has '$EXPECTED_SEED'\"")
            for role in plan.rerun.seedFileRoles { lines.append("    place_role \(q(role.rawValue))") }
            lines.append(contentsOf: commandLines(update, array: "QM_ARGS").map { "    " + $0 })
            lines.append("    say \"seed swapped; the guest sees it at its next boot (new instance-id)\"")
            lines.append("  fi")
        }
        lines.append(contentsOf: [
            "  report_drift",
            "  if [ \"$DRY_RUN\" -eq 1 ]; then say \"dry run: nothing was changed\"; else say \"nothing else to do\"; "
                + "fi",
            "  exit 0",
            "fi",
            "",
        ])
        return lines
    }

    private func firstRunSection() -> [String] {
        var lines = [
            "# --- first deployment: every step in plan order ---",
            "say \"creating VM $VMID ($VM_NAME)\"",
        ]
        for step in plan.steps {
            lines.append(contentsOf: stepLines(step))
        }
        lines.append(
            "if [ \"$DRY_RUN\" -eq 1 ]; then say \"dry run: nothing was changed\"; else say \"done: VM $VMID "
                + "($VM_NAME) is deployed\"; fi"
        )
        return lines
    }
}
