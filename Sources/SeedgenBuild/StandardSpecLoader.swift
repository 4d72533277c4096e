import Foundation
import SeedgenBundle
import SeedgenCore
import SeedgenImage
import SeedgenSpec

extension SpecLoader {
    /// The loader every command uses: vm.yaml rules plus the checks of the later stages (catalog
    /// names, what each cloud_init.mode can express, the description's room), so `validate` finds
    /// what `build` would.
    public static func standard(
        environment: [String: String] = ProcessInfo.processInfo.environment, catalog: ImageCatalog = .builtIn(),
        trustOnFirstUse: Bool = false, extraChecks: [@Sendable (VMSpec) -> [Diagnostic]] = []
    ) -> SpecLoader {
        SpecLoader(
            options: Options(
                environment: environment, knownImageNames: catalog.entries.map(\.name),
                extraChecks: [ProxmoxBundle.specDiagnostics(for:)] + extraChecks, imageCatalog: catalog,
                trustOnFirstUse: trustOnFirstUse))
    }
}
