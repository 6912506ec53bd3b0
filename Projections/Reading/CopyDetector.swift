import Foundation

/// Recognises the second copy of an event written to two streams in one append, so that the
/// offline rebuild counts it without reading it again.
///
/// The decisions write a booking, a cancellation, a reinstatement or a reschedule to the slot's
/// stream and to the applicant's in one append: two records with the same type and the same data
/// bytes. The fold counts the second and skips it (`ProjectionSet.CopyCount`), so parsing it
/// is wasted work. Its bytes are compared with those of the record just before it in the same
/// append, which was read in full and strictly; only an exact match is a candidate, and the fold
/// then skips it only if its stream makes it a copy rather than a second event with the same
/// bytes (the same stream again, or a stream that already held the event as often as any other);
/// anything else is read as usual. A copy therefore gets exactly the treatment a full read would
/// give it: same type, same bytes, same facts, same event already folded in this append.
struct CopyDetector {
    /// The data bytes of the last record, when it was of a copied type and its append goes on.
    private var previous: [UInt8] = []
    private var previousKind: EventKind? = nil

    /// Whether `data` is byte for byte the record just before it, of the same type, in the same append.
    @inline(__always)
    func isCopy(_ kind: EventKind, _ data: UnsafeRawBufferPointer) -> Bool {
        guard kind == previousKind, data.count == previous.count, let bytes = data.baseAddress else { return false }
        return previous.withUnsafeBytes { memcmp($0.baseAddress!, bytes, data.count) == 0 }
    }

    /// Remembers the record just folded: its bytes when the next record may be its copy.
    @inline(__always)
    mutating func remember(_ kind: EventKind?, _ data: UnsafeRawBufferPointer, endsAppend: Bool) {
        guard let kind, kind.isCopiedAcrossStreams, !endsAppend, data.count > 0 else {
            previousKind = nil
            return
        }
        if kind == previousKind, data.count == previous.count { return } // a copy: the same bytes are held
        previous.removeAll(keepingCapacity: true)
        previous.append(contentsOf: data)
        previousKind = kind
    }
}

#if canImport(Glibc)
import Glibc
#endif
