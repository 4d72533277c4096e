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
}

/// Reads a pipe to its end on a thread of its own.
///
/// A read that blocks for as long as a child runs should not sit on Dispatch's shared global
/// queue: on Linux that pool grows slowly past the core count, so such reads can hold back
/// everything else queued there (timers, Foundation's process plumbing).
public final class PipeDrain: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var data = Data()

    public init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            data = handle.readDataToEndOfFile()
            finished.signal()
        }
        thread.start()
    }

    /// Blocks until the pipe reached end of file; everything read.
    public func wait() -> Data {
        finished.wait()
        return data
    }
}
