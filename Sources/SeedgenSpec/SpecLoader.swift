import Foundation
import SeedgenCore
import SeedgenImage

/// Reads vm.yaml files (or Ansible `proxmox_vm_*` variable files), resolves `extends:` chains,
/// validates everything and reports every problem with its file, line and column.
public struct SpecLoader: Sendable {
    public struct Options: Sendable {
        public var environment: [String: String]
        /// Catalog names `image:` may use; nil skips the check.
        public var knownImageNames: [String]?
        /// Further checks run on each decoded VM (for example what a cloud_init.mode cannot express).
        public var extraChecks: [@Sendable (VMSpec) -> [Diagnostic]]
        /// Whose image directories a URL without a digest may name (publishers), and the images of
        /// the Ansible role's `proxmox_cloud_image_urls`.
        public var imageCatalog: ImageCatalog
        /// `seedgen image lock --trust-on-first-use`: a URL nothing verifies is accepted, to be pinned.
        public var trustOnFirstUse: Bool

        public init(
            environment: [String: String] = ProcessInfo.processInfo.environment, knownImageNames: [String]? = nil,
            extraChecks: [@Sendable (VMSpec) -> [Diagnostic]] = [], imageCatalog: ImageCatalog = .builtIn(),
            trustOnFirstUse: Bool = false
        ) {
            self.environment = environment
            self.knownImageNames = knownImageNames
            self.extraChecks = extraChecks
            self.imageCatalog = imageCatalog
            self.trustOnFirstUse = trustOnFirstUse
        }
    }

    /// What loading a set of files found: the valid VMs and every diagnostic (errors and warnings).
    public struct Result: Sendable {
        public var specs: [VMSpec]
        public var diagnostics: [Diagnostic]
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
        /// Warnings and notes: everything to print that does not stop the run.
        public var warnings: [Diagnostic] { diagnostics.filter { $0.severity != .error } }

        /// The VMs, or `SeedgenError.invalidInput` with every diagnostic when any is an error.
        public func get() throws(SeedgenError) -> [VMSpec] {
            if hasErrors { throw .invalidInput(diagnostics) }
            return specs
        }
    }

    public var options: Options

    public init(options: Options = Options()) { self.options = options }

    /// Loads one VM file.
    public func load(_ file: String) throws(SeedgenError) -> VMSpec {
        let result = loadAll([file])
        let specs = try result.get()
        guard let spec = specs.first else { throw .invalidInput(result.diagnostics) }
        return spec
    }

    /// Loads many VM files and checks them against each other: duplicate VMIDs, names and MACs
    /// in one run are errors at both places.
    public func loadAll(_ files: [String]) -> Result {
        let siteKey: Data?
        switch Self.passwordSaltKey(environment: options.environment) {
        case .success(let key): siteKey = key
        case .failure(let problem): return Result(specs: [], diagnostics: [problem.diagnostic])
        }
        // Files are read and checked independently, on all cores (a fleet has thousands); the
        // results are then taken in the order the files were given, so output never depends on timing.
        let loaded = ParallelMap.map(files) { file in loadFile(file, passwordSaltKey: siteKey) }
        var diagnostics: [Diagnostic] = []
        var specs: [VMSpec] = []
        for file in loaded {
            diagnostics.append(contentsOf: file.diagnostics)
            specs.append(contentsOf: file.specs)
        }
        diagnostics.append(contentsOf: Self.crossFileDiagnostics(specs))
        return Result(specs: specs, diagnostics: diagnostics)
    }

