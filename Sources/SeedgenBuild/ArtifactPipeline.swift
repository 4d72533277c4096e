import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

/// `seedgen build`: validate every file, resolve each image once, then per VM render the seed,
/// write the ISO, emit the bundle and SHA256SUMS into a temporary directory that replaces
/// `DIR/<name>` only when everything in it is complete.
public struct ArtifactPipeline: Sendable {
    public let options: BuildOptions
    /// Where progress and warnings go (stderr in the CLI).
    public let log: @Sendable (String) -> Void

    public init(options: BuildOptions, log: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
    }

    /// Builds every VM of `files`. Throws `SeedgenError.invalidInput` (nothing written) when any
    /// file is invalid; otherwise returns one outcome per VM, failed ones included.
    public func build(files: [String]) async throws -> BuildReport {
        let catalog = try ImageCatalog.load(userCatalog: options.catalogFile)
        let loader = SpecLoader.standard(
            environment: options.environment, catalog: catalog, extraChecks: options.extraChecks)
        let loaded = loader.loadAll(files)
        for warning in loaded.warnings { log(warning.description) }
        let specs = try loaded.get()
        if specs.isEmpty { throw SeedgenError.usage("no VM files given") }

        // One key per VM, computed once: each looks for a seedgen.lock beside its file.
        let imageKeys = specs.map(ImageKey.init)
        let images = try await resolveImages(Set(imageKeys), catalog: catalog)
        try checkDiskSizes(specs, keys: imageKeys, images: images)

        try createOutputDirectory()
        let epoch = BuildEpoch.current(environment: options.environment)
        // Phase 1: every VM into its own temporary directory, `jobs` at a time.
        var staged: [Int: Result<StagedVM, SeedgenError>] = [:]
        try await withThrowingTaskGroup(of: (Int, Result<StagedVM, SeedgenError>).self) { group in
            var next = 0
            func startNext() {
                guard next < specs.count else { return }
                let index = next
                next += 1
                let spec = specs[index]
                let image = images[imageKeys[index]]
                group.addTask {
                    do {
                        return (index, .success(try stage(spec, image: image, epoch: epoch)))
                    } catch {
                        return (index, .failure(SeedgenError.wrap(error, "building \(spec.name) failed")))
                    }
                }
            }
            for _ in 0..<min(options.jobs, specs.count) { startNext() }
            while let (index, result) = try await group.next() {
                staged[index] = result
                startNext()
            }
        }
        // Content problems found while rendering (template errors, Proxmox's size limits) are
        // invalid input like any other: all of them at once, and nothing published.
        // Taken in the order of the files, never in the dictionary's (which changes from run to run).
        let stagedInOrder = specs.indices.compactMap { staged[$0] }
        let invalid = stagedInOrder.flatMap { result -> [Diagnostic] in
            if case .failure(.invalidInput(let diagnostics)) = result { return diagnostics }
            return []
        }
        if !invalid.isEmpty {
            for case .success(let vm) in stagedInOrder {
                try? FileManager.default.removeItem(at: vm.temporaryDirectory)
            }
            throw SeedgenError.invalidInput(invalid)
        }
        for case .success(let vm) in stagedInOrder {
            for warning in vm.warnings { log(warning.description) }
        }
        // Phase 2: one flush of the file system for all staged files, then the renames.
        flushFileSystem()
        var outcomes: [BuildOutcome] = []
        for (index, spec) in specs.enumerated() {
            switch staged[index] {
            case .success(let vm):
                do {
                    try publish(vm)
                    outcomes.append(vm.outcome)
                    if options.progress.resolved != .none { log("built \(spec.name) → \(vm.outcome.directory ?? "")") }
                } catch {
                    try? FileManager.default.removeItem(at: vm.temporaryDirectory)
                    outcomes.append(
                        failedOutcome(spec, SeedgenError.wrap(error, "cannot move \(spec.name)'s artifacts into place"))
                    )
                }
            case .failure(let error):
                outcomes.append(failedOutcome(spec, error))
            case nil:
                outcomes.append(failedOutcome(spec, .runtime(message: "not built")))
            }
        }
        return BuildReport(outputDirectory: options.outputDirectory.path, vms: outcomes)
    }

    // MARK: - Images

    struct ImageKey: Hashable, Sendable {
        var image: ImageSpec?
        var lockfile: String?

        init(_ spec: VMSpec) {
            image = spec.image
            let lockfile = ImageLockfile.url(besides: URL(fileURLWithPath: spec.sourceFile))
            self.lockfile =
                spec.image != nil && FileManager.default.fileExists(atPath: lockfile.path) ? lockfile.path : nil
        }
    }

    /// Each distinct image once, concurrently; a failure belongs to the VMs that use that image.
    private func resolveImages(_ allKeys: Set<ImageKey>, catalog: ImageCatalog) async throws -> [ImageKey: Result<
        ResolvedImage, SeedgenError
    >] {
        let keys = allKeys.filter { $0.image != nil }
        guard !keys.isEmpty else { return [:] }
        var policy = ImageFetchPolicy.fromEnvironment(options.environment)
        if let caFile = options.caFile { policy.caFile = caFile }
        let store = try ImageStore(
            directory: options.cacheDirectory, catalog: catalog, progress: options.progress, offline: options.offline,
            policy: policy)
        // Local files (`image.path`) never touch the cache; every other image is looked up in
        // its index and may be added to it, so a damaged index stops the whole run here, before
        // anything is downloaded or written.
        if keys.contains(where: { $0.image?.path == nil }) { try store.checkIndex() }
        return await withTaskGroup(of: (ImageKey, Result<ResolvedImage, SeedgenError>).self) { group in
            for key in keys {
                group.addTask {
                    do {
                        let resolved = try await store.resolve(
                            key.image!, lockfile: key.lockfile.map { URL(fileURLWithPath: $0) })
                        return (key, .success(resolved))
                    } catch {
                        return (
                            key,
                            .failure(
                                SeedgenError.wrap(
                                    error, "image \(describe(key.image!)) could not be fetched or verified"))
                        )
                    }
                }
            }
            var results: [ImageKey: Result<ResolvedImage, SeedgenError>] = [:]
            for await (key, result) in group { results[key] = result }
            return results
        }
    }

