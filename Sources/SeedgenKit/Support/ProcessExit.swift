import Foundation

/// Waits for a `Process` to exit without `waitUntilExit()`.
///
/// On Linux `waitUntilExit()` spins the calling thread's run loop and relies on Foundation
/// delivering the child's termination there; called from worker threads under load (a parallel
/// test suite, a fleet build verifying signatures) it can park the thread long after the child
/// exited, or for good. The termination handler is delivered on Foundation's own queue instead.
/// Create the signal before `run()` so a child that exits at once is not missed.
public final class ProcessExit: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    public init(_ process: Process) {
        process.terminationHandler = { [semaphore] _ in semaphore.signal() }
    }

    /// Blocks until the process has exited.
    public func wait() {
        semaphore.wait()
    }

    /// Blocks until the process has exited or `seconds` passed; true when it exited.
    public func wait(seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}
