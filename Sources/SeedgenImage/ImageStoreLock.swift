import Foundation
import SeedgenCore

extension ImageStore {
    // MARK: Lock

    /// Resolves `spec`'s moving URL (`current`, `latest`) to the dated one, fetches and verifies it,
    /// and returns the lockfile key and entry. Local paths need no lock (nil).
    ///
    /// A URL that nothing verifies (no digest, no checksum list, no publisher) is locked only with
    /// `trustOnFirstUse`: its first download is then taken as the truth and marked as such.
    public func lockEntry(for spec: ImageSpec, trustOnFirstUse: Bool = false) async throws -> (
        key: String, entry: ImageLockEntry
    )? {
        if spec.path != nil { return nil }
        var plan = try await pinnedToDatedURL(try ImageSourcePlan(spec: spec, catalog: catalog))
        let unverifiable = plan.checksumsURL == nil && plan.pinnedHex == nil
        if unverifiable {
            guard trustOnFirstUse else {
                throw SeedgenError.usage(
                    "\(plan.imageURL.absoluteString) has no digest or checksum list to verify it: add a sha256, or pin "
                        + "it on first use with `seedgen image lock FILE --trust-on-first-use`"
                )
            }
            plan.firstUseTrust = true
        }
        let resolved = try await fetch(plan)
        return (
            plan.key,
            ImageLockEntry(
                url: plan.imageURL.absoluteString, fileName: plan.fileName, sha256: resolved.sha256,
                size: resolved.size,
                verification: resolved.verification, trust: unverifiable ? ImageLockEntry.firstUseTrust : nil)
        )
    }

    /// The plan with its moving URL replaced by the newest dated one the publisher lists.
    public func pinnedToDatedURL(_ plan: ImageSourcePlan) async throws -> ImageSourcePlan {
        guard let latest = plan.latest, plan.pinnedHex == nil else { return plan }
        if offline {
            throw SeedgenError.runtime(
                message: "resolving \(plan.key) to a dated image needs the network, and --offline forbids it",
                hint: "run `seedgen image lock` on a connected machine and commit seedgen.lock")
        }
        var dated = plan
        dated.latest = nil
        switch latest {
        case .serialDirectory(let indexURL, let serialPattern, let imageURL, let checksumsURL, let signatureURL):
            guard let index = URL(string: indexURL) else {
                throw SeedgenError.runtime(message: "bad index URL \(indexURL)")
            }
            let html = String(
                decoding: try await downloader.fetchSmall(index, scratch: temporaryDirectory), as: UTF8.self)
            guard let serial = try ImageLatestPages.newestSerial(in: html, matching: serialPattern) else {
                throw SeedgenError.runtime(
                    message: "no dated build of \(plan.key) found in \(indexURL)",
                    hint: "the publisher's layout may have changed; pin a URL and sha256 in vm.yaml instead")
            }
            func substitute(_ template: String) -> URL? {
                URL(string: template.replacingOccurrences(of: "{serial}", with: serial))
            }
            guard let image = substitute(imageURL) else {
                throw SeedgenError.runtime(message: "bad dated URL for \(plan.key)")
            }
            dated.imageURL = image
            dated.fileName = image.lastPathComponent
            dated.checksumsURL = substitute(checksumsURL)
            dated.signatureURL = signatureURL.flatMap(substitute)
        case .sameDigestInList(let datedNamePattern):
            guard let checksumsURL = plan.checksumsURL, let algorithm = plan.listAlgorithm else { return plan }
            let verified = try await verifiedChecksumList(plan, checksumsURL: checksumsURL)
            guard let hex = verified.list.digest(for: plan.fileName, algorithm: algorithm) else {
                throw SeedgenError.runtime(
                    message: "\(checksumsURL.lastPathComponent) has no \(algorithm.rawValue) line for \(plan.fileName)")
            }
            let pattern = try NSRegularExpression(pattern: datedNamePattern)
            let names = verified.list.fileNames(withDigest: hex).filter {
                $0 != plan.fileName && pattern.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil
            }
            guard let name = names.max(), let url = ImageSourcePlan.resolve(name, against: plan.imageURL) else {
                throw SeedgenError.runtime(
                    message: "\(checksumsURL.lastPathComponent) names no dated twin of \(plan.fileName)",
                    hint: "pin the URL and sha256 in vm.yaml instead")
            }
            dated.imageURL = url
            dated.fileName = name
        }
        return dated
    }
}
