import Foundation
import Yams

/// Reads just the `image:` key of a vm.yaml, for `seedgen image lock` (the full parser lives in Spec/).
/// Follows `extends:` chains so an image named in a base file is found too.
public enum ImageSpecReader {
    public static func imageSpec(inVMFile file: URL, depth: Int = 0) throws -> ImageSpec? {
        guard depth < 16 else { throw SeedgenError.runtime(message: "extends chain too deep at \(file.path)") }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw SeedgenError.runtime(message: "cannot read \(file.path)", cause: "\(error)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SeedgenError.invalidInput([Diagnostic(at: SourceLocation(file: file.path, line: 1, column: 1), keyPath: "", message: "YAML syntax error: \(error)")])
        }
        guard let mapping = root?.mapping else { return nil }
        let directory = file.deletingLastPathComponent()
        guard let image = mapping["image"] else {
            if let base = mapping["extends"]?.string {
                return try imageSpec(inVMFile: URL(fileURLWithPath: base, relativeTo: directory).standardizedFileURL, depth: depth + 1)
            }
            return nil
        }
        func location(_ node: Node) -> SourceLocation {
            SourceLocation(file: file.path, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        }
        if let name = image.string { return ImageSpec(catalogName: name) }
        guard let map = image.mapping else {
            throw SeedgenError.invalidInput([Diagnostic(at: location(image), keyPath: "image", message: "must be a catalog name or a map", allowed: "url/path with sha256, sha512 or checksums_url")])
        }
        func string(_ key: String) -> String? { map[key]?.string }
        func url(_ key: String) throws -> URL? {
            guard let text = string(key) else { return nil }
            guard let url = URL(string: text), url.scheme != nil else {
                throw SeedgenError.invalidInput([Diagnostic(at: location(map[key]!), keyPath: "image.\(key)", message: "not a URL: \(text)", allowed: "https://…, http://…, file://…")])
            }
            return url
        }
        func absolute(_ path: String?) -> String? {
            path.map { expandingTilde($0) }.map { $0.hasPrefix("/") ? $0 : directory.appendingPathComponent($0).standardizedFileURL.path }
        }
        return ImageSpec(
            catalogName: string("name") ?? string("catalog"), url: try url("url"), path: absolute(string("path")), sha256: string("sha256"),
            sha512: string("sha512"), checksumsURL: try url("checksums_url"), signatureURL: try url("signature_url"),
            keyring: absolute(string("keyring")), fingerprints: map["fingerprints"]?.sequence?.compactMap(\.string).map(ImageCatalog.normalizedFingerprint) ?? [])
    }
}
