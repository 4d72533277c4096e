import Foundation
import NIOConcurrencyHelpers

/// Ends a request on which nothing moved for the stall timeout while seedgen was waiting for it.
/// Not the library's idle-read timer: that one also runs while the consumer is busy and the
/// library has stopped reading to hold memory down, and a consumer kept from running by other work
/// on Swift's cooperative threads (2 of them on 2 cores) then looked like a stalled server. Here
/// time counts only while the consumer waits inside `next()`, and a stall needs both the timeout
/// in wall time and several of the watchdog's own ticks without progress, so a watchdog that was
/// itself kept from running cannot fire on its first late tick.
final class StallWatch: Sendable {
    private struct State {
        var lastProgress = ContinuousClock.now
        var consumerBusy = false
        var idleTicks = 0
    }

    let timeout: Duration
    private let state = NIOLockedValueBox(State())
    private static let ticksNeeded = 4

    init(timeout: TimeInterval) {
        self.timeout = .milliseconds(Int64(max(0.05, timeout) * 1000))
    }

    /// Bytes moved (a body piece sent or received, a response head).
    func progress() {
        state.withLockedValue {
            $0.lastProgress = .now
            $0.idleTicks = 0
        }
    }

    /// The consumer has a piece (or the head) and works on it: its time does not count.
    func consumerTookOver() {
        state.withLockedValue {
            $0.consumerBusy = true
            $0.lastProgress = .now
            $0.idleTicks = 0
        }
    }

    /// The consumer waits for the next piece.
    func consumerWaits() {
        state.withLockedValue {
            $0.consumerBusy = false
            $0.lastProgress = .now
            $0.idleTicks = 0
        }
    }

    /// Returns when cancelled; throws `stalled` once nothing moved for the timeout.
    func watch(stalled: @autoclosure @Sendable () -> HTTPTransportError) async throws {
        let interval = timeout / Self.ticksNeeded
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let fired = state.withLockedValue { state -> Bool in
                guard !state.consumerBusy else { return false }
                state.idleTicks += 1
                return state.idleTicks >= Self.ticksNeeded && ContinuousClock.now - state.lastProgress >= timeout
            }
            if fired { throw stalled() }
        }
    }

    /// Runs `operation` under the watch: a stall cancels it and throws `stalled`.
    func run<Result: Sendable>(
        stalled: @escaping @Sendable () -> HTTPTransportError,
        _ operation: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await self.watch(stalled: stalled())
                return nil
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                if let value = outcome { return value }
            }
            throw CancellationError()
        }
    }
}
