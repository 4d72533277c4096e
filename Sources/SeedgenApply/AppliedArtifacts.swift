import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenImage

/// An artifact directory that `seedgen build` wrote earlier (a pipeline builds in one stage and
/// applies in another), read back for `apply`: its plan, checked against SHA256SUMS first, so a
/// tampered or damaged copy is refused before anything is sent.
public struct AppliedArtifacts: Sendable {
    public var directory: URL
    public var plan: BundlePlan
    /// pve mode: the `sshkeys` file's text.
    public var sshKeys: String?

    /// Reads `directory`: every file SHA256SUMS lists must have its digest, every file the plan
    /// sends must be listed with the digest the plan expects, and nothing the plan sends may be
    /// missing. All problems are reported at once.
    public init(directory: URL) throws {
        self.directory = directory
        let sumsURL = directory.appendingPathComponent("SHA256SUMS")
        guard let sumsText = try? String(contentsOf: sumsURL, encoding: .utf8) else {
            throw SeedgenError.runtime(
                message: "\(directory.path) is not an artifact directory: SHA256SUMS is missing or unreadable",
                hint: "pass the directory `seedgen build` wrote (DIR/<name>), copied whole")
        }
        let sums = ImageChecksumList(parsing: sumsText)
        var problems: [String] = []
        var listed: [String: String] = [:]
        for line in sums.lines where line.algorithm == .sha256 {
            listed[line.fileName] = line.hex
            let file = directory.appendingPathComponent(line.fileName)
            guard FileManager.default.isReadableFile(atPath: file.path) else {
                problems.append("\(line.fileName) is listed in SHA256SUMS but missing")
                continue
            }
            let actual = try ImageFileHasher.digests(of: file, includeSHA512: false).sha256
            if actual != line.hex {
                problems.append("\(line.fileName) does not match SHA256SUMS (sha256 \(actual), listed \(line.hex))")
            }
        }
        guard listed["plan.json"] != nil else {
            throw SeedgenError.runtime(
                message: "\(directory.path): SHA256SUMS does not list plan.json",
                hint: "rebuild the directory with seedgen build")
        }
        guard problems.isEmpty else {
            throw SeedgenError.runtime(
                message: "\(directory.path) was changed or damaged after seedgen build wrote it: "
                    + problems.joined(separator: "; "),
                hint:
                    "copy the directory again, or rebuild it; apply sends nothing from a copy that does not match its "
                    + "SHA256SUMS"
            )
        }
        let planData = try Data(contentsOf: directory.appendingPathComponent("plan.json"))
        do {
            plan = try JSONDecoder().decode(BundlePlan.self, from: planData)
        } catch {
            throw SeedgenError.runtime(
                message: "\(directory.path)/plan.json cannot be read as a seedgen plan", cause: "\(error)")
        }
        guard plan.schemaVersion == ProxmoxBundle.schemaVersion else {
            throw SeedgenError.runtime(
                message:
                    "\(directory.path)/plan.json has schema version \(plan.schemaVersion); this seedgen reads "
                    + "\(ProxmoxBundle.schemaVersion)",
                hint: "apply it with the seedgen that built it, or rebuild the directory")
        }
        for file in plan.files where file.included {
            if listed[file.source] == nil {
                problems.append("\(file.source) is in the plan but not in SHA256SUMS")
            } else if listed[file.source] != file.sha256 {
                problems.append("\(file.source) has another sha256 in SHA256SUMS than in plan.json")
            }
        }
        guard problems.isEmpty else {
            throw SeedgenError.runtime(
                message: "\(directory.path): " + problems.joined(separator: "; "),
                hint: "rebuild the directory with seedgen build")
        }
        sshKeys = plan.file(role: .sshKeys).flatMap {
            try? String(contentsOf: directory.appendingPathComponent($0.source), encoding: .utf8)
        }
    }
}

/// A Proxmox API token `USER@REALM!TOKENID=SECRET`, from `PVE_API_TOKEN` or a file; never from the
/// command line. Only `id` is ever printed.
public struct ProxmoxAPIToken: Sendable, CustomStringConvertible {
    /// `USER@REALM!TOKENID`
    public let id: String
    public let secret: String

    public init(parsing text: String, source: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: "=", maxSplits: 1)
        let id = parts.first.map(String.init) ?? ""
        // pve-access-control's token id: user `[^\s:/]+`, realm `[A-Za-z][A-Za-z0-9.\-_]+`, token the same.
        let pattern = #"^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$"#
        guard parts.count == 2, !parts[1].isEmpty, id.range(of: pattern, options: .regularExpression) != nil else {
            throw SeedgenError.runtime(
                message: "\(source) does not hold an API token of the form USER@REALM!TOKENID=SECRET",
                hint: "create one with: pveum user token add USER@REALM TOKENID (it prints the secret once)")
        }
        self.id = id
        self.secret = String(parts[1])
    }

    /// The `Authorization` header's value.
    public var authorization: String { "PVEAPIToken=\(id)=\(secret)" }

    /// The token id and a redacted secret: safe for logs, errors and `--dry-run`.
    public var description: String { "\(id)=<redacted>" }
}
