import CXattr
import Foundation
import SeedgenCore
import SeedgenHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Retry, timeout and back-off settings for network fetches.
public struct ImageFetchPolicy: Sendable, Hashable {
    /// Attempts per file, the first included.
    public var attempts: Int
    /// Seconds without any byte before a transfer is abandoned (and retried).
    public var stallTimeout: TimeInterval
    /// First back-off delay in seconds; doubled after each failed attempt.
    public var backoff: TimeInterval
    /// CA certificates (PEM) trusted beside the system store.
    public var caFile: String?

    public init(attempts: Int = 5, stallTimeout: TimeInterval = 60, backoff: TimeInterval = 1, caFile: String? = nil) {
        self.attempts = max(1, attempts)
        self.stallTimeout = stallTimeout
        self.backoff = backoff
        self.caFile = caFile
    }

    /// Defaults, overridden by `SEEDGEN_FETCH_ATTEMPTS`, `SEEDGEN_FETCH_TIMEOUT`, `SEEDGEN_FETCH_BACKOFF`
    /// and `SEEDGEN_CA_FILE`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> ImageFetchPolicy
    {
        var policy = ImageFetchPolicy()
        if let value = environment["SEEDGEN_CA_FILE"], !value.isEmpty { policy.caFile = value }
        if let value = environment["SEEDGEN_FETCH_ATTEMPTS"].flatMap(Int.init) { policy.attempts = max(1, value) }
        if let value = environment["SEEDGEN_FETCH_TIMEOUT"].flatMap(TimeInterval.init) { policy.stallTimeout = value }
        if let value = environment["SEEDGEN_FETCH_BACKOFF"].flatMap(TimeInterval.init) { policy.backoff = value }
        return policy
    }
}

/// Streams HTTP(S) and file:// sources into a `.part` file while hashing, resuming with `Range`
/// (and `If-Range` on the server's validator, so a changed file is sent whole rather than spliced).
/// Every request goes through `HTTPTransport`, which reads proxies from the environment.
public final class ImageDownloader: Sendable {
    public let policy: ImageFetchPolicy
    /// Made once; a bad proxy variable or CA file fails the first network use, not commands that
    /// never download.
    private let transport: Result<HTTPTransport, SeedgenError>

    public init(policy: ImageFetchPolicy, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.policy = policy
        do {
            transport = .success(
                try HTTPTransport(
                    options: HTTPTransportOptions(
                        caFile: policy.caFile, proxies: try HTTPProxySettings.fromEnvironment(environment),
                        stallTimeout: policy.stallTimeout,
                        userAgent: "seedgen/\(SeedgenVersion.current)")))
        } catch {
            transport = .failure(SeedgenError.wrap(error, "cannot set up downloads"))
        }
    }

