/// The copy counts of the append being read (`ProjectionSet.CopyCount`), with an index from each
/// event to its streams' entries, so that a record costs one hash lookup: the appends written by
/// `registre simulate` and `registre demo` hold up to 4,000 events, and a scan of the append per
/// record made folding them quadratic.
///
/// Only the entries are state (encoded in checkpoints, compared by `==`); the index is rebuilt
/// from them when decoded.
struct CopiesInAppend: Sendable, Codable, Equatable {
    private(set) var entries: [ProjectionSet.CopyCount] = []
    /// For each event: its first entry, and the most records one stream has held of it.
    private var heads: [ProjectionSet.CopyKey: (first: Int32, most: UInt32)] = [:]
    /// For each entry, the next entry of the same event, or -1.
    private var next: [Int32] = []

    init() {}

    var isEmpty: Bool { entries.isEmpty }

    /// Whether a record of `key` in `stream` is a copy of an occurrence already folded in this
    /// append: another stream has held the event more times than this one.
    func isCopy(_ key: ProjectionSet.CopyKey, stream: UInt64) -> Bool {
        guard let head = heads[key] else { return false }
        return held(key, stream: stream, from: head.first).count < head.most
    }

    /// Counts a record of `key` in `stream`; returns whether it was a copy (see `isCopy`).
    mutating func count(_ key: ProjectionSet.CopyKey, stream: UInt64) -> Bool {
        guard let head = heads[key] else {
            append(key, stream: stream, next: -1)
            heads[key] = (Int32(entries.count - 1), 1)
            return false
        }
        let (held, entry) = held(key, stream: stream, from: head.first)
        if let entry {
            entries[entry].count += 1
            heads[key] = (head.first, max(head.most, entries[entry].count))
        } else {
            append(key, stream: stream, next: head.first)
            heads[key] = (Int32(entries.count - 1), max(head.most, 1))
        }
        return held < head.most
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heads.removeAll(keepingCapacity: true)
    }

    /// The records `stream` has held of the event whose entries start at `first`, and its entry.
    private func held(_ key: ProjectionSet.CopyKey, stream: UInt64, from first: Int32) -> (count: UInt32, entry: Int?) {
        var i = Int(first)
        while i >= 0 {
            if entries[i].stream == stream { return (entries[i].count, i) }
            i = Int(next[i])
        }
        return (0, nil)
    }

    private mutating func append(_ key: ProjectionSet.CopyKey, stream: UInt64, next link: Int32) {
        entries.append(ProjectionSet.CopyCount(key: key, stream: stream, count: 1))
        next.append(link)
    }

    init(from decoder: any Decoder) throws {
        let decoded = try decoder.singleValueContainer().decode([ProjectionSet.CopyCount].self)
        for entry in decoded {
            // Entries of one event and stream twice are refused by `firstInconsistency`; the
            // index keeps the first, and the counts stay the entries'.
            if let head = heads[entry.key] {
                heads[entry.key] = (Int32(entries.count), max(head.most, entry.count))
                next.append(head.first)
            } else {
                heads[entry.key] = (Int32(entries.count), entry.count)
                next.append(-1)
            }
            entries.append(entry)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(entries)
    }

    static func == (a: CopiesInAppend, b: CopiesInAppend) -> Bool { a.entries == b.entries }
}
