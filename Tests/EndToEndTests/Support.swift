import Foundation
import Testing
@testable import Journal
#if canImport(Glibc)
import Glibc
#endif

/// Where the `registre` binary under test is: next to the test executable (`swift build
/// --build-tests` puts both in `.build/<configuration>/`), else `.build/debug/registre` in the
/// package found from this file. `REGISTRE_BINARY` overrides both.
enum RegistreBinary {
    static let path: String = {
        let fm = FileManager.default
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["REGISTRE_BINARY"] { candidates.append(explicit) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent("registre").path)
        // macOS: the bundle is .build/debug/X.xctest/Contents/MacOS/X.
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("registre").path)
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/registre").path)
        return candidates.first { fm.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()
}

/// A fresh directory under the system temporary directory, removed when the value is released.
final class ScratchDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String) {
        path = NSTemporaryDirectory() + "registre-e2e-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Directories of process-wide fixtures, removed by an `atexit` handler.
nonisolated(unsafe) private var directoriesToRemoveAtExit: [String] = []
private let removalAtExitRegistered: Void = { atexit { directoriesToRemoveAtExit.forEach { try? FileManager.default.removeItem(atPath: $0) } } }()
private let removalLock = NSLock()

func removeAtExit(_ path: String) {
    removalLock.withLock {
        _ = removalAtExitRegistered
        directoriesToRemoveAtExit.append(path)
    }
}

/// How a child process ended, with everything it wrote.
struct Outcome: CustomStringConvertible {
    var status: Int32
    /// True when the process died by signal `status` rather than exiting with it.
    var signaled: Bool
    /// True when the wait ran out and the test killed the process.
    var timedOut: Bool
    var stdout: Data
    var stderr: Data

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    func exited(_ code: Int32) -> Bool { !signaled && !timedOut && status == code }

    var description: String {
        let how = timedOut ? "timed out (killed)" : signaled ? "killed by signal \(status)" : "exit \(status)"
        return "\(how)\n--- stdout (\(stdout.count) bytes):\n\(out.suffix(2000))\n--- stderr:\n\(err.suffix(2000))"
    }
}

/// A child process whose standard output and error are drained on threads of their own, so a
/// chatty child never blocks on a full pipe. Every wait is bounded.
final class Child: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let drained = DispatchGroup()
    private let exited = DispatchSemaphore(value: 0)
    /// The read end of standard output when the caller reads it itself (`captureOutput: false`).
    let outputPipe = Pipe()

    init(executable: String = RegistreBinary.path, _ arguments: [String], captureOutput: Bool = true) throws {
        let errorPipe = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
        if captureOutput { drain(outputPipe.fileHandleForReading, toStandardOutput: true) }
        drain(errorPipe.fileHandleForReading, toStandardOutput: false)
    }

    private func drain(_ handle: FileHandle, toStandardOutput: Bool) {
        drained.enter()
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { if toStandardOutput { out.append(chunk) } else { err.append(chunk) } }
            }
            drained.leave()
        }
        thread.start()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) { _ = Glibc.kill(pid, number) }

    /// Waits at most `timeout` seconds for the child to end; past that it is SIGKILLed and the
    /// outcome says `timedOut`.
    func wait(timeout: Double) -> Outcome {
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            signal(SIGKILL)
            _ = exited.wait(timeout: .now() + 10)
        }
        _ = drained.wait(timeout: .now() + 10)
        let (o, e) = lock.withLock { (out, err) }
        return Outcome(status: process.isRunning ? -1 : process.terminationStatus,
                       signaled: !process.isRunning && process.terminationReason == .uncaughtSignal,
                       timedOut: timedOut, stdout: o, stderr: e)
    }

    /// SIGKILL and reap, for cleanup paths.
    func killAndReap() -> Outcome {
        if process.isRunning { signal(SIGKILL) }
        return wait(timeout: 10)
    }
}

/// Runs `registre` with `arguments` to completion, at most `timeout` seconds.
func registre(_ arguments: [String], timeout: Double = 120) throws -> Outcome {
    try Child(arguments).wait(timeout: timeout)
}

/// Runs a shell command line (`/bin/sh -c`) with positional parameters $0, $1, ...
func shell(_ script: String, _ parameters: [String], timeout: Double = 120) throws -> Outcome {
    try Child(executable: "/bin/sh", ["-c", script] + parameters).wait(timeout: timeout)
}

/// Journal options for tests that write in-process: quiet, small segments when asked.
func quietOptions(segmentSize: Int = 64 << 20) -> JournalOptions {
    var o = JournalOptions()
    o.segmentSizeLimit = segmentSize
    o.log = { _ in }
    return o
}

func segmentFiles(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

/// Every event of a journal directory, read with the lock-free reader.
func allEvents(_ directory: String) throws -> [RecordedEvent] {
    try JournalReader(directory: directory).read()
}

/// Lines of text that ended with a newline; a last line cut short by a kill is left out.
func completeLines(_ data: Data) -> [Substring] {
    let text = String(decoding: data, as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    lines.removeLast()  // what follows the last newline: empty, or a line cut short
    return lines
}

/// Parses a JSON object, or nil.
func jsonObject(_ bytes: some Sequence<UInt8>) -> [String: Any]? {
    try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
}

/// Polls `condition` every 10 ms for at most `timeout` seconds.
func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