    /// Downloads `url` into `part` (resuming what is already there) and returns the digests of the
    /// whole file. Throws after the last failed attempt; the `.part` is kept for a later resume
    /// unless the failure says its content is wrong.
    public func download(_ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter) async throws
        -> ImageDigests
    {
        if url.isFileURL { return try copyLocal(url, to: part, includeSHA512: includeSHA512, progress: progress) }
        let transport = try self.transport.get()
        var lastError: SeedgenError?
        for attempt in 1...policy.attempts {
            if attempt > 1 {
                let delay = policy.backoff * pow(2, Double(attempt - 2))
                progress.note(
                    "retrying \(url.lastPathComponent) in \(String(format: "%.1f", delay)) s (attempt \(attempt) of "
                        + "\(policy.attempts)): \(lastError.map(Self.shortReason) ?? "")"
                )
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
            do {
                return try await attemptDownload(
                    url, to: part, includeSHA512: includeSHA512, progress: progress, transport: transport)
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
        _ = try await download(
            url, to: part, includeSHA512: false, progress: ImageProgressReporter(mode: .none, label: ""))
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

    private func attemptDownload(
        _ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter, transport: HTTPTransport
    ) async throws -> ImageDigests {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: part.path) {
            guard fileManager.createFile(atPath: part.path, contents: nil) else {
                throw DownloadFailure.permanent(
                    .runtime(message: "cannot create \(part.path)", cause: String(cString: strerror(errno))))
            }
        }
        var digester = ImageDigester(includeSHA512: includeSHA512)
        do {
            try ImageFileHasher.feed(part, into: &digester)
        } catch let error as SeedgenError {
            throw DownloadFailure.permanent(error)
        }
        let offset = digester.byteCount
        let sink: PartFileWriter
        do {
            sink = try PartFileWriter(part: part, digester: digester, includeSHA512: includeSHA512)
        } catch let error as SeedgenError {
            throw DownloadFailure.permanent(error)
        }
        defer { sink.release() }

        var headers: [(name: String, value: String)] = []
        if offset > 0 {
            headers.append(("Range", "bytes=\(offset)-"))
            if let validator = PartValidator.read(part) { headers.append(("If-Range", validator)) }
        }
        let name = url.absoluteString
        let outcome: Result<UInt64?, any Error>
        do {
            outcome = .success(
                try await transport.send(HTTPRequest(url: url, headers: headers)) { head, body in
                    try await Self.receive(head, body, into: sink, resumeOffset: offset, part: part, progress: progress)
                })
        } catch {
            outcome = .failure(error)
        }
        // Whatever arrived is in the part and the digester before the outcome is judged.
        do {
            try await sink.flush()
        } catch let error as SeedgenError {
            throw DownloadFailure.permanent(error)
        } catch {
            throw DownloadFailure.permanent(.runtime(message: "cannot write \(part.path)", cause: "\(error)"))
        }
        let expectedTotal: UInt64?
        switch outcome {
        case .success(let total): expectedTotal = total
        case .failure(let error as HTTPResponseRefusal):
            switch error {
            case .status(let status): throw Self.statusFailure(status, name: name, part: part)
            case .wrongResumeOffset(let message):
                throw DownloadFailure.permanent(
                    .runtime(
                        message: "cannot write \(part.path)", hint: "check free space in the cache", cause: message))
            }
        case .failure(let error):
            throw Self.failure(downloading: url, error)
        }
        let digests = sink.finalize()
        if let expectedTotal, digests.size != expectedTotal {
            throw DownloadFailure.retryable(
                .runtime(
                    message: "\(name): transfer ended early", cause: "got \(digests.size) of \(expectedTotal) bytes"))
        }
        progress.update(digests.size)
        return digests
    }

    /// Streams one response into the part; returns the file's expected total size when known.
    private static func receive(
        _ head: HTTPResponseHead, _ body: HTTPResponseBody, into sink: PartFileWriter, resumeOffset: UInt64, part: URL,
        progress: ImageProgressReporter
    ) async throws -> UInt64? {
        let length = head.contentLength.map { UInt64(max(0, $0)) }
        let expectedTotal: UInt64?
        switch head.status {
        case 206:
            // "bytes START-END/TOTAL": the server must continue exactly where the part ends.
            let numbers = (head.header("Content-Range") ?? "").split(whereSeparator: { !$0.isNumber }).compactMap {
                UInt64($0)
            }
            if numbers.count >= 1, numbers[0] != resumeOffset {
                throw HTTPResponseRefusal.wrongResumeOffset(
                    "server resumed at byte \(numbers[0]) instead of \(resumeOffset)")
            }
            expectedTotal = numbers.count >= 3 ? numbers[2] : length.map { resumeOffset + $0 }
        case 200:
            // The server ignored Range, or the file changed (If-Range): start the part over.
            if resumeOffset > 0 { try sink.restart() }
            expectedTotal = length
        default:
            throw HTTPResponseRefusal.status(head.status)
        }
        if let validator = PartValidator.from(head) { PartValidator.write(validator, to: part) }
        progress.begin(total: expectedTotal)
        while let chunk = try await body.next() {
            try await sink.append(chunk)
            progress.update(sink.byteCount)
        }
        return expectedTotal
    }

    /// What a failed request means for a download: seedgen's own errors stand; anything from the
    /// transport (or below it, classified as the transport classifies it) becomes a `SeedgenError`
    /// with the transport's hint, permanent when another attempt cannot help (DNS, TLS, a bad
    /// request or redirect) and retryable otherwise.
    static func failure(downloading url: URL, _ error: any Error) -> DownloadFailure {
        if let error = error as? SeedgenError { return .permanent(error) }
        let transportError = HTTPTransportError.classify(error, url: url, proxy: nil)
        let seedgenError = SeedgenError.runtime(
            message: "download of \(url.absoluteString) failed",
            hint: transportError.hint ?? "rerun to resume; the partial file is kept",
            cause: [transportError.message, transportError.cause].compactMap { $0 }.joined(separator: ": "))
        switch transportError.kind {
        case .dns, .tls, .request, .redirect: return .permanent(seedgenError)
        default: return .retryable(seedgenError)
        }
    }

    private static func statusFailure(_ status: Int, name: String, part: URL) -> DownloadFailure {
        switch status {
        case 416:
            // The part is not a prefix the server recognises (it changed, or was complete): start over.
            try? FileManager.default.removeItem(at: part)
            return .retryable(.runtime(message: "\(name): server refused the resume range", cause: "HTTP 416"))
        case 404, 410:
            return .permanent(
                .runtime(
                    message: "\(name) was not found (HTTP \(status))",
                    hint: "check the URL or the catalog entry; for a catalog image, the publisher may have moved it"))
        case 408, 429, 500...599:
            return .retryable(.runtime(message: "\(name): server error", cause: "HTTP \(status)"))
        default:
            return .permanent(.runtime(message: "\(name): unexpected HTTP status \(status)"))
        }
    }

    private func copyLocal(_ url: URL, to part: URL, includeSHA512: Bool, progress: ImageProgressReporter) throws
        -> ImageDigests
    {
        guard let input = FileHandle(forReadingAtPath: url.path) else {
            throw SeedgenError.runtime(message: "cannot read \(url.path)", cause: String(cString: strerror(errno)))
        }
        defer { try? input.close() }
        try? FileManager.default.removeItem(at: part)
        guard FileManager.default.createFile(atPath: part.path, contents: nil),
            let output = FileHandle(forWritingAtPath: part.path)
        else {
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

/// A response the downloader does not stream into the part.
private enum HTTPResponseRefusal: Error {
    case status(Int)
    case wrongResumeOffset(String)
}

/// The server's validator for the bytes in a `.part` (a strong ETag, else Last-Modified), kept in an
/// extended attribute of the part itself so it goes wherever the part goes and is deleted with it.
/// Where the file system has no user attributes, resumes go without If-Range, as before.
enum PartValidator {
    private static let attribute = "user.seedgen.validator"

    static func from(_ head: HTTPResponseHead) -> String? {
        if let tag = head.header("ETag"), !tag.hasPrefix("W/") { return tag }
        return head.header("Last-Modified")
    }

    static func read(_ part: URL) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = getxattr(part.path, attribute, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    package static func write(_ validator: String, to part: URL) {
        let bytes = Array(validator.utf8.prefix(512))
        _ = setxattr(part.path, attribute, bytes, bytes.count, 0)
    }
}
