import Foundation
import SeedgenRender
import SeedgenSpec
import Testing

@Test func concurrentRendersGiveTheSameBytesAsSerialOnes() async throws {
    let specs = (0..<16).map { index -> VMSpec in
        var spec = RenderSpecs.full(networkVersion: index % 2 == 0 ? 2 : 1)
        spec.vmid = VMID(9000 + index)!
        spec.cloudInit.runcmd.append(.shell("echo \(index)"))
        return spec
    }
    let serial = try specs.map { try SeedRenderer.render($0) }
    let concurrent = try await withThrowingTaskGroup(of: (Int, RenderedSeed).self) { group in
        for (index, spec) in specs.enumerated() {
            group.addTask { (index, try SeedRenderer.render(spec)) }
        }
        var results = [RenderedSeed?](repeating: nil, count: specs.count)
        for try await (index, seed) in group { results[index] = seed }
        return results
    }
    #expect(concurrent == serial.map(Optional.some))
    #expect(Set(serial.map(\.instanceID)).count == specs.count)
}
