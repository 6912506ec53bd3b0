import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Buffered standard output that stops quietly when the reader goes away (`registre replay | head`).
final class StandardOutput {
    private var buffer: [UInt8] = []
    private(set) var closedByReader = false

    init() {
        signal(SIGPIPE, SIG_IGN)
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { flush() }
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    /// Appends through a closure, to avoid an intermediate array per line.
    func append(_ body: (inout [UInt8]) -> Void) {
        body(&buffer)
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        guard !closedByReader else { buffer.removeAll(keepingCapacity: true); return }
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                closedByReader = true
                break
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data(("registre: " + message + "\n").utf8))
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar {
    private let label: String
    private let total: UInt64?
    private let enabled = isatty(2) == 1
    private var lastDraw = Date.distantPast
    private let started = Date()

    init(_ label: String, total: UInt64? = nil) {
        self.label = label
        self.total = total
    }

    func update(_ done: UInt64, unit: String = "events") {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
        var line = "\r\(label): \(done) \(unit) (\(Int(rate))/s)"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            line = "\r\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(Int(fraction * 100))% (\(Int(rate)) \(unit)/s)"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
