import Foundation
import SeedgenCore
import SeedgenHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The `.part` being written, by a thread of its own: the download's task hands it each received
/// body piece (the transport's buffer itself, not a copy) and goes back for the next one, while
/// this thread writes the pieces and hashes exactly the bytes written, so
/// receiving and writing+hashing run at the same time on two cores and the file and the digester
/// always hold the same bytes. At most `limit` bytes wait here: past that, `append` waits for the
/// thread, which holds the connection back as a slow disk should.
final class PartFileWriter: @unchecked Sendable {
    static let limit = 8 << 20
    private static let batchPieces = 64

    private let descriptor: Int32
    private let part: URL
    private let includeSHA512: Bool
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var digester: ImageDigester
    private var queue: [HTTPBodyChunk] = []
    private var queuedBytes = 0
    private var writing = 0
    private var received: UInt64
    private var failure: SeedgenError?
    private var closing = false
    private var spaceWaiter: CheckedContinuation<Void, any Error>?
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false

    init(part: URL, digester: ImageDigester, includeSHA512: Bool) throws {
        descriptor = open(part.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SeedgenError.runtime(message: "cannot write \(part.path)", cause: String(cString: strerror(errno)))
        }
        self.part = part
        self.digester = digester
        self.includeSHA512 = includeSHA512
        received = digester.byteCount
        // The thread holds the writer until `release` stops it.
        let thread = Thread { self.run() }
        thread.name = "seedgen part writer"
        thread.start()
    }

    /// Bytes received so far (in the part, or on their way to it).
    var byteCount: UInt64 { condition.withLock { received } }

    /// Queues `chunk`; waits while `limit` bytes are already queued. Throws the write error, if any.
    func append(_ chunk: HTTPBodyChunk) async throws {
        guard chunk.count > 0 else { return }
        let mustWait: Bool = try condition.withLock {
            if let failure { throw failure }
            queue.append(chunk)
            queuedBytes += chunk.count
            received += UInt64(chunk.count)
            condition.signal()
            return queuedBytes >= Self.limit
        }
        guard mustWait else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                condition.lock()
                if queuedBytes < Self.limit / 2 || failure != nil || Task.isCancelled {
                    condition.unlock()
                    continuation.resume()
                } else {
                    spaceWaiter = continuation
                    condition.unlock()
                }
            }
        } onCancel: {
            condition.withLock {
                spaceWaiter?.resume(throwing: CancellationError())
                spaceWaiter = nil
            }
        }
        try condition.withLock { if let failure { throw failure } }
    }

    /// Returns once everything queued is written and hashed; throws the write error, if any.
    func flush() async throws {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if queue.isEmpty && writing == 0 {
                condition.unlock()
                continuation.resume()
            } else {
                drainWaiters.append(continuation)
                condition.unlock()
            }
        }
        try condition.withLock { if let failure { throw failure } }
    }

    /// Empties the part: the server sends the whole file. Only before the first piece is queued.
    func restart() throws {
        try condition.withLock {
            precondition(queue.isEmpty && writing == 0, "restart with pieces in flight")
            guard ftruncate(descriptor, 0) == 0 else {
                throw SeedgenError.runtime(
                    message: "cannot write \(part.path)", cause: String(cString: strerror(errno)))
            }
            digester = ImageDigester(includeSHA512: includeSHA512)
            received = 0
        }
    }

    /// The digests of what was written; call after `flush`.
    func finalize() -> ImageDigests { condition.withLock { digester.finalize() } }

    /// Stops the thread (dropping anything still queued) and closes the part.
    func release() {
        condition.lock()
        closing = true
        queue.removeAll()
        queuedBytes = 0
        condition.signal()
        while !stopped { condition.wait() }
        let waiters = drainWaiters
        drainWaiters = []
        spaceWaiter?.resume()
        spaceWaiter = nil
        condition.unlock()
        for waiter in waiters { waiter.resume() }
        close(descriptor)
    }

    private func run() {
        condition.lock()
        while true {
            while queue.isEmpty && !closing { condition.wait() }
            if closing { break }
            let batch = Array(queue.prefix(Self.batchPieces))
            queue.removeFirst(batch.count)
            let batchBytes = batch.reduce(0) { $0 + $1.count }
            writing = batchBytes
            var hasher = digester
            let failed = failure != nil
            condition.unlock()

            var error: SeedgenError?
            if !failed {
                error = write(batch, hasher: &hasher)
            }

            condition.lock()
            if !failed { digester = hasher }
            if let error, failure == nil { failure = error }
            writing = 0
            queuedBytes -= batchBytes
            if let waiter = spaceWaiter, queuedBytes < Self.limit / 2 || failure != nil {
                spaceWaiter = nil
                waiter.resume()
            }
            if queue.isEmpty {
                let waiters = drainWaiters
                drainWaiters = []
                for waiter in waiters { waiter.resume() }
            }
        }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Writes the pieces in order and hashes the bytes written (all of them unless a write fails).
    private func write(_ batch: [HTTPBodyChunk], hasher: inout ImageDigester) -> SeedgenError? {
        for chunk in batch {
            let error: SeedgenError? = chunk.withUnsafeBytes { bytes in
                var written = 0
                defer { hasher.update(UnsafeRawBufferPointer(rebasing: bytes[0..<written])) }
                while written < bytes.count {
                    let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                    if count < 0 {
                        if errno == EINTR { continue }
                        return SeedgenError.runtime(
                            message: "cannot write \(part.path)", hint: "check free space in the cache",
                            cause: String(cString: strerror(errno)))
                    }
                    written += count
                }
                return nil
            }
            if let error { return error }
        }
        return nil
    }
}
