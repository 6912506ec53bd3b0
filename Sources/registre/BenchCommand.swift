import Synchronization
import ArgumentParser
import CZstd
import Foundation
import Journal
import Projections
import Simulator
#if canImport(Glibc)
import Glibc
#endif

/// `registre bench`: the standard workloads of shared/context/benchmarks.md, one JSON line each.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the standard workloads and print one JSON object per workload and system on stdout.",
        discussion: """
        W1 bulk durable ingest (batches of 100, each synced) beside raw write+fdatasync of the same NDJSON; \
        W3 replay with a small fold, beside zstd decompression of the same NDJSON; W5 cold start of a large \
        journal, measured in a fresh child process. Progress goes to stderr. Build with `make release` first: \
        debug builds are several times slower.
        """
    )

    @Option(help: "NDJSON events to use (the `registre import` format); generated when absent.")
    var events: String?

    @Option(help: "How many events to generate for W1 and W3.")
    var count: Int = 1_000_000

    @Option(help: "Events in the journal opened by W5.")
    var coldStartEvents: Int = 10_000_000

    @Option(help: "Events in the journal the rebuild workload folds.")
    var rebuildEvents: Int = 10_000_000
    @Option(help: "Events in the journal the `audit` workload writes and audits.")
    var auditEvents: Int = 10_000_000

    @Option(help: "Workloads to run, comma-separated.")
    var workloads: String = "W1,W3,W5"

    @Option(help: "Directory for the benchmark's journals (default: a new temporary directory).")
    var directory: String?

    @Flag(help: "Also print a Markdown table of the results (on stdout, after the JSON lines).")
    var markdown = false

    @Flag(help: "Keep the benchmark's journals instead of removing them.")
    var keep = false

    @Option(help: "zstd level for the journal's frames (0: store uncompressed).")
    var compressionLevel: Int32 = JournalOptions().compressionLevel

    @Flag(help: "W1 without fdatasync, to separate CPU cost from sync cost (not a durable figure).")
    var relaxed = false

    @Option(help: "Decoded bytes of frames per block when W1's sealed segments are packed (0: do not pack).")
    var packBlockBytes: Int = SegmentPacking().blockBytes

    @Option(help: "Zeros W1's writer lays down ahead of its frames so that their fdatasync does not change the file size (0: none, each frame extends the file).")
    var preallocationBytes: Int = JournalOptions().preallocationBytes

    @Option(help: "zstd level of the blocks of packed segments in W1.")
    var packLevel: Int32 = SegmentPacking().compressionLevel

    func validate() throws {
        guard count >= 100 else { throw ValidationError("--count must be at least 100") }
        for (flag, value) in [("--cold-start-events", coldStartEvents), ("--rebuild-events", rebuildEvents), ("--audit-events", auditEvents)] {
            guard value >= 1 else { throw ValidationError("\(flag) must be at least 1, not \(value)") }
        }
        guard packBlockBytes == 0 || (4_096...(16 << 20)).contains(packBlockBytes) else {
            throw ValidationError("--pack-block-bytes must be 0 (no packing) or between 4096 and 16 MiB, not \(packBlockBytes)")
        }
        guard (0...(1 << 30)).contains(preallocationBytes) else {
            throw ValidationError("--preallocation-bytes must be between 0 (none) and 1 GiB, not \(preallocationBytes)")
        }
        guard (0...19).contains(packLevel) else { throw ValidationError("--pack-level must be between 0 and 19, not \(packLevel)") }
        // The journal stores frames uncompressed at level 0 and below: a negative level would be
        // reported as a zstd level it never used.
        guard (0...19).contains(compressionLevel) else { throw ValidationError("--compression-level must be between 0 and 19, not \(compressionLevel)") }
        let known: Set<String> = ["W1", "W2", "W3", "W4", "W5", "rebuild", "audit"]
        for w in workloads.split(separator: ",") where !known.contains(String(w)) {
            throw ValidationError("unknown workload '\(w)'; this build runs \(known.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        let selected = Set(workloads.split(separator: ",").map(String.init))
        let work = try BenchDirectory(directory, writing: Self.entries(for: selected))
        defer { if !keep { work.removeWhatThisRunMade() } }
        try run(selected, in: work.path)
    }

    /// What each workload writes in the benchmark's directory. `rebuild/` is reused when a run
    /// kept it (its history takes minutes to write); the others must be new.
    private static func entries(for selected: Set<String>) -> [String] {
        var names: [String] = []
        if !selected.isDisjoint(with: ["W1", "W3"]) { names += ["raw.ndjson", "w1"] }
        if selected.contains("W5") { names += ["w5"] }
        if selected.contains("W1") { names += ["w1-socket"] }
        if selected.contains("W2") { names += ["raw-groupcommit", "w2"] }
        if selected.contains("W4") { names += ["w4"] }
        if selected.contains("audit") { names += ["audit", "audit.key", "audit.pub"] }
        return names
    }

    private func run(_ selected: Set<String>, in work: String) throws {
        var rows: [BenchRow] = []
        func emit(_ row: BenchRow) {
            rows.append(row)
            print(row.jsonLine)
            fflush(nil)
        }

        if selected.contains("rebuild") { emit(try rebuild(directory: work + "/rebuild")) }
        if selected.isSubset(of: ["rebuild"]) {
            if markdown { print(BenchRow.markdown(rows)) }
            return
        }
        let source = try loadEvents()
        let ndjson = source.map { ndjsonLine(of: $0) }
        let ndjsonBytes = ndjson.reduce(0) { $0 + $1.count }
        progress("events: \(source.count), \(ndjsonBytes / source.count) bytes each as NDJSON on average")

        if selected.contains("W1") || selected.contains("W3") {
            progress("W1: raw write + fdatasync per batch of 100")
            emit(try rawFdatasync(ndjson, path: work + "/raw.ndjson"))
            progress("W1: registre, durable appends of 100")
            emit(try ingest(source, directory: work + "/w1"))
        }
        if selected.contains("W3") {
            progress("W3: zstd -1 decompression of the same NDJSON")
            emit(zstdBaseline(ndjson, bytes: ndjsonBytes))
            progress("W3: registre replay with a fold")
            emit(try replay(directory: work + "/w1"))
        }
        if selected.contains("W5") {
            emit(try coldStart(directory: work + "/w5", template: source))
        }
        try SocketWorkloads.run(selected, source: source, work: work, emit: emit)
        if selected.contains("audit") {
            for row in try auditWorkload(directory: work + "/audit", events: auditEvents) { emit(row) }
        }
        if markdown { print(BenchRow.markdown(rows)) }
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data(("bench: " + text + "\n").utf8))
    }

    private func loadEvents() throws -> [ProposedEvent] {
        guard let events else {
            // The realistic mix: the simulated Isère prefecture, sized to give `count` events.
            var out: [ProposedEvent] = []
            out.reserveCapacity(count)
            let profile = SimulationProfile.isere2024(scale: max(0.05, Double(count) / 200_000), years: 2, seed: 326)
            for append in Simulator.events(profile: profile) {
                for e in append.events {
                    out.append(ProposedEvent(stream: e.stream, type: e.type, id: e.id, data: e.data, metadata: e.metadata))
                    if out.count == count { return out }
                }
            }
            return out
        }
        guard let handle = FileHandle(forReadingAtPath: events) else { throw ValidationError("cannot read \(events)") }
        var out: [ProposedEvent] = []
        var n = 0
        do {
            try LineReader(handle).forEachLine { line in
                n += 1
                guard !line.isEmpty else { return }
                do { out.append(try ImportLine(parsing: line).event) } catch {
                    throw ValidationError("\(events) line \(n): \(error)")
                }
            }
        } catch let failure as LineReader.Failure {
            throw ValidationError("\(events) \(failure)")
        }
        for i in out.indices where out[i].id == nil { out[i].id = UUID() }
        return out
    }

    private func ndjsonLine(of e: ProposedEvent) -> [UInt8] {
        var line = WireFormat.json(of: RecordedEvent(position: 0, stream: e.stream, version: 0, id: e.id ?? UUID(), type: e.type,
                                                     recordedAtMicros: 0, metadata: e.metadata, data: e.data, endsAppend: false))
        line.append(0x0A)
        return line
    }

    // MARK: W1

    private func rawFdatasync(_ lines: [[UInt8]], path: String) throws -> BenchRow {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot create \(path)") }
        defer { close(fd) }
        let start = Date()
        var i = 0
        var bytes = 0
        while i < lines.count {
            var batch: [UInt8] = []
            for line in lines[i..<min(i + 100, lines.count)] { batch.append(contentsOf: line) }
            let n = batch.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == batch.count, fdatasync(fd) == 0 else { throw ValidationError("raw write failed") }
            bytes += batch.count
            i += 100
        }
        let seconds = Date().timeIntervalSince(start)
        return BenchRow(workload: "W1", system: "raw-fdatasync", events: lines.count, seconds: seconds,
                        bytesPerEvent: Double(bytes) / Double(lines.count), notes: "write + fdatasync of the NDJSON, one per batch of 100")
    }

    private func ingest(_ events: [ProposedEvent], directory: String) throws -> BenchRow {
        var options = JournalOptions()
        options.compressionLevel = compressionLevel
        options.preallocationBytes = preallocationBytes
        options.packing = packing
        if relaxed { options.durability = .relaxed }
        // Where the time of a batch goes: write + fdatasync, against the rest (CPU and hand-offs).
        let syncTime = Mutex<Duration>(.zero)
        options.onCommit = { stats in syncTime.withLock { $0 += stats.writeAndSync } }
        let journal = try Journal.open(directory: directory, options: options)
        let start = Date()
        let cpuAtStart = SocketWorkloads.ownCPUSeconds()
        var i = 0
        let bar = ProgressBar("W1", total: UInt64(events.count))
        while i < events.count {
            _ = try journal.appendAndWait(AppendRequest(events: Array(events[i..<min(i + 100, events.count)])))
            i += 100
            bar.update(UInt64(i))
        }
        let seconds = Date().timeIntervalSince(start)
        // Every thread of this process: the caller's checks, the writer, the Merkle hasher, and
        // the packer when a segment was sealed during the run.
        let cpuPerBatch = (SocketWorkloads.ownCPUSeconds() - cpuAtStart) * 1000 / Double((events.count + 99) / 100)
        bar.finish()
        journal.close()
        let disk = try directoryBytes(directory)
        return BenchRow(workload: "W1", system: "registre", events: events.count, seconds: seconds,
                        bytesPerEvent: Double(disk.total) / Double(events.count),
                        notes: "in process, \(relaxed ? "RELAXED (no sync)" : "durable (fdatasync per append)"), zstd level \(compressionLevel); \(preallocationBytes > 0 ? "\(preallocationBytes >> 10) KiB preallocated ahead of the frames" : "no preallocation"); \(packing.map { "sealed segments packed in \($0.blockBytes >> 10) KiB blocks at zstd level \($0.compressionLevel)" } ?? "sealed segments not packed"); \(Self.sealedFootprint(disk)); per batch of 100: \(String(format: "%.2f", Self.milliseconds(syncTime.withLock { $0 }) / Double((events.count + 99) / 100))) ms in write + fdatasync, \(String(format: "%.2f", (seconds * 1000 - Self.milliseconds(syncTime.withLock { $0 })) / Double((events.count + 99) / 100))) ms in the rest; CPU \(String(format: "%.2f", cpuPerBatch)) ms per batch (all threads)")
    }

    private var packing: SegmentPacking? {
        guard packBlockBytes > 0 else { return nil }
        var p = SegmentPacking()
        p.blockBytes = packBlockBytes
        p.compressionLevel = packLevel
        return p
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// Bytes on disk, and the same for the sealed segments alone: only they have an index yet, so
    /// they show what a journal costs once its segments are sealed.
    private func directoryBytes(_ path: String) throws -> (total: Int, segments: Int, indexes: Int, sealedEvents: Int, sealedSegments: Int) {
        var segments = 0, indexes = 0
        var segmentSizes: [(first: Int, size: Int)] = []
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            let size = (try FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? NSNumber)?.intValue ?? 0
            if name.hasSuffix(".seg") {
                segments += size
                if let first = Int(name.dropLast(4)) { segmentSizes.append((first, size)) }
            } else if name.hasSuffix(".idx") { indexes += size }
        }
        segmentSizes.sort { $0.first < $1.first }
        if let last = segmentSizes.last {
            // The open segment's preallocated zeros hold no event: the next frames overwrite them.
            segments -= try Self.trailingZeroBytes(path + "/" + String(format: "%020d.seg", last.first))
        }
        let sealed = segmentSizes.dropLast()
        return (segments + indexes, segments, indexes, segmentSizes.last?.first ?? 0, sealed.reduce(0) { $0 + $1.size })
    }

    /// How many zero bytes end the file: the open segment's preallocated space (and any zero
    /// bytes that end its last frame, a few at most, which only rounds the figure).
    private static func trailingZeroBytes(_ path: String) throws -> Int {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var end = data.count
        while end > 0, data[end - 1] == 0 { end -= 1 }
        return data.count - end
    }

    /// "sealed segments: 84 B/event + index 18 B/event", or a note that none is sealed yet.
    private static func sealedFootprint(_ d: (total: Int, segments: Int, indexes: Int, sealedEvents: Int, sealedSegments: Int)) -> String {
        guard d.sealedEvents > 0 else { return "no segment sealed yet, so no index on disk" }
        return String(format: "sealed segments (%d events): %.1f B/event + index %.1f B/event", d.sealedEvents,
                      Double(d.sealedSegments) / Double(d.sealedEvents), Double(d.indexes) / Double(d.sealedEvents))
    }

    // MARK: W3

    private func zstdBaseline(_ lines: [[UInt8]], bytes: Int) -> BenchRow {
        var all: [UInt8] = []
        all.reserveCapacity(bytes)
        for l in lines { all.append(contentsOf: l) }
        let bound = ZSTD_compressBound(all.count)
        var compressed = [UInt8](repeating: 0, count: bound)
        let csize = all.withUnsafeBytes { src in compressed.withUnsafeMutableBytes { dst in ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, 1) } }
        var output = [UInt8](repeating: 0, count: all.count)
        let start = Date()
        let n = compressed.withUnsafeBytes { src in output.withUnsafeMutableBytes { dst in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, csize) } }
        let seconds = Date().timeIntervalSince(start)
        precondition(n == all.count)
        return BenchRow(workload: "W3", system: "zstd-decompress", events: lines.count, seconds: seconds,
                        bytesPerEvent: Double(csize) / Double(lines.count), notes: "zstd -1 over the whole NDJSON, decompression only, one core")
    }

    private func replay(directory: String) throws -> BenchRow {
        let reader = try JournalReader(directory: directory)
        var byType: [UInt64: (name: String, count: Int)] = [:]
        var byCategory: [UInt64: (name: String, count: Int)] = [:]
        var n = 0
        let start = Date()
        try reader.forEachEvent { view in
            n += 1
            let type = view.typeBytes
            let th = fastHash(type)
            if byType[th] == nil { byType[th] = (String(decoding: type, as: UTF8.self), 0) }
            byType[th]!.count += 1
            let stream = view.streamBytes
            let dash = stream.firstIndex(of: UInt8(ascii: "-")) ?? stream.count
            let category = UnsafeRawBufferPointer(rebasing: stream[0..<dash])
            let ch = fastHash(category)
            if byCategory[ch] == nil { byCategory[ch] = (String(decoding: category, as: UTF8.self), 0) }
            byCategory[ch]!.count += 1
            return true
        }
        let seconds = Date().timeIntervalSince(start)
        return BenchRow(workload: "W3", system: "registre", events: n, seconds: seconds,
                        notes: "in process, one core: read, CRC, zstd, decode envelopes, count per type (\(byType.count)) and stream category (\(byCategory.count))")
    }

    @inline(__always) private func fastHash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    // MARK: rebuild

    /// All four projections folded from a journal written through the decision functions.
    private func rebuild(directory: String) throws -> BenchRow {
        if FileManager.default.fileExists(atPath: directory) {
            progress("rebuild: reusing the history already in \(directory) (kept by --keep)")
        } else {
            progress("rebuild: writing a history of \(rebuildEvents) events through the decisions (relaxed durability)")
            var options = JournalOptions()
            options.durability = .relaxed
            let journal = try Journal.open(directory: directory, options: options)
            let bar = ProgressBar("rebuild fill", total: UInt64(rebuildEvents))
            var generator = HistoryGenerator()
            try generator.write(events: rebuildEvents, to: journal) { bar.update(UInt64($0)) }
            bar.finish()
            journal.close()
        }
        progress("rebuild: folding slot availability, dossier status, delays and abuse signals")
        let m = try ProjectionRebuild.rebuildBenchmark(journal: directory)
        return BenchRow(workload: "rebuild", system: "registre", events: Int(m.events), seconds: m.seconds,
                        notes: "in process, one core, all four projections, no output; CPU \(String(format: "%.2f", m.cpuSeconds)) s = \(Int(Double(m.events) / max(m.cpuSeconds, 1e-9))) events per CPU-second; \(m.entities) live entities, resident growth \(Int(m.bytesPerEntity)) B/entity")
    }

    // MARK: W5

    private func coldStart(directory: String, template: [ProposedEvent]) throws -> BenchRow {
        progress("W5: writing a journal of \(coldStartEvents) events (relaxed durability, batches of 1000)")
        var options = JournalOptions()
        options.durability = .relaxed
        let journal = try Journal.open(directory: directory, options: options)
        let bar = ProgressBar("W5 fill", total: UInt64(coldStartEvents))
        var i = 0
        while i < coldStartEvents {
            let n = min(1000, coldStartEvents - i)
            var batch: [ProposedEvent] = []
            batch.reserveCapacity(n)
            for k in 0..<n {
                var e = template[(i + k) % template.count]
                e.id = nil
                batch.append(e)
            }
            _ = try journal.appendAndWait(AppendRequest(events: batch))
            i += n
            bar.update(UInt64(i))
        }
        bar.finish()
        journal.close()
        sync()
        let dropped = (try? "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)) != nil
        progress("W5: opening it in a fresh process\(dropped ? " after dropping the page cache" : " (page cache warm: could not drop it)")")
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        probe.arguments = ["open-probe", "--journal", directory]
        let pipe = Pipe()
        probe.standardOutput = pipe
        try probe.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        probe.waitUntilExit()
        let fields = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        guard probe.terminationStatus == 0, fields.count == 3, let seconds = Double(fields[0]), let rss = Int(fields[1]), let peak = Int(fields[2]) else {
            throw ValidationError("the W5 probe failed: \(String(decoding: output, as: UTF8.self))")
        }
        return BenchRow(workload: "W5", system: "registre", events: coldStartEvents, seconds: seconds, residentMiB: Double(rss) / 1024,
                        notes: "open + first durable append in a fresh process; peak RSS \(peak / 1024) MiB; page cache \(dropped ? "dropped" : "warm")")
    }
}

