import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Retry, timeout and back-off settings for network fetches.
public struct ImageFetchPolicy: Sendable, Hashable {
    /// Attempts per file, the first included.
    public var attempts: Int
    /// Seconds without any byte before a transfer is abandoned (and retried).
    public var stallTimeout: TimeInterval
    /// First back-off delay in seconds; doubled after each failed attempt.
    public var backoff: TimeInterval

    public init(attempts: Int = 5, stallTimeout: TimeInterval = 60, backoff: TimeInterval = 1) {
        self.attempts = max(1, attempts)
        self.stallTimeout = stallTimeout
        self.backoff = backoff
    }

    /// Defaults, overridden by `SEEDGEN_FETCH_ATTEMPTS`, `SEEDGEN_FETCH_TIMEOUT`, `SEEDGEN_FETCH_BACKOFF`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ImageFetchPolicy {
        var policy = ImageFetchPolicy()
        if let value = environment["SEEDGEN_FETCH_ATTEMPTS"].flatMap(Int.init) { policy.attempts = max(1, value) }
        if let value = environment["SEEDGEN_FETCH_TIMEOUT"].flatMap(TimeInterval.init) { policy.stallTimeout = value }
        if let value = environment["SEEDGEN_FETCH_BACKOFF"].flatMap(TimeInterval.init) { policy.backoff = value }
        return policy
    }
}

/// Streams HTTP(S) and file:// sources into a `.part` file while hashing, resuming with `Range`.
/// Proxies come from the usual `http_proxy`/`https_proxy`/`no_proxy` variables (libcurl reads them).
public final class ImageDownloader: Sendable {
    public let policy: ImageFetchPolicy

    public init(policy: ImageFetchPolicy) { self.policy = policy }

    /// Downloads `url` into `part` (resuming what is already there) and returns the digests of the
    /// whole file. Throws after the last failed attempt; the `.part` is kept for a later resume
    /// unless the failure says its content is wrong.
    public func download(_ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter) async throws -> ImageDigests {
        if url.isFileURL { return try copyLocal(url, to: part, includeSHA512: includeSHA512, progress: progress) }
        var lastError: SeedgenError?
        for attempt in 1...policy.attempts {
            if attempt > 1 {
                let delay = policy.backoff * pow(2, Double(attempt - 2))
                progress.note("retrying \(url.lastPathComponent) in \(String(format: "%.1f", delay)) s (attempt \(attempt) of \(policy.attempts)): \(lastError.map(Self.shortReason) ?? "")")
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
            do {
                return try await attemptDownload(url, to: part, includeSHA512: includeSHA512, progress: progress)
            } catch let failure as DownloadFailure {
                switch failure {
                case .permanent(let error): throw error
                case .retryable(let error): lastError = error
                }
            }
        }
        throw lastError ?? SeedgenError.runtime(message: "cannot download \(url.absoluteString)")
    }

    /// Fetches a small file (checksum list, signature, directory index) into memory, with retries.
    public func fetchSmall(_ url: URL, scratch: URL) async throws -> Data {
        if url.isFileURL {
            do { return try Data(contentsOf: url) } catch {
                throw SeedgenError.runtime(message: "cannot read \(url.path)", cause: "\(error)")
            }
        }
        let part = scratch.appendingPathComponent("small-\(UUID().uuidString).part")
        defer { try? FileManager.default.removeItem(at: part) }
        _ = try await download(url, to: part, includeSHA512: false, progress: ImageProgressReporter(mode: .none, label: ""))
        return try Data(contentsOf: part)
    }

    private static func shortReason(_ error: SeedgenError) -> String {
        if case .runtime(let message, _, let cause) = error { return cause.map { "\(message) (\($0))" } ?? message }
        return error.description
    }

    enum DownloadFailure: Error {
        case retryable(SeedgenError)
        case permanent(SeedgenError)
    }

    private func attemptDownload(_ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter) async throws -> ImageDigests {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: part.path) {
            guard fileManager.createFile(atPath: part.path, contents: nil) else {
                throw DownloadFailure.permanent(.runtime(message: "cannot create \(part.path)", cause: String(cString: strerror(errno))))
            }
        }
        var digester = ImageDigester(includeSHA512: includeSHA512)
        do {
            try ImageFileHasher.feed(part, into: &digester)
        } catch let error as SeedgenError {
            throw DownloadFailure.permanent(error)
        }
        let offset = digester.byteCount
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: part)
            try handle.seekToEnd()
        } catch {
            throw DownloadFailure.permanent(.runtime(message: "cannot write \(part.path)", cause: "\(error)"))
        }
        defer { try? handle.close() }

        var request = URLRequest(url: url)
        request.setValue("seedgen/\(SeedgenVersion.current)", forHTTPHeaderField: "User-Agent")
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = policy.stallTimeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let transfer = DownloadTransfer(
            handle: handle, digester: digester, resumeOffset: offset, progress: progress, includeSHA512: includeSHA512,
            stallTimeout: policy.stallTimeout)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        let outcome = await transfer.run(session.dataTask(with: request))
        let name = url.absoluteString

        if let writeError = outcome.writeError {
            throw DownloadFailure.permanent(.runtime(message: "cannot write \(part.path)", hint: "check free space in the cache", cause: writeError))
        }
        switch outcome.status {
        case 200, 206: break
        case 416:
            // The part is not a prefix the server recognises (it changed, or was complete): start over.
            try? fileManager.removeItem(at: part)
            throw DownloadFailure.retryable(.runtime(message: "\(name): server refused the resume range", cause: "HTTP 416"))
        case 404, 410:
            throw DownloadFailure.permanent(.runtime(message: "\(name) was not found (HTTP \(outcome.status))", hint: "check the URL or the catalog entry; for a catalog image, the publisher may have moved it"))
        case 408, 429, 500...599:
            throw DownloadFailure.retryable(.runtime(message: "\(name): server error", cause: "HTTP \(outcome.status)"))
        case 0:
            break
        default:
            throw DownloadFailure.permanent(.runtime(message: "\(name): unexpected HTTP status \(outcome.status)"))
        }
        if let error = outcome.error {
            let seedgenError = SeedgenError.runtime(message: "download of \(name) failed", hint: "rerun to resume; the partial file is kept", cause: error.localizedDescription)
            if let urlError = error as? URLError, Self.permanentErrors.contains(urlError.code) {
                throw DownloadFailure.permanent(seedgenError)
            }
            throw DownloadFailure.retryable(seedgenError)
        }
        if outcome.status == 0 {
            throw DownloadFailure.retryable(.runtime(message: "\(name): no response"))
        }
        let digests = outcome.digester.finalize()
        if let expected = outcome.expectedTotal, digests.size != expected {
            throw DownloadFailure.retryable(.runtime(message: "\(name): transfer ended early", cause: "got \(digests.size) of \(expected) bytes"))
        }
        progress.update(digests.size)
        return digests
    }

    private static let permanentErrors: Set<URLError.Code> = [.unsupportedURL, .badURL, .cannotFindHost, .dnsLookupFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected]

    private func copyLocal(_ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter) throws -> ImageDigests {
        guard let input = FileHandle(forReadingAtPath: url.path) else {
            throw SeedgenError.runtime(message: "cannot read \(url.path)", cause: String(cString: strerror(errno)))
        }
        defer { try? input.close() }
        try? FileManager.default.removeItem(at: part)
        guard FileManager.default.createFile(atPath: part.path, contents: nil), let output = FileHandle(forWritingAtPath: part.path) else {
            throw SeedgenError.runtime(message: "cannot create \(part.path)", cause: String(cString: strerror(errno)))
        }
        defer { try? output.close() }
        let total = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.uint64Value
        progress.begin(total: total)
        var digester = ImageDigester(includeSHA512: includeSHA512)
        while true {
            let chunk = try input.read(upToCount: ImageFileHasher.chunkSize) ?? Data()
            if chunk.isEmpty { break }
            try output.write(contentsOf: chunk)
            digester.update(chunk)
            progress.update(digester.byteCount)
        }
        return digester.finalize()
    }
}

