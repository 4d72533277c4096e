import Foundation
import SeedgenTestSupport
import Testing

func requireShellcheckClean(_ script: URL) throws {
    let result = try ProcessRunner.run("shellcheck", ["--shell=bash", "--severity=style", script.path])
    #expect(result.exitCode != 127, "shellcheck is not installed: run scripts/install-deps.sh")
    #expect(result.exitCode == 0, "shellcheck: \(result.stdout)\(result.stderr)")
}
