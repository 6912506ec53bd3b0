import ArgumentParser
import Foundation
import Journal
#if canImport(Glibc)
import Glibc
#endif

/// The socket workloads of `registre bench` (shared/context/benchmarks.md): W1 through the
/// socket (system `registre-socket`), W2 (16 clients, one durable event at a time, beside the
/// `raw-groupcommit` limit), and W4 (the booking race). Each starts its own `registre serve`
/// child on a fresh journal, so the server runs exactly as services use it.
///
/// Tuning without new flags: `REGISTRE_BENCH_W2_SECONDS` (15), `REGISTRE_BENCH_W4_ATTEMPTS`
/// (100000), `REGISTRE_BENCH_SERVER_LOG_LEVEL` (notice: request lines are info),
/// `REGISTRE_BENCH_SERVER_THREADS` (the server's default: one event loop per core),
/// `REGISTRE_BENCH_CLIENT_THREADS` (1: the threads that drive the 16 client connections).
enum SocketWorkloads {
    static let clients = 16

    static func run(_ selected: Set<String>, source: [ProposedEvent], work: String, emit: (BenchRow) -> Void) throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = try setting("REGISTRE_BENCH_W2_SECONDS", in: environment, default: 15.0) { $0 > 0 && $0 <= 86_400 }
        let attempts = try setting("REGISTRE_BENCH_W4_ATTEMPTS", in: environment, default: 100_000) { $0 >= 500 }
        // Free-form copies of the benchmark events: the same bytes under bench- streams, so the
        // server checks them as a journal (limits, JSON) but not as the domain. Ids of version 8
        // are the ones the server derives for commands and bookings, and `/append` refuses them
        // from clients: the copies carry them as version 4 (the same id otherwise).
        let events = source.map { e in
            ProposedEvent(stream: "bench-" + e.stream, type: "bench." + e.type, id: e.id.map(asClientID), data: e.data, metadata: e.metadata)
        }
        if selected.contains("W1") {
            progress("W1: registre-socket, durable appends of 100 through the socket")
            emit(try w1(events, work: work + "/w1-socket"))
        }
        if selected.contains("W2") {
            progress("W2: raw group commit, 16 threads, one writer, write + fdatasync of everything pending, \(Int(seconds)) s")
            emit(rawGroupCommit(seconds: seconds, path: work + "/raw-groupcommit"))
            progress("W2: registre-socket, 16 clients appending one event at a time, \(Int(seconds)) s")
            emit(try w2(events, seconds: seconds, work: work + "/w2"))
        }
        if selected.contains("W4") {
            progress("W4: registre-socket, 16 clients racing to book 500 slots, \(attempts) attempts")
            emit(try w4(attempts: attempts, work: work + "/w4"))
        }
    }

    /// A tuning variable from the environment: absent is `fallback`; present, it must parse and
    /// pass `valid`, or the run stops with an error naming it.
    static func setting<T: LosslessStringConvertible>(_ name: String, in environment: [String: String], default fallback: T,
                                                      _ valid: (T) -> Bool) throws -> T {
        guard let text = environment[name] else { return fallback }
        guard let value = T(text), valid(value) else { throw ValidationError("\(name)=\(text) is not a usable value (default \(fallback))") }
        return value
    }

    /// `id` with its version nibble set to 4 when it is 8 (see `run`).
    static func asClientID(_ id: UUID) -> UUID {
        var bytes = id.uuid
        guard bytes.6 >> 4 == 8 else { return id }
        bytes.6 = bytes.6 & 0x0F | 0x40
        return UUID(uuid: bytes)
    }

    static func progress(_ text: String) {
        FileHandle.standardError.write(Data(("bench: " + text + "\n").utf8))
    }

    // MARK: The server under test

    final class ServerChild: @unchecked Sendable {
        let process = Process()
        let socket: String

        init(journal: String) throws {
            socket = "/tmp/registre-bench-\(UUID().uuidString.prefix(8)).sock"
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = ["serve", "--journal", journal, "--socket", socket,
                                 "--log-level", ProcessInfo.processInfo.environment["REGISTRE_BENCH_SERVER_LOG_LEVEL"] ?? "notice"]
                + (ProcessInfo.processInfo.environment["REGISTRE_BENCH_SERVER_THREADS"].map { ["--threads", $0] } ?? [])
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while (try? SocketHTTPClient(path: socket)) == nil {
                guard process.isRunning, Date() < deadline else { throw ClientError(description: "the benchmark server did not start") }
                usleep(20_000)
            }
        }

        /// CPU seconds (user + system) the server has used so far, from /proc: the machine is
        /// shared, so the server's cost per request is reported beside the wall-clock rate.
        func cpuSeconds() -> Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command name: state is field 3, utime field 14, stime field 15.
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// "server CPU 42 µs per request" over the CPU used since `since`.
        func cpuNote(since: Double, requests: Int) -> String {
            let used = cpuSeconds() - since
            return String(format: "server CPU %.1f s, %.0f µs per request", used, requests > 0 ? used / Double(requests) * 1e6 : 0)
        }

        func stop() {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    /// CPU seconds (user + system) this process has used so far: during a socket workload, the
    /// clients' threads (the server is a child, not counted until it is waited for).
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// "clients' CPU 12 µs per request" since `since`.
    static func clientCPUNote(since: Double, requests: Int) -> String {
        String(format: "clients' CPU %.0f µs per request", requests > 0 ? (ownCPUSeconds() - since) / Double(requests) * 1e6 : 0)
    }

    static func directoryBytes(_ path: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).reduce(0) { total, name in
            total + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + name))?[.size] as? NSNumber)?.intValue ?? 0)
        }
    }

    static func body(_ events: ArraySlice<ProposedEvent>) -> [UInt8] {
        AppendCommand.body(of: AppendRequest(events: Array(events)))
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    // MARK: W1

    static func w1(_ events: [ProposedEvent], work: String) throws -> BenchRow {
        let server = try ServerChild(journal: work)
        defer { server.stop() }
        // Bodies first: making them takes longer than the server's idle timeout on a busy machine,
        // and a connection opened before would be closed as idle.
        let bodies = stride(from: 0, to: events.count, by: 100).map { body(events[$0..<min($0 + 100, events.count)]) }
        let client = try SocketHTTPClient(path: server.socket)
        let cpu = server.cpuSeconds()
        let start = Date()
        for b in bodies {
            let r = try client.send("POST", "/append", json: b)
            guard r.status == 200 else { throw ClientError(description: "W1 append refused: \(describeFailure(r))") }
        }
        let elapsed = Date().timeIntervalSince(start)
        return BenchRow(workload: "W1", system: "registre-socket", events: events.count, seconds: elapsed,
                        bytesPerEvent: Double(directoryBytes(work)) / Double(events.count),
                        notes: "POST /append of 100 events, each durable before the next, one connection; free-form bench- streams (journal checks, no domain rules); \(server.cpuNote(since: cpu, requests: bodies.count))")
    }

    // MARK: W2

    static func w2(_ events: [ProposedEvent], seconds: Double, work: String) throws -> BenchRow {
        let server = try ServerChild(journal: work)
        defer { server.stop() }
        // Each client cycles through requests made before the clock starts; only the event id is
        // new in each (written in place), so every append is a new event.
        let templates = (0..<clients).map { c in
            stride(from: c, to: min(events.count, c + clients * 1024), by: clients).map { k in IdentifiedRequest(events[k]) }
        }
        let shared = Shared((latencies: [Double](), failures: 0))
        let cpu = server.cpuSeconds()
        let clientCPU = ownCPUSeconds()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = Date()
        onClientThreads { connections in
            // Seeded once from the system: SystemRandomNumberGenerator is a getrandom(2) call per
            // number, two system calls per request on the clients' share of the two cores.
            var system = SystemRandomNumberGenerator()
            let conversations = connections.map { AppendingClient(requests: templates[$0], deadline: deadline, seed: system.next()) }
            var failure: (any Error)?
            do { try BenchMultiplexer.run(path: server.socket, conversations) } catch { failure = error }
            shared.withLock {
                for client in conversations { $0.latencies += client.latencies }
                $0.failures += conversations.reduce(0) { $0 + $1.failures } + (failure == nil ? 0 : 1)
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        let failures = shared.value.failures
        let latencies = shared.value.latencies.sorted()
        return BenchRow(workload: "W2", system: "registre-socket", events: latencies.count, seconds: elapsed,
                        p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
                        notes: "16 clients, own connection each, POST /append of 1 event, durable ack; \(failures) failures; \(server.cpuNote(since: cpu, requests: latencies.count)); \(clientCPUNote(since: clientCPU, requests: latencies.count))")
    }

    /// A `POST /append` of one event whose id can be replaced in place.
    struct IdentifiedRequest: Sendable {
        let bytes: [UInt8]
        let idOffset: Int

        init(_ event: ProposedEvent) {
            var e = event
            e.id = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            let request = BenchMultiplexer.post("/append", json: SocketWorkloads.body([e][...]))
            let zero = Array(#""id":"00000000-0000-0000-0000-000000000000""#.utf8)
            bytes = request
            idOffset = (0...(request.count - zero.count)).first { request[$0..<($0 + zero.count)].elementsEqual(zero) }! + 6
        }

        /// The request with a fresh random (version 4) UUID as the event's id.
        func withNewID(_ rng: inout some RandomNumberGenerator) -> [UInt8] {
            var out = bytes
            let hex = Array("0123456789abcdef".utf8)
            var random = (rng.next() as UInt64, rng.next() as UInt64)
            random.0 = random.0 & ~0xF000 | 0x4000  // version 4
            random.1 = random.1 & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000  // variant 1
            var i = idOffset
            for n in 0..<32 {
                if n == 8 || n == 12 || n == 16 || n == 20 { i += 1 }
                let word = n < 16 ? random.0 : random.1
                out[i] = hex[Int((word >> UInt64(60 - (n % 16) * 4)) & 0xF)]
                i += 1
            }
            return out
        }
    }

    /// A W2 client: appends one event at a time, each with a fresh id, until the deadline.
    final class AppendingClient: BenchConversation {
        private let requests: [IdentifiedRequest]
        private let deadline: UInt64
        private var rng: SplitMix64
        private var k = 0
        private(set) var latencies: [Double] = []
        private(set) var failures = 0

        init(requests: [IdentifiedRequest], deadline: UInt64, seed: UInt64) {
            self.requests = requests
            self.deadline = deadline
            rng = SplitMix64(seed: seed)
            latencies.reserveCapacity(1 << 16)
        }

        func next() -> [UInt8]? {
            guard failures == 0, DispatchTime.now().uptimeNanoseconds < deadline else { return nil }
            defer { k += 1 }
            return requests[k % requests.count].withNewID(&rng)
        }

        func answered(status: Int, nanoseconds: UInt64) {
            if status == 200 { latencies.append(Double(nanoseconds) / 1e6) } else { failures += 1 }
        }
    }

    /// The physical limit for W2: 16 threads hand 300-byte records to one writer, which writes
    /// everything pending and runs one fdatasync before acknowledging them all.
    static func rawGroupCommit(seconds: Double, path: String) -> BenchRow {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd); unlink(path) }
        let queue = GroupCommitQueue()
        let writer = Thread {
            while let batch = queue.takeAll() {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(batch.count * 300)
                for item in batch { bytes += item.record }
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fdatasync(fd)
                for item in batch { item.done.signal() }
            }
        }
        writer.start()
        let shared = Shared([Double]())
        let deadline = Date().addingTimeInterval(seconds)
        let start = Date()
        onThreads(clients) { c in
            let done = DispatchSemaphore(value: 0)
            let record = [UInt8](repeating: UInt8(65 + c), count: 299) + [0x0A]
            var mine: [Double] = []
            while Date() < deadline {
                let t0 = DispatchTime.now().uptimeNanoseconds
                queue.add(record, done)
                done.wait()
                mine.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            shared.withLock { $0 += mine }
        }
        let elapsed = Date().timeIntervalSince(start)
        queue.stop()
        let latencies = shared.value.sorted()
        return BenchRow(workload: "W2", system: "raw-groupcommit", events: latencies.count, seconds: elapsed,
                        p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
                        notes: "16 threads, one writer: write + fdatasync of all pending 300-byte records, in process")
    }

    /// Records waiting for the raw group-commit writer.
    final class GroupCommitQueue: @unchecked Sendable {
        private let condition = NSCondition()
        private var pending: [(record: [UInt8], done: DispatchSemaphore)] = []
        private var stopping = false

        func add(_ record: [UInt8], _ done: DispatchSemaphore) {
            condition.lock()
            pending.append((record, done))
            condition.signal()
            condition.unlock()
        }

        /// Everything pending, waiting for at least one record; nil once stopped and empty.
        func takeAll() -> [(record: [UInt8], done: DispatchSemaphore)]? {
            condition.lock()
            defer { condition.unlock() }
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty { return nil }
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.signal()
            condition.unlock()
        }
    }

    // MARK: W4

    static func w4(attempts: Int, work: String) throws -> BenchRow {
        let server = try ServerChild(journal: work)
        defer { server.stop() }
        let setup = try SocketHTTPClient(path: server.socket)
        let hour = (Date().timeIntervalSince1970 / 3600).rounded(.down)
        let start = UTCString(Date(timeIntervalSince1970: (hour + 48) * 3600))
        let now = UTCString(Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        let slots = (0..<500).map { _ in UUID().uuidString.lowercased() }
        for batch in stride(from: 0, to: slots.count, by: 100) {
            let events = slots[batch..<min(batch + 100, slots.count)].map { slot in
                #"{"stream":"slot-grenoble-\#(slot)","type":"SlotPublished","data":{"schemaVersion":1,"slotId":"\#(slot)","site":"grenoble","motif":"filing","category":"student","start":"\#(start)","durationMinutes":15,"counter":"guichet 2","capacity":1,"releaseId":"\#(UUID().uuidString.lowercased())","occurredAt":"\#(now)"}}"#
            }
            let r = try setup.send("POST", "/append", json: Array(#"{"events":[\#(events.joined(separator: ","))]}"#.utf8))
            guard r.status == 200 else { throw ClientError(description: "W4 publication refused: \(describeFailure(r))") }
        }
        // Bodies are made before the clock starts; each attempt is a new identity on a random slot.
        var rng = SplitMix64(seed: 4)
        let fingerprint = String(repeating: "ab", count: 32)
        let bodies: [[UInt8]] = (0..<attempts).map { k in  // whole requests
            let slot = slots[Int(rng.next() % 500)]
            let identity = String(format: "%064x", k + 1)
            let data = #"{"schemaVersion":1,"appointmentId":"\#(UUID().uuidString.lowercased())","identityKey":"\#(identity)","site":"grenoble","slotId":"\#(slot)","motif":"filing","category":"student","start":"\#(start)","fingerprint":"\#(fingerprint)","occurredAt":"\#(now)"}"#
            return BenchMultiplexer.post("/append", json: Array(#"{"events":[{"stream":"slot-grenoble-\#(slot)","type":"AppointmentBooked","data":\#(data)},{"stream":"applicant-\#(identity)","type":"AppointmentBooked","data":\#(data)}],"expectedVersions":{"slot-grenoble-\#(slot)":0,"applicant-\#(identity)":"noStream"}}"#.utf8))
        }
        let shared = Shared([Int: Int]())
        let cpu = server.cpuSeconds()
        let clientCPU = ownCPUSeconds()
        let clock = Date()
        onClientThreads { connections in
            let conversations = connections.map { c in BookingClient(requests: stride(from: c, to: attempts, by: clients).map { bodies[$0] }) }
            let failed = (try? BenchMultiplexer.run(path: server.socket, conversations)) == nil
            shared.withLock {
                for client in conversations { for (s, n) in client.statuses { $0[s, default: 0] += n } }
                if failed { $0[-1, default: 0] += 1 }
            }
        }
        let elapsed = Date().timeIntervalSince(clock)
        let statuses = shared.value
        let booked = statuses[200] ?? 0
        let others = statuses.filter { $0.key != 200 && $0.key != 409 }.map { "\($0.value)×\($0.key)" }.joined(separator: " ")
        return BenchRow(workload: "W4", system: "registre-socket", events: attempts, seconds: elapsed,
                        notes: "bookings \(booked) (must be 500), conflicts \(statuses[409] ?? 0)\(others.isEmpty ? "" : ", other \(others)"); POST /append of AppointmentBooked in slot + applicant streams with expectedVersions, rules checked on live state; events/s = attempts/s; \(server.cpuNote(since: cpu, requests: attempts)); \(clientCPUNote(since: clientCPU, requests: attempts))")
    }

    /// A W4 client: sends its share of the booking attempts, one at a time, and counts the statuses.
    final class BookingClient: BenchConversation {
        private let requests: [[UInt8]]
        private var k = 0
        private(set) var statuses: [Int: Int] = [:]

        init(requests: [[UInt8]]) { self.requests = requests }

        func next() -> [UInt8]? {
            guard k < requests.count else { return nil }
            defer { k += 1 }
            return requests[k]
        }

        func answered(status: Int, nanoseconds: UInt64) { statuses[status, default: 0] += 1 }
    }

    /// Runs the 16 clients' connections on `REGISTRE_BENCH_CLIENT_THREADS` threads (1 by
    /// default), each driving its share through `BenchMultiplexer`; `body` gets the indices of
    /// its connections.
    static func onClientThreads(_ body: @escaping @Sendable ([Int]) -> Void) {
        let threads = min(clients, max(1, Int(ProcessInfo.processInfo.environment["REGISTRE_BENCH_CLIENT_THREADS"] ?? "") ?? 1))
        onThreads(threads) { t in body(Array(stride(from: t, to: clients, by: threads))) }
    }

    static func UTCString(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

/// Runs `body` on `count` threads of its own at once (concurrentPerform would use one thread per
/// core, which is not 16 concurrent clients) and returns when all are done.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for k in 0..<count {
        done.enter()
        let thread = Thread {
            body(k)
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
}

/// Results gathered from the benchmark's client threads.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&stored) } }
    var value: Value { lock.withLock { stored } }
}
