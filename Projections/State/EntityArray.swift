#if canImport(Glibc)
import Glibc
#endif

/// An array of entities that grows in place, for the tables of millions of entities a rebuild
/// fills one append at a time.
///
/// `Array` grows by allocating a buffer twice as large and copying into it. At the sizes of a
/// rebuild (hundreds of megabytes) each new buffer is fresh memory from the kernel: the copy
/// takes a page fault for every page of the old contents, then the old buffer is unmapped. In
/// a 10-million-event rebuild that was one page fault in five (50,000 of 220,000) and about 3 %
/// of the CPU time in the copies and their faults, and
/// the peak held both buffers. This buffer grows with `realloc`, which for a buffer that large
/// moves the page mappings (`mremap`) and copies nothing. Zero-filled buffers (the indexes'
/// buckets) are written by no one: small ones come from `calloc`, large ones are mappings of
/// their own, in huge pages where the kernel grants them (see `Storage.init(zeroedCount:)`).
///
/// It is a value with copy-on-write, like `Array`: a mutation of a shared buffer copies it
/// first. Elements are moved bit by bit when the buffer grows, as `Array` moves them.
struct EntityArray<Element>: RandomAccessCollection, MutableCollection {
    private var storage: Storage

    init() { storage = Storage(capacity: 0) }

    init<S: Sequence>(_ elements: S) where S.Element == Element {
        self.init()
        reserveCapacity(elements.underestimatedCount)
        for element in elements { append(element) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { storage.count }
    var count: Int { storage.count }
    var isEmpty: Bool { storage.count == 0 }
    var capacity: Int { storage.capacity }

    @inline(__always) func index(after i: Int) -> Int { i + 1 }
    @inline(__always) func index(before i: Int) -> Int { i - 1 }

    subscript(i: Int) -> Element {
        @inline(__always) get {
            precondition(i >= 0 && i < storage.count, "EntityArray index out of range")
            return storage.base![i]
        }
        @inline(__always) _modify {
            precondition(i >= 0 && i < storage.count, "EntityArray index out of range")
            makeUnique()
            yield &storage.base![i]
        }
    }

    @inline(__always) mutating func append(_ element: Element) {
        makeUnique()
        if storage.count == storage.capacity { storage.grow(to: Swift.max(16, storage.capacity * 2)) }
        (storage.base! + storage.count).initialize(to: element)
        storage.count += 1
    }

    mutating func reserveCapacity(_ n: Int) {
        makeUnique()
        if n > storage.capacity { storage.grow(to: n) }
    }

    @inline(__always) func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    @inline(__always) mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    @inline(__always) private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// The buffer. `@unchecked Sendable`: it is only reached through `EntityArray`, which copies
    /// it before any mutation unless it is the only owner, so no two threads write one buffer.
    private final class Storage: @unchecked Sendable {
        var base: UnsafeMutablePointer<Element>?
        var count = 0
        var capacity = 0

        init(capacity: Int) {
            if capacity > 0 { grow(to: capacity) }
        }

        /// Bytes of the mapping when the buffer is one of its own (`mmap`), 0 when it is from `malloc`.
        private var mappedBytes = 0

        /// Zeroed buffers at least this large get a mapping of their own, aligned for huge pages.
        static var hugePageThreshold: Int { 4 << 20 }
        private static var hugePage: Int { 2 << 20 }

        /// A buffer of `n` elements whose bytes are all zero.
        ///
        /// A large one is a mapping of its own, aligned to 2 MiB and marked for transparent
        /// huge pages (`MADV_HUGEPAGE`; this kernel grants them only on request): the indexes are
        /// read at random, and with 4 KiB pages nearly every lookup of a new key also missed
        /// the TLB, which on a virtual machine costs a nested page walk. The advice is a hint:
        /// where it is refused the pages are ordinary ones, and nothing else changes.
        init(zeroedCount n: Int) {
            guard n > 0 else { return }
            let bytes = n * MemoryLayout<Element>.stride
            let huge = Self.hugePage
            if bytes >= Self.hugePageThreshold, MemoryLayout<Element>.alignment <= huge {
                let length = (bytes + huge - 1) & ~(huge - 1)
                let raw = mmap(nil, length + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                if let raw, raw != MAP_FAILED {
                    let start = UInt(bitPattern: raw)
                    let aligned = (start + UInt(huge) - 1) & ~UInt(huge - 1)
                    let head = Int(aligned - start)
                    if head > 0 { munmap(raw, head) }
                    if huge - head > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), huge - head) }
                    let region = UnsafeMutableRawPointer(bitPattern: aligned)!
                    _ = madvise(region, length, MADV_HUGEPAGE)
                    base = region.bindMemory(to: Element.self, capacity: n)
                    mappedBytes = length
                    count = n
                    capacity = length / MemoryLayout<Element>.stride
                    return
                }
            }
            guard let raw = calloc(n, MemoryLayout<Element>.stride) else { fatalError("out of memory: \(n) zeroed elements") }
            base = raw.bindMemory(to: Element.self, capacity: n)
            count = n
            capacity = n
        }

        /// Grows the buffer to `n` elements of capacity, in place where `realloc` can (a buffer
        /// of its own mapping moves into one from `malloc`).
        func grow(to n: Int) {
            let bytes = n * MemoryLayout<Element>.stride
            if mappedBytes > 0 {
                guard let raw = malloc(bytes) else { fatalError("out of memory: \(bytes) bytes") }
                let moved = raw.bindMemory(to: Element.self, capacity: n)
                if count > 0 { moved.moveInitialize(from: base!, count: count) }
                munmap(UnsafeMutableRawPointer(base!), mappedBytes)
                mappedBytes = 0
                base = moved
                capacity = n
                return
            }
            guard let raw = realloc(UnsafeMutableRawPointer(base), bytes) else { fatalError("out of memory: \(bytes) bytes") }
            base = raw.bindMemory(to: Element.self, capacity: n)
            capacity = n
        }

        func copy() -> Storage {
            let other = Storage(capacity: capacity)
            if count > 0 { other.base!.initialize(from: base!, count: count) }
            other.count = count
            return other
        }

        deinit {
            if let base {
                base.deinitialize(count: count)
                if mappedBytes > 0 { munmap(UnsafeMutableRawPointer(base), mappedBytes) } else { free(base) }
            }
        }
    }
}