/// The child process W5 measures: open, append one event, report time and memory.
struct OpenProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "open-probe", abstract: "Used by bench W5.", shouldDisplay: false)
    @OptionGroup var location: JournalLocation

    func run() throws {
        let start = Date()
        let journal = try Journal.open(directory: location.journal)
        _ = try journal.appendAndWait(AppendRequest(events: [ProposedEvent(stream: "probe", type: "Probe", data: Array("{}".utf8))]))
        let seconds = Date().timeIntervalSince(start)
        journal.close()
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func kb(_ key: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
        }
        print("\(seconds) \(kb("VmRSS:")) \(kb("VmHWM:"))")
    }
}

struct BenchRow {
    var workload: String
    var system: String
    var events: Int
    var seconds: Double
    var p50Ms: Double? = nil
    var p99Ms: Double? = nil
    var bytesPerEvent: Double? = nil
    var residentMiB: Double? = nil
    var notes: String

    var eventsPerSecond: Double { Double(events) / max(seconds, 1e-9) }

    var jsonLine: String {
        var fields = [#""workload":"\#(workload)""#, #""system":"\#(system)""#, #""events":\#(events)"#,
                      #""seconds":\#(round3(seconds))"#, #""eventsPerSecond":\#(Int(eventsPerSecond))"#]
        if let p50Ms { fields.append(#""p50Ms":\#(round3(p50Ms))"#) }
        if let p99Ms { fields.append(#""p99Ms":\#(round3(p99Ms))"#) }
        if let bytesPerEvent { fields.append(#""bytesPerEvent":\#(round3(bytesPerEvent))"#) }
        if let residentMiB { fields.append(#""residentMiB":\#(round3(residentMiB))"#) }
        fields.append(#""notes":"\#(notes.replacingOccurrences(of: "\"", with: "'"))""#)
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    static func markdown(_ rows: [BenchRow]) -> String {
        var out = "| workload | system | events | events/s | bytes/event | other | notes |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            var other: [String] = []
            if let p50 = r.p50Ms { other.append("p50 \(p50) ms") }
            if let p99 = r.p99Ms { other.append("p99 \(p99) ms") }
            if let rss = r.residentMiB { other.append("\(Int(rss)) MiB resident, \(String(format: "%.2f", r.seconds)) s") }
            out += "| \(r.workload) | \(r.system) | \(r.events) | \(Int(r.eventsPerSecond)) | \(r.bytesPerEvent.map { String(format: "%.1f", $0) } ?? "–") | \(other.joined(separator: ", ")) | \(r.notes) |\n"
        }
        return out
    }
}
