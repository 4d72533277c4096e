import Foundation
import SeedgenCore

/// Download/verify progress on stderr: a redrawn bar (bytes, rate, ETA) on a terminal, a line per
/// 10 % otherwise, nothing with `--progress none`.
public final class ImageProgressReporter: @unchecked Sendable {
    private let mode: ProgressMode
    private let label: String
    private let lock = NSLock()
    private var total: UInt64?
    private var start = ContinuousClock.now
    /// In the past, so the first update draws at once (a short transfer still shows its bar).
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var lastPlainStep = -1
    private var lastPlainTime = ContinuousClock.now
    private var drewBar = false

    public init(mode: ProgressMode, label: String) {
        self.mode = mode.resolved
        self.label = label
    }

    /// A new transfer starts (or restarts): `total` bytes expected when known, `already` present.
    public func begin(total: UInt64?) {
        lock.withLock {
            self.total = total
            start = .now
            lastPlainStep = -1
        }
    }

    public func update(_ bytes: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        switch mode {
        case .none: return
        case .auto, .bar:
            guard now - lastDraw >= .milliseconds(200) else { return }
            lastDraw = now
            drewBar = true
            Terminal.standardError.write("\r\u{1B}[K" + barLine(bytes, now: now))
        case .plain:
            if let total, total > 0 {
                let step = Int(bytes * 10 / total)
                guard step > lastPlainStep else { return }
                lastPlainStep = step
            } else {
                guard now - lastPlainTime >= .seconds(10) else { return }
            }
            lastPlainTime = now
            Terminal.standardError.write(statusLine(bytes, now: now) + "\n")
        }
    }

    /// Ends the display with a final line.
    public func finish(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        switch mode {
        case .none: return
        case .auto, .bar:
            Terminal.standardError.write((drewBar ? "\r\u{1B}[K" : "") + message + "\n")
        case .plain:
            Terminal.standardError.write(message + "\n")
        }
        drewBar = false
    }

    public func note(_ message: String) {
        guard mode != .none else { return }
        lock.withLock {
            Terminal.standardError.write((drewBar ? "\r\u{1B}[K" : "") + message + "\n")
            drewBar = false
        }
    }

    private func rate(_ bytes: UInt64, now: ContinuousClock.Instant) -> Double {
        let seconds = max(0.001, Self.seconds(now - start))
        return Double(bytes) / seconds
    }

    private func statusLine(_ bytes: UInt64, now: ContinuousClock.Instant) -> String {
        let speed = rate(bytes, now: now)
        var text = "\(label): \(ByteSize.readable(bytes))"
        if let total, total > 0 { text += " / \(ByteSize.readable(total)) (\(bytes * 100 / total)%)" }
        text += ", \(ByteSize.readable(UInt64(speed)))/s"
        return text
    }

    private func barLine(_ bytes: UInt64, now: ContinuousClock.Instant) -> String {
        let speed = rate(bytes, now: now)
        guard let total, total > 0 else { return statusLine(bytes, now: now) }
        let width = 24
        let filled = min(width, Int(bytes * UInt64(width) / total))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let remaining = speed > 0 ? Double(total &- min(bytes, total)) / speed : 0
        return
            "\(label) [\(bar)] \(bytes * 100 / total)% \(ByteSize.readable(bytes))/\(ByteSize.readable(total)) "
            + "\(ByteSize.readable(UInt64(speed)))/s ETA \(Self.formatDuration(remaining))"
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func formatDuration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return String(format: "%d:%02d", total / 60, total % 60)
    }
}
