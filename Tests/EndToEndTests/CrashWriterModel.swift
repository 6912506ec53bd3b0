import Foundation
@testable import Journal

/// What `registre crash-writer` writes: appends of 3 events, part k to stream `crash-<task>-<k>`,
/// each event's data `{"group":"<uuid>","part":k,...}`; and for every acknowledged append one
/// line `ack <group> <firstPosition> <id1>,<id2>,<id3>`.
struct CrashAck: Hashable {
    var group: String
    var firstPosition: UInt64
    var ids: [UUID]

    /// Acks from the writer's standard output; a line cut short by the kill is ignored, any other
    /// line that is not an ack is returned as a problem.
    static func parse(_ output: Data) -> (acks: [CrashAck], problems: [String]) {
        var acks: [CrashAck] = []
        var problems: [String] = []
        for line in completeLines(output) {
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[0] == "ack", let first = UInt64(parts[2]) else {
                problems.append("not an ack line: \(line.prefix(200))")
                continue
            }
            let ids = parts[3].split(separator: ",").compactMap { UUID(uuidString: String($0)) }
            guard ids.count == 3 else { problems.append("ack without 3 ids: \(line.prefix(200))"); continue }
            acks.append(CrashAck(group: String(parts[1]), firstPosition: first, ids: ids))
        }
        return (acks, problems)
    }
}

/// One crash-writer event as read back, from the journal or from `registre replay`.
struct CrashEvent: Equatable {
    var position: UInt64
    var id: UUID
    var stream: String
    var group: String
    var part: Int
    /// Known when read through the library; replay output does not carry it.
    var endsAppend: Bool?

    init?(_ e: RecordedEvent) {
        guard let (group, part) = Self.groupAndPart(e.data) else { return nil }
        self.init(position: e.position, id: e.id, stream: e.stream, group: group, part: part, endsAppend: e.endsAppend)
    }

    private static let prefix = Array(#"{"group":""#.utf8), middle = Array(#"","part":"#.utf8)

    /// The writer's data starts `{"group":"<36-character uuid>","part":<digit>,`: read that
    /// directly (the soak reads every event after every kill), else parse the JSON.
    static func groupAndPart(_ data: [UInt8]) -> (String, Int)? {
        let p = prefix.count, m = p + 36 + middle.count
        if data.count > m + 1, data[0..<p].elementsEqual(prefix), data[(p + 36)..<m].elementsEqual(middle),
           (48...57).contains(data[m]), data[m + 1] == UInt8(ascii: ",") {
            return (String(decoding: data[p..<(p + 36)], as: UTF8.self), Int(data[m] - 48))
        }
        guard let o = jsonObject(data), let group = o["group"] as? String, let part = (o["part"] as? NSNumber)?.intValue else { return nil }
        return (group, part)
    }

    init?(replayLine line: some StringProtocol) {
        guard let o = jsonObject(Array(line.utf8)), let p = (o["position"] as? NSNumber)?.uint64Value,
              let id = (o["id"] as? String).flatMap(UUID.init(uuidString:)), let stream = o["stream"] as? String,
              let data = o["data"] as? [String: Any], let group = data["group"] as? String, let part = (data["part"] as? NSNumber)?.intValue
        else { return nil }
        self.init(position: p, id: id, stream: stream, group: group, part: part, endsAppend: nil)
    }

    init(position: UInt64, id: UUID, stream: String, group: String, part: Int, endsAppend: Bool?) {
        self.position = position
        self.id = id
        self.stream = stream
        self.group = group
        self.part = part
        self.endsAppend = endsAppend
    }

    /// The writer task, from the stream name `crash-<task>-<part>`.
    var task: Substring? {
        let pieces = stream.split(separator: "-")
        guard pieces.count == 3, pieces[0] == "crash", Int(pieces[2]) == part else { return nil }
        return pieces[1]
    }
}

/// What must hold of any journal (or snapshot of one) the crash writer wrote: positions gapless
/// from 0, and every append whole: its 3 parts, in order, adjacent, in one task's streams, the
/// last one ending the append, each group once. `start`: the position of the first event given.
func problemsInCrashJournal(_ events: some RandomAccessCollection<CrashEvent>, from start: UInt64 = 0) -> [String] {
    let events = Array(events)
    var problems: [String] = []
    for (i, e) in events.enumerated() where e.position != start + UInt64(i) {
        problems.append("position gap: event \(i) has position \(e.position)")
        return problems
    }
    if events.count % 3 != 0 { problems.append("\(events.count) events is not a whole number of 3-event appends") }
    var groups: Set<String> = []
    var i = 0
    while i < events.count, problems.count < 10 {
        let e = events[i]
        guard e.part == 0, i + 2 < events.count else {
            problems.append("half-visible append: position \(e.position) holds part \(e.part) of group \(e.group) where an append should start")
            i += 1
            continue
        }
        let trio = events[i...(i + 2)]
        let wellFormed = trio.enumerated().allSatisfy { k, x in x.part == k && x.group == e.group && x.task != nil && x.task == e.task }
        let endsRight = trio.allSatisfy { $0.endsAppend == nil } || trio.map(\.endsAppend) == [false, false, true]
        if !wellFormed || !endsRight {
            problems.append("positions \(e.position)...\(e.position + 2) are not one whole append: \(trio.map { "\($0.stream) \($0.group.prefix(8)) part \($0.part) ends \(String(describing: $0.endsAppend))" })")
        }
        if !groups.insert(e.group).inserted { problems.append("group \(e.group) appears twice (second at position \(e.position))") }
        i += 3
    }
    return problems
}

/// A later read of a growing journal must extend an earlier one: same ids at the same positions.
func problemsExtending(_ earlier: [CrashEvent], with later: [CrashEvent]) -> [String] {
    if later.count < earlier.count { return ["a later snapshot has \(later.count) events, an earlier one had \(earlier.count)"] }
    for (a, b) in zip(earlier, later) where a.id != b.id || a.position != b.position {
        return ["position \(a.position) held \(a.id) and later \(b.id) at position \(b.position)"]
    }
    return []
}