/// One HTTP transfer: the delegate that appends each received block to the `.part` and the digester.
private final class DownloadTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Outcome {
        var status: Int
        var error: (any Error)?
        var writeError: String?
        var digester: ImageDigester
        var expectedTotal: UInt64?
    }

    private let handle: FileHandle
    private var digester: ImageDigester
    private let resumeOffset: UInt64
    private let progress: ImageProgressReporter
    private let includeSHA512: Bool
    private var status = 0
    private var expectedTotal: UInt64?
    private var writeError: String?
    /// Received bytes not yet written: URLSession hands each libcurl block over on its own (at most
    /// 16 KiB, CURL_MAX_WRITE_SIZE), and a write(2) per block cost about as much as hashing the
    /// bytes. Flushed before every outcome, so the `.part` and the digester hold the same bytes.
    private var pending = Data()
    private static let writeBatchSize = 1 << 20
    /// Only a 200/206 body belongs in the file; Linux may deliver an error page's body even after `.cancel`.
    private var accepting = false
    private var continuation: CheckedContinuation<Outcome, Never>?
    private weak var task: URLSessionDataTask?
    /// URLSession's request timeout is not enforced mid-body on Linux (a stalled server held a
    /// transfer for its full 300 s), so a watchdog cancels a transfer that received nothing for
    /// `stallTimeout` seconds.
    private let stallTimeout: TimeInterval
    private let activityLock = NSLock()
    private var lastActivity = ContinuousClock.now
    private var watchdog: DispatchSourceTimer?
    /// The watchdog's own serial queue: Dispatch's global queue can be held by blocking work
    /// elsewhere in the process, and a stall must be noticed on time.
    private let watchdogQueue = DispatchQueue(label: "seedgen.download.watchdog")

    init(
        handle: FileHandle, digester: ImageDigester, resumeOffset: UInt64, progress: ImageProgressReporter, includeSHA512: Bool,
        stallTimeout: TimeInterval
    ) {
        self.handle = handle
        self.digester = digester
        self.resumeOffset = resumeOffset
        self.progress = progress
        self.includeSHA512 = includeSHA512
        self.stallTimeout = stallTimeout
    }

    func run(_ task: URLSessionDataTask) async -> Outcome {
        await withCheckedContinuation { continuation in
            activityLock.withLock { self.continuation = continuation }
            self.task = task
            startWatchdog(task)
            task.resume()
        }
    }

    private func noteActivity() {
        activityLock.withLock { lastActivity = ContinuousClock.now }
    }

    private func startWatchdog(_ task: URLSessionDataTask) {
        let timer = DispatchSource.makeTimerSource(queue: watchdogQueue)
        let interval = max(0.05, stallTimeout / 4)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self, weak task] in
            guard let self, let task else { return }
            self.activityLock.lock()
            let idle = ContinuousClock.now - self.lastActivity
            guard idle > .milliseconds(Int64(self.stallTimeout * 1000)), let continuation = self.continuation else {
                self.activityLock.unlock()
                return
            }
            // Under load URLSession may report the cancellation much later (seen: 88 s), so the
            // watchdog ends the transfer itself; the late completion callback finds nothing to resume.
            self.continuation = nil
            self.accepting = false
            self.flushPending()
            let outcome = Outcome(
                status: self.status, error: URLError(.timedOut), writeError: self.writeError, digester: self.digester,
                expectedTotal: self.expectedTotal)
            self.activityLock.unlock()
            self.stopWatchdog()
            task.cancel()
            continuation.resume(returning: outcome)
        }
        activityLock.withLock { watchdog = timer }
        timer.resume()
    }

    private func stopWatchdog() {
        let timer = activityLock.withLock { () -> DispatchSourceTimer? in
            defer { watchdog = nil }
            return watchdog
        }
        timer?.cancel()
    }

    /// `cancel()` from inside a delegate callback is ignored on Linux; cancel from another queue.
    private func cancelSoon(_ task: URLSessionTask) {
        watchdogQueue.async { task.cancel() }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        noteActivity()
        status = (response as? HTTPURLResponse)?.statusCode ?? 200
        let length = response.expectedContentLength
        switch status {
        case 206:
            let range = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Range") ?? ""
            // "bytes START-END/TOTAL": the server must continue exactly where the part ends.
            let numbers = range.split(whereSeparator: { !$0.isNumber }).compactMap { UInt64($0) }
            if numbers.count >= 1, numbers[0] != resumeOffset {
                writeError = "server resumed at byte \(numbers[0]) instead of \(resumeOffset)"
                completionHandler(.cancel)
                cancelSoon(dataTask)
                return
            }
            expectedTotal = numbers.count >= 3 ? numbers[2] : (length > 0 ? resumeOffset + UInt64(length) : nil)
        case 200:
            if resumeOffset > 0 {
                // The server ignored Range: start the file over.
                do {
                    try handle.truncate(atOffset: 0)
                } catch {
                    writeError = "\(error)"
                    completionHandler(.cancel)
                    cancelSoon(dataTask)
                    return
                }
                digester = ImageDigester(includeSHA512: includeSHA512)
            }
            expectedTotal = length > 0 ? UInt64(length) : nil
        default:
            completionHandler(.cancel)
            cancelSoon(dataTask)
            return
        }
        accepting = true
        progress.begin(total: expectedTotal)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        activityLock.lock()
        defer { activityLock.unlock() }
        lastActivity = ContinuousClock.now
        guard accepting, writeError == nil, continuation != nil else { return }
        if data.count >= Self.writeBatchSize / 2 {
            // Already a large block (seedgen's static builds gather libcurl's pieces, see
            // Sources/CCurlLoader): written as it is, after what was pending.
            flushPending()
            writeAndHash(data)
        } else {
            pending.append(data)
            if pending.count >= Self.writeBatchSize { flushPending() }
        }
        if writeError != nil {
            cancelSoon(dataTask)
            return
        }
        progress.update(digester.byteCount + UInt64(pending.count))
    }

    /// Writes and hashes the gathered bytes; called with `activityLock` held.
    private func flushPending() {
        guard !pending.isEmpty else { return }
        writeAndHash(pending)
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAndHash(_ bytes: Data) {
        guard writeError == nil else { return }
        do {
            try handle.write(contentsOf: bytes)
            digester.update(bytes)
        } catch {
            writeError = "\(error)"
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        stopWatchdog()
        activityLock.lock()
        // nil when the watchdog already ended this transfer as timed out.
        let waiting = continuation
        continuation = nil
        if waiting != nil { flushPending() }
        let cancelledByUs = (error as? URLError)?.code == .cancelled && (writeError != nil || !(status == 200 || status == 206))
        let outcome = Outcome(
            status: status, error: cancelledByUs ? nil : error, writeError: writeError, digester: digester, expectedTotal: expectedTotal)
        activityLock.unlock()
        waiting?.resume(returning: outcome)
    }
}
