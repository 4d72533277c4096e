import Foundation
import SeedgenCore
import SeedgenTestSupport
import Testing

@testable import SeedgenImage

/// index.json on its own: parallel writers lose nothing, a damaged index is never overwritten.
@Suite struct ImageCacheIndexStoreTests {
    private func record(_ number: Int) -> ImageCacheRecord {
        ImageCacheRecord(
            name: nil, source: "https://example.org/\(number).img", fileName: "\(number).img",
            sha256: String(repeating: "0", count: 60) + String(format: "%04d", number), sha512: nil, size: 1,
            format: "qcow2",
            virtualSize: 1, fetchedAt: "2026-12-02T00:00:00Z", verification: "test")
    }

    @Test func parallelAddsUnderTheLockKeepEveryRecord() throws {
        let directory = try TemporaryDirectory()
        let store = ImageCacheIndexStore(directory: directory.url)
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 8) { writer in
            for item in 0..<10 {
                do { try store.add(record(writer * 10 + item)) } catch { failures.append("\(error)") }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(try store.read().images.count == 80)
        // Adding the same source and digest again replaces the record.
        try store.add(record(3))
        #expect(try store.read().images.count == 80)
    }

    @Test func aDamagedIndexStopsAnUpdateAndStaysAsItWas() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write("index.json", "{\"version\": 1, \"images\": [")
        let store = ImageCacheIndexStore(directory: directory.url)
        #expect(throws: SeedgenError.self) { try store.add(record(1)) }
        #expect(try String(contentsOf: url, encoding: .utf8) == "{\"version\": 1, \"images\": [")
    }

    private final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func append(_ item: String) { lock.withLock { items.append(item) } }
        var all: [String] { lock.withLock { items } }
    }
}