    /// One file on its own: its VMs (none when it has errors; a playbook may hold several) and
    /// every diagnostic about it.
    private func loadFile(_ file: String, passwordSaltKey: Data?) -> (specs: [VMSpec], diagnostics: [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        do {
            var warnings: [Diagnostic] = []
            let documents = try self.documents(file, warnings: &warnings)
            diagnostics.append(contentsOf: warnings)
            var specs: [VMSpec] = []
            var failed = false
            for document in documents {
                var decoding = VMSpecDecoding(
                    environment: options.environment, knownImageNames: options.knownImageNames,
                    imagePublishers: options.imageCatalog.publishers, trustOnFirstUse: options.trustOnFirstUse,
                    ansibleOrigin: document.fromAnsible)
                decoding.passwordSaltKey = passwordSaltKey
                let spec = decoding.decode(document.tree, sourceFile: file)
                // Report a file's problems in reading order, whichever check found them.
                diagnostics.append(
                    contentsOf: decoding.decoder.diagnostics.diagnostics.sorted { a, b in
                        (a.location?.line ?? 0, a.location?.column ?? 0) < (
                            b.location?.line ?? 0, b.location?.column ?? 0
                        )
                    })
                guard let spec else {
                    failed = true
                    continue
                }
                let extra = options.extraChecks.flatMap { $0(spec) }
                diagnostics.append(contentsOf: extra)
                if extra.contains(where: { $0.severity == .error }) { failed = true } else { specs.append(spec) }
            }
            return (failed ? [] : specs, diagnostics)
        } catch {
            if case .invalidInput(let found) = error {
                diagnostics.append(contentsOf: found)
            } else {
                diagnostics.append(
                    Diagnostic(
                        at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: error.description))
            }
            return ([], diagnostics)
        }
    }

    /// Names the site's password salt key file (`seedgen build --salt-key FILE` sets it too).
    public static let passwordSaltKeyVariable = "SEEDGEN_SALT_KEY_FILE"

    struct SaltKeyProblem: Error {
        var diagnostic: Diagnostic
    }

    /// The site's secret salt key, when `SEEDGEN_SALT_KEY_FILE` names one: the file's bytes as they
    /// are. At least 16 bytes, so a short word cannot pass for a key.
    static func passwordSaltKey(environment: [String: String]) -> Swift.Result<Data?, SaltKeyProblem> {
        guard let path = environment[passwordSaltKeyVariable], !path.isEmpty else { return .success(nil) }
        func problem(_ message: String) -> Swift.Result<Data?, SaltKeyProblem> {
            .failure(
                SaltKeyProblem(
                    diagnostic: Diagnostic(
                        at: nil, keyPath: "",
                        message: "password salt key \(path) (--salt-key or \(passwordSaltKeyVariable)): \(message)",
                        allowed:
                            "a file of at least 16 secret bytes, e.g. made once with `head -c 32 /dev/urandom > "
                            + "site.key`"
                    )))
        }
        guard let data = FileManager.default.contents(atPath: SpecPaths.absolute(path)) else {
            return problem(
                FileManager.default.fileExists(atPath: SpecPaths.absolute(path))
                    ? "cannot read the file" : "file not found")
        }
        guard data.count >= 16 else { return problem("the file holds only \(data.count) bytes") }
        return .success(data)
    }

    /// One VM's tree, and whether it was converted from Ansible variables.
    struct Document {
        var tree: SpecNode
        var fromAnsible: Bool
    }

    /// The VM trees of `file`: one for a vm.yaml or variables file (after conversion and
    /// `extends:`), one per role task for an Ansible playbook or task file.
    func documents(_ file: String, warnings: inout [Diagnostic]) throws(SeedgenError) -> [Document] {
        let tree = try parsedFile(file)
        guard AnsiblePlaybook.isPlaybook(tree) else {
            return [
                Document(
                    tree: try mergedTree(file, parsed: tree, chain: [], warnings: &warnings),
                    fromAnsible: AnsibleVariables.looksLikeAnsible(tree))
            ]
        }
        let found = AnsiblePlaybook.roleTasks(tree)
        warnings.append(contentsOf: found.diagnostics)
        guard !found.tasks.isEmpty else {
            throw .invalidInput(
                found.diagnostics.filter { $0.severity != .note } + [
                    Diagnostic(
                        at: tree.location, keyPath: "", message: "no task of this playbook includes the proxmox role",
                        allowed: "a task with include_role: {name: proxmox} and vars: {proxmox_operation: create_vm, …}"
                    )
                ])
        }
        var documents: [Document] = []
        var problems: [Diagnostic] = []
        for task in found.tasks {
            do {
                let converted = try AnsibleVariables.convert(task.variables, catalog: options.imageCatalog)
                warnings.append(contentsOf: converted.warnings)
                documents.append(Document(tree: converted.tree, fromAnsible: true))
            } catch {
                if case .invalidInput(let found) = error { problems.append(contentsOf: found) } else { throw error }
            }
        }
        if !problems.isEmpty { throw .invalidInput(problems) }
        return documents
    }

    /// The file's tree after Ansible conversion and `extends:` merging, before validation.
    func mergedTree(_ file: String, chain: [String] = [], warnings: inout [Diagnostic]) throws(SeedgenError) -> SpecNode
    {
        try mergedTree(file, parsed: try parsedFile(file), chain: chain, warnings: &warnings)
    }

    private func parsedFile(_ file: String) throws(SeedgenError) -> SpecNode {
        let absolute = SpecPaths.absolute(file)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            let reason = FileManager.default.fileExists(atPath: absolute) ? "cannot read file" : "file not found"
            throw .invalidInput([
                Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: reason)
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalidInput([
                Diagnostic(
                    at: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: "file is not UTF-8 text")
            ])
        }
        return try SpecYAML.parse(text, file: file)
    }

    private func mergedTree(_ file: String, parsed: SpecNode, chain: [String], warnings: inout [Diagnostic])
        throws(SeedgenError) -> SpecNode
    {
        let absolute = SpecPaths.absolute(file)
        var tree = parsed
        if AnsibleVariables.looksLikeAnsible(tree) {
            let converted = try AnsibleVariables.convert(tree, catalog: options.imageCatalog)
            tree = converted.tree
            warnings.append(contentsOf: converted.warnings)
        }
        guard let extendsEntry = tree.entries?.first(where: { $0.key == "extends" }) else { return tree }
        guard case .scalar(let baseName, .string) = extendsEntry.value.kind else {
            throw .invalidInput([
                Diagnostic(
                    at: extendsEntry.value.location, keyPath: "extends",
                    message: "expected a file path, found \(extendsEntry.value.typeName)")
            ])
        }
        let basePath = SpecPaths.resolve(baseName, relativeTo: file)
        let baseAbsolute = SpecPaths.absolute(basePath)
        if baseAbsolute == absolute || chain.contains(baseAbsolute) {
            let cycle = (chain + [absolute, baseAbsolute]).map { ($0 as NSString).lastPathComponent }.joined(
                separator: " → ")
            throw .invalidInput([
                Diagnostic(
                    at: extendsEntry.value.location, keyPath: "extends", message: "extends cycle: \(cycle)",
                    allowed: "a chain of base files that ends")
            ])
        }
        guard FileManager.default.fileExists(atPath: baseAbsolute) else {
            throw .invalidInput([
                Diagnostic(
                    at: extendsEntry.value.location, keyPath: "extends", message: "base file not found: \(basePath)")
            ])
        }
        let base = try mergedTree(basePath, chain: chain + [absolute], warnings: &warnings)
        return base.merged(with: tree.removing(key: "extends")).removing(key: "extends")
    }

    static func crossFileDiagnostics(_ specs: [VMSpec]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        func check(_ label: String, _ values: [(value: String, location: SourceLocation?, keyPath: String)]) {
            var first: [String: (SourceLocation?, String)] = [:]
            for item in values {
                if let (otherLocation, otherPath) = first[item.value] {
                    let other = otherLocation.map(\.description) ?? otherPath
                    diagnostics.append(
                        Diagnostic(
                            at: item.location, keyPath: item.keyPath,
                            message: "duplicate \(label) \(item.value) in this run, also at \(other)"))
                    if let otherLocation {
                        diagnostics.append(
                            Diagnostic(
                                at: otherLocation, keyPath: otherPath,
                                message:
                                    "duplicate \(label) \(item.value) in this run, also at "
                                    + "\(item.location?.description ?? item.keyPath)"
                            ))
                    }
                } else {
                    first[item.value] = (item.location, item.keyPath)
                }
            }
        }
        check("VMID", specs.map { ($0.vmid.text, $0.location(of: "vmid"), "vmid") })
        check("name", specs.map { ($0.name.text, $0.location(of: "name"), "name") })
        check(
            "MAC",
            specs.flatMap { spec in
                spec.network.interfaces.map { interface in
                    let path = "network.interfaces[\(interface.index)].mac"
                    return (interface.mac.text, spec.location(of: path), path)
                }
            })
        return diagnostics
    }
}
