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

/// Writes one line to standard error. Messages carry text from the input (stream ids, file
/// names, a server's answer), so control characters are written as escapes such as `\u{1B}`:
/// an escape sequence in an import line must not drive the terminal, and a newline in it must
/// not start a line that looks like another message.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("registre: " + terminalSafe(message) + "\n").utf8))
}

/// `text` with every control character (C0, DEL and C1, which some terminals also obey) written
/// as `\u{XX}`, and nothing else changed.
func terminalSafe(_ text: String) -> String {
    // C1 characters are U+0080-U+009F, two bytes in UTF-8 whose first is 0xC2.
    guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 }) else { return text }
    var out = ""
    out.reserveCapacity(text.utf8.count + 16)
    for scalar in text.unicodeScalars {
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            out += "\\u{" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2) + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
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
