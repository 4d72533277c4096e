import Foundation
import SeedgenCore
import SeedgenImage
import SeedgenSpec

/// What `seedgen validate` checks about each VM's image without the network, so that it finds
/// every error `seedgen build --offline` would: a local image (`image.path`) that is missing,
/// unreadable, not importable (a qcow2 with a backing file, encrypted, compressed) or not the one
/// its digest pins; and, for a local image or one already in the cache, a boot disk smaller than
/// the image. Only what needs the network (images not yet cached) is left to `build`. Reads the
/// cache, never creates or changes it.
public enum OfflineImageChecks {
    public static func diagnostics(for specs: [VMSpec], catalog: ImageCatalog, cacheDirectory: URL) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var cacheProblem: String?
        for spec in specs {
            guard let image = spec.image else { continue }
            let virtualSize: UInt64
            if let path = image.path {
                do {
                    virtualSize = try ImageStore.inspectLocal(path: path).virtualSize
                    if image.sha256 != nil || image.sha512 != nil {
                        _ = try ImageStore.checkLocalDigests(path: path, spec: image)
                    }
                } catch {
                    diagnostics.append(problem(error, spec: spec, keyPath: "image.path"))
                    continue
                }
            } else {
                do {
                    var plan = try ImageSourcePlan(spec: image, catalog: catalog)
                    let lockfile = ImageLockfile.url(besides: URL(fileURLWithPath: spec.sourceFile))
                    if FileManager.default.fileExists(atPath: lockfile.path),
                        let entry = try ImageLockfile.read(lockfile).images[plan.key]
                    {
                        plan = try plan.locked(to: entry)
                    }
                    guard let record = try ImageStore.cachedRecord(for: plan, in: cacheDirectory) else { continue }
                    virtualSize = record.virtualSize
                } catch let error as SeedgenError {
                    // A damaged cache index is said once; the VMs' files are not at fault.
                    if case .runtime(let message, _, _) = error, message.contains("index.json") {
                        cacheProblem = message
                    } else {
                        diagnostics.append(problem(error, spec: spec, keyPath: "image"))
                    }
                    continue
                } catch {
                    diagnostics.append(problem(error, spec: spec, keyPath: "image"))
                    continue
                }
            }
            if let tooSmall = ArtifactPipeline.diskSizeProblem(spec, virtualSize: virtualSize) {
                diagnostics.append(tooSmall)
            }
        }
        if let cacheProblem {
            diagnostics.append(
                Diagnostic(
                    .warning, at: nil, keyPath: "",
                    message: "cached images were not checked: \(cacheProblem)", allowed: "see `seedgen image list`"))
        }
        return diagnostics
    }

    private static func problem(_ error: any Error, spec: VMSpec, keyPath: String) -> Diagnostic {
        let location = spec.location(of: keyPath) ?? spec.location(of: "image")
        if case .runtime(let message, let hint, _)? = error as? SeedgenError {
            return Diagnostic(at: location, keyPath: keyPath, message: message, allowed: hint)
        }
        return Diagnostic(at: location, keyPath: keyPath, message: (error as? SeedgenError)?.description ?? "\(error)")
    }
}

extension SpecLoader.Result {
    /// This result with `OfflineImageChecks` added, each problem placed among the others in the
    /// order of the files given (`files`) and after that file's own diagnostics.
    public func addingOfflineImageChecks(files: [String], catalog: ImageCatalog, cacheDirectory: URL)
        -> SpecLoader.Result
    {
        let found = OfflineImageChecks.diagnostics(for: specs, catalog: catalog, cacheDirectory: cacheDirectory)
        guard !found.isEmpty else { return self }
        func fileIndex(_ diagnostic: Diagnostic) -> Int? {
            diagnostic.location.flatMap { files.firstIndex(of: $0.file) }
        }
        var pending = found
        var merged: [Diagnostic] = []
        func emit(upTo index: Int) {
            let ready = pending.filter { (fileIndex($0) ?? Int.max) <= index }
            merged.append(contentsOf: ready)
            pending.removeAll { (fileIndex($0) ?? Int.max) <= index }
        }
        for diagnostic in diagnostics {
            if let index = fileIndex(diagnostic) { emit(upTo: index - 1) }
            merged.append(diagnostic)
        }
        merged.append(contentsOf: pending)
        var result = self
        result.diagnostics = merged
        let invalid = Set(found.filter { $0.severity == .error }.compactMap { $0.location?.file })
        result.specs = specs.filter { !invalid.contains($0.sourceFile) }
        return result
    }
}