extension EntityArray where Element: FixedWidthInteger {
    /// `n` zeros, in memory the kernel zeroes on first touch rather than written here.
    init(zeros n: Int) { storage = Storage(zeroedCount: n) }
}

extension EntityArray: Sendable where Element: Sendable {}

extension EntityArray: Equatable where Element: Equatable {
    static func == (a: EntityArray, b: EntityArray) -> Bool { a.elementsEqual(b) }
}

/// Encoded as `Array` encodes: the same checkpoint bytes and JSON.
extension EntityArray: Encodable where Element: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for element in self { try container.encode(element) }
    }
}

extension EntityArray: Decodable where Element: Decodable {
    init(from decoder: any Decoder) throws {
        self.init(try [Element](from: decoder))
    }
}

extension EntityArray: BinaryEncodableCollection where Element: Encodable {
    func writeBinary(_ writer: BinaryWriter) throws {
        writer.storage.integer(UInt64(count))
        for element in self { try writer.write(element) }
    }
}

extension EntityArray: BinaryDecodableCollection where Element: Decodable {
    static func readBinary(_ reader: BinaryReader) throws -> Self {
        let n = try reader.count()
        var out = EntityArray()
        out.reserveCapacity(reader.reservation(for: n, of: Element.self))
        for _ in 0..<n { out.append(try reader.read(Element.self)) }
        return out
    }
}
