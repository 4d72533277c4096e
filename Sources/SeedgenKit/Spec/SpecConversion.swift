import Foundation
import SeedgenYAML

extension SpecLoader {
    /// `seedgen convert`: the vm.yaml equivalent of an Ansible variables file (or of a vm.yaml
    /// with its `extends:` chain flattened), checked before it is printed.
    public func convertedDocument(_ file: String) throws -> (document: String, warnings: [Diagnostic]) {
        // Validate first: a conversion that would not load is reported, not printed.
        let result = loadAll([file])
        _ = try result.get()
        var ignored: [Diagnostic] = []
        let tree = try mergedTree(file, warnings: &ignored)
        let header = """
            # vm.yaml converted by `seedgen convert` from \((file as NSString).lastPathComponent).
            # Relative paths are relative to the directory of that file.

            """
        return (header + (try YAMLWriter.write(tree.yamlValue)), result.warnings)
    }
}