    private func describe(_ image: ImageSpec) -> String {
        image.catalogName ?? image.url?.absoluteString ?? image.path ?? "?"
    }

    /// SPEC §6: a boot disk smaller than the image's virtual size is invalid input.
    private func checkDiskSizes(
        _ specs: [VMSpec], keys: [ImageKey], images: [ImageKey: Result<ResolvedImage, SeedgenError>]
    ) throws {
        var problems = DiagnosticCollector()
        for (spec, key) in zip(specs, keys) {
            guard case .success(let image)? = images[key],
                let problem = Self.diskSizeProblem(spec, virtualSize: image.virtualSize)
            else { continue }
            problems.append(problem)
        }
        try problems.throwIfErrors()
    }

    /// The error when `spec`'s boot disk is smaller than its image, at `hardware.disk.size`;
    /// `seedgen validate` reports the same one for images it can inspect without the network.
    static func diskSizeProblem(_ spec: VMSpec, virtualSize: UInt64) -> Diagnostic? {
        guard spec.hardware.disk.size.bytes < virtualSize else { return nil }
        let virtual = ByteSize(bytes: virtualSize)
        return Diagnostic(
            at: spec.location(of: "hardware.disk.size"), keyPath: "hardware.disk.size",
            message:
                "disk size \(spec.hardware.disk.size) is smaller than the image's virtual size \(virtual.qmSize) "
                + "(\(virtualSize) bytes)",
            allowed: "at least \(ByteSize(bytes: ((virtualSize + (1 << 30) - 1) >> 30) << 30).qmSize)")
    }

    // MARK: - One VM

    struct StagedVM: Sendable {
        var temporaryDirectory: URL
        var finalDirectory: URL
        var outcome: BuildOutcome
        var warnings: [Diagnostic]
    }

    private func stage(_ spec: VMSpec, image: Result<ResolvedImage, SeedgenError>?, epoch: Int64) throws -> StagedVM {
        let resolvedImage: ResolvedImage?
        switch image {
        case .failure(let error)?: throw error
        case .success(let value)?: resolvedImage = value
        case nil: resolvedImage = nil
        }
        let artifacts = try ArtifactSet.make(
            for: spec, image: resolvedImage, includeImage: options.includeImage, epoch: epoch)
        let finalDirectory = options.outputDirectory.appendingPathComponent(spec.name.text)
        let temporary = options.outputDirectory.appendingPathComponent(".seedgen-tmp-\(spec.name)-\(UUID().uuidString)")
        do {
            try artifacts.write(into: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        let outcome = BuildOutcome(
            name: spec.name.text, vmid: spec.vmid.number, file: spec.sourceFile, status: .built,
            directory: finalDirectory.path,
            files: artifacts.checksums, seedISO: artifacts.seedISOName, image: resolvedImage?.path.path,
            imageVerification: resolvedImage?.verification, error: nil)
        return StagedVM(
            temporaryDirectory: temporary, finalDirectory: finalDirectory, outcome: outcome,
            warnings: artifacts.warnings)
    }

    private func failedOutcome(_ spec: VMSpec, _ error: SeedgenError) -> BuildOutcome {
        BuildOutcome(
            name: spec.name.text, vmid: spec.vmid.number, file: spec.sourceFile, status: .failed, directory: nil,
            files: [:], seedISO: nil,
            image: nil, imageVerification: nil, error: error.description)
    }

    // MARK: - File system

    private func createOutputDirectory() throws {
        do {
            try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw SeedgenError.runtime(
                message: "cannot create the output directory \(options.outputDirectory.path)", cause: "\(error)")
        }
    }

    /// Replaces `DIR/<name>` with the staged directory: the old one is moved aside first and
    /// removed only after the new one is in place, so a failure never leaves a half directory.
    private func publish(_ vm: StagedVM) throws {
        let manager = FileManager.default
        var aside: URL?
        if manager.fileExists(atPath: vm.finalDirectory.path) {
            let old = options.outputDirectory.appendingPathComponent(
                ".seedgen-old-\(vm.finalDirectory.lastPathComponent)-\(UUID().uuidString)")
            try AtomicFile.replace(vm.finalDirectory, with: old)
            aside = old
        }
        do {
            try AtomicFile.replace(vm.temporaryDirectory, with: vm.finalDirectory)
        } catch {
            if let aside { try? AtomicFile.replace(aside, with: vm.finalDirectory) }
            throw error
        }
        if let aside { try? manager.removeItem(at: aside) }
    }

    /// One `sync` for all staged files instead of an fsync per file: a fleet writes thousands of
    /// small files, and per-file fsyncs would dominate its run time. Nothing is renamed into place
    /// before its bytes are on disk.
    private func flushFileSystem() {
        sync()
    }
}
