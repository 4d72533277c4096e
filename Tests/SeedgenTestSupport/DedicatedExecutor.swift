import Dispatch

/// Runs async work on a serial queue of its own instead of Swift's shared cooperative pool.
///
/// The suite's synchronous tests block pool threads while they wait for subprocesses (a fleet
/// build, cloud-init), and on 2 cores that delayed an awaiting test by up to two minutes. A test
/// that measures how long something takes runs it here, so it measures seedgen, not the suite.
@available(macOS 15.0, *)
public final class DedicatedExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
