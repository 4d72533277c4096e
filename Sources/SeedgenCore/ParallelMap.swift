import Dispatch

/// `map` over independent elements on all cores, results in the input's order.
package enum ParallelMap {
    package static func map<Element: Sendable, Mapped: Sendable>(
        _ elements: [Element], _ transform: @escaping @Sendable (Element) -> Mapped
    ) -> [Mapped] {
        guard elements.count > 1 else { return elements.map(transform) }
        let results = Slots<Mapped>(count: elements.count)
        DispatchQueue.concurrentPerform(iterations: elements.count) { index in
            results.set(index, transform(elements[index]))
        }
        return results.values()
    }

    /// One slot per element; each iteration writes only its own, and reading waits for all.
    private final class Slots<Value: Sendable>: @unchecked Sendable {
        private var storage: UnsafeMutableBufferPointer<Value?>

        init(count: Int) {
            storage = .allocate(capacity: count)
            storage.initialize(repeating: nil)
        }

        deinit {
            storage.deinitialize()
            storage.deallocate()
        }

        func set(_ index: Int, _ value: Value) { storage[index] = value }

        func values() -> [Value] { storage.map { $0! } }
    }
}
