import Foundation

/// The kinds of stream, one per kind of aggregate.
public enum StreamKind: String, Sendable, CaseIterable {
    case slot
    case applicant
    case dossier
    /// Evidence of abuse, grouped by the client that produced it.
    case fingerprint
}

/// A stream name: one stream per aggregate, so that an expected version guards exactly one
/// slot, applicant or dossier.
///
/// Spellings: `slot-{site}-{slotId}`, `applicant-{identityKey}`, `dossier-{dossierId}`,
/// `fingerprint-{fingerprint}`; UUIDs and hashes in lowercase.
public enum StreamName: Hashable, Sendable, CustomStringConvertible {
    case slot(site: Site, slotId: UUID)
    case applicant(IdentityKey)
    case dossier(UUID)
    case fingerprint(Fingerprint)

    public var kind: StreamKind {
        switch self {
        case .slot: .slot
        case .applicant: .applicant
        case .dossier: .dossier
        case .fingerprint: .fingerprint
        }
    }

    public var description: String {
        switch self {
        case .slot(let site, let slotId): "slot-\(site.rawValue)-\(slotId.canonicalString)"
        case .applicant(let key): "applicant-\(key)"
        case .dossier(let id): "dossier-\(id.canonicalString)"
        case .fingerprint(let fingerprint): "fingerprint-\(fingerprint)"
        }
    }

    /// Parses a stream name; `nil` unless it is one of the four spellings exactly.
    public init?(parsing name: String) {
        var name = name
        guard let parsed = name.withUTF8({ StreamName(bytes: $0) }) else { return nil }
        self = parsed
    }

    init?(bytes: UnsafeBufferPointer<UInt8>) {
        func rest(after prefix: StaticString) -> UnsafeBufferPointer<UInt8>? {
            let count = prefix.utf8CodeUnitCount
            guard bytes.count > count else { return nil }
            for i in 0..<count where bytes[i] != prefix.utf8Start[i] { return nil }
            return UnsafeBufferPointer(rebasing: bytes[count...])
        }
        if let tail = rest(after: "slot-") {
            // The site itself may hold dashes (la-tour-du-pin), so the UUID is taken from the end.
            guard tail.count > 37, tail[tail.count - 37] == UInt8(ascii: "-"),
                  let slotId = CanonicalUUID.parse(UnsafeBufferPointer(rebasing: tail[(tail.count - 36)...])),
                  let site = Site(rawValue: String(decoding: UnsafeBufferPointer(rebasing: tail[..<(tail.count - 37)]), as: UTF8.self))
            else { return nil }
            self = .slot(site: site, slotId: slotId)
        } else if let tail = rest(after: "applicant-") {
            guard let hash = Hash256(bytes: tail) else { return nil }
            self = .applicant(IdentityKey(hash))
        } else if let tail = rest(after: "dossier-") {
            guard let id = CanonicalUUID.parse(tail) else { return nil }
            self = .dossier(id)
        } else if let tail = rest(after: "fingerprint-") {
            guard let hash = Hash256(bytes: tail) else { return nil }
            self = .fingerprint(Fingerprint(hash))
        } else {
            return nil
        }
    }
}

extension StreamName {
    /// What every domain stream name starts with. An event belongs to the domain when its stream
    /// starts with one of these or its type is in the catalogue; any other event (`ops-notes`,
    /// `NoteTaken`) is an integrator's own, stored as is, and no domain rule applies to it.
    public static let domainPrefixes = ["slot-", "applicant-", "dossier-", "fingerprint-"]

    public static func isDomain(stream: String, type: String) -> Bool {
        DomainEvent.readers[type] != nil || domainPrefixes.contains { stream.hasPrefix($0) }
    }
}
