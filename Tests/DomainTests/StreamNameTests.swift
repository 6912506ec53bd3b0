import Foundation
import Testing
import Domain

@Suite("Stream names")
struct StreamNameTests {
    @Test("each kind of stream name prints and parses back", arguments: [
        StreamName.slot(site: .laTourDuPin, slotId: Sample.uuid(7)),
        .slot(site: .grenoble, slotId: Sample.uuid(8)),
        .applicant(Sample.identity(3)),
        .dossier(Sample.uuid(0xD1)),
        .fingerprint(Sample.fingerprint(2)),
    ])
    func roundTrip(_ name: StreamName) {
        #expect(StreamName(parsing: name.description) == name)
    }

    @Test("the spellings are the documented ones")
    func spellings() {
        #expect(StreamName.slot(site: .laTourDuPin, slotId: Sample.uuid(7)).description == "slot-la-tour-du-pin-00000000-0000-4000-8000-000000000007")
        #expect(StreamName.dossier(Sample.uuid(0xD1)).description == "dossier-00000000-0000-4000-8000-0000000000d1")
        #expect(StreamName.applicant(Sample.identity(3)).description == "applicant-" + String(repeating: "a", count: 63) + "3")
    }

    @Test("malformed or non-canonical names are refused", arguments: [
        "slot-lyon-00000000-0000-4000-8000-000000000007",
        "slot-grenoble-00000000-0000-4000-8000-00000000000A",
        "slot-grenoble",
        "dossier-00000000000040008000000000000007",
        "applicant-" + String(repeating: "A", count: 64),
        "applicant-" + String(repeating: "a", count: 63),
        "fingerprint-",
        "account-1",
        "",
    ])
    func refused(_ text: String) {
        #expect(StreamName(parsing: text) == nil)
    }
}
