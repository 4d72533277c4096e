import Foundation
import SeedgenCore
import SeedgenSpec
import SeedgenTestSupport
import Testing

/// Writes marked vm.yaml text into a temp dir, loads it, and checks diagnostics against markers.
struct SpecFixture {
    let directory: TemporaryDirectory
    let marked: MarkedText
    let file: URL

    init(_ text: String, name: String = "vm.yaml", extraFiles: [String: String] = [:]) throws {
        directory = try TemporaryDirectory(prefix: "spec")
        marked = MarkedText(text)
        file = try directory.write(name, marked.text)
        for (path, content) in extraFiles { try directory.write(path, content) }
    }

    func load(environment: [String: String] = [:], knownImageNames: [String]? = nil) -> SpecLoader.Result {
        SpecLoader(options: .init(environment: environment, knownImageNames: knownImageNames)).loadAll([file.path])
    }

    /// Expects exactly one error at marker `marker` on `keyPath` whose text contains `message`.
    func expectError(
        _ marker: String, keyPath: String, contains message: String, in result: SpecLoader.Result,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let position = marked.markers[marker]
        let matching = result.diagnostics.filter {
            $0.severity == .error && $0.keyPath == keyPath && $0.message.contains(message)
        }
        #expect(
            matching.count == 1,
            "no single error '\(message)' at \(keyPath); got:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
        if let diagnostic = matching.first, let position {
            #expect(
                diagnostic.location?.line == position.line && diagnostic.location?.column == position.column,
                "\(diagnostic) is not at marker ⟨\(marker)⟩ \(position.line):\(position.column)",
                sourceLocation: sourceLocation)
            #expect(diagnostic.location?.file == file.path, sourceLocation: sourceLocation)
        }
    }
}

let validKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPF9XZLDWUasQx7m+swcssVUf/eUt5HNgr1qtNzkMBo ops@laptop"
