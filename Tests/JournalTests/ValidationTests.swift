import Foundation
import Testing
@testable import Journal

@Suite struct AppendValidationTests {
    let dir = TemporaryDirectory()

    @Test(arguments: [
        ("", "it is empty"),
        ("has space", "character 0x20"),
        ("slash/inside", "character '/'"),
        (String(repeating: "s", count: 201), "over the limit of 200"),
        ("tab\there", "0x09"),
    ])
    func invalidStreamIDsAreRefusedWithTheReason(stream: String, reason: String) throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        #expect {
            try j.append([event("ok"), event(stream)])
        } throws: { error in
            guard case JournalError.invalidStreamID(let index, _, let why) = error else { return false }
            return index == 1 && why.contains(reason)
        }
        #expect(j.endPosition == 0)
    }

    /// The byte check tests each byte against a two-word bit set without branching on which
    /// word; every ASCII character is tried in the middle of a name, and a non-ASCII one.
    @Test func streamIDsAndTypesAdmitExactlyTheirDocumentedCharacters() {
        let limits = JournalLimits()
        let letters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for scalar in (0 as UInt8)..<128 {
            let c = Character(UnicodeScalar(scalar))
            let name = "a1" + String(c) + "Z9-" + String(repeating: "x", count: Int(scalar) % 17)
            let streamOK = letters.contains(c) || "-_.:@+=".contains(c)
            let typeOK = letters.contains(c) || "-_.:".contains(c)
            #expect((limits.streamIDProblem(name) == nil) == streamOK, "stream id with byte \(scalar)")
            #expect((limits.typeProblem(name) == nil) == typeOK, "type with byte \(scalar)")
            if !streamOK { #expect(limits.streamIDProblem(name)?.contains("is not allowed") == true) }
        }
        #expect(limits.streamIDProblem("dossier-é1")?.contains("0xC3") == true)
        #expect(limits.typeProblem("Booked\u{7F}")?.contains("0x7F") == true)
    }

    @Test(arguments: [#"[1]"#, #"{"a":1"#, #"{"a":1}x"#, #"{"a":1,"a":2}"#, "", #"{"a":"\ud800"}"#, "null"])
    func invalidDataIsRefusedAndNamesTheEventAndField(data: String) throws {
        let j = try Journal.open(directory: dir.path, options: testOptions())
        defer { j.close() }
        #expect {
            try j.append([event("ok"), ProposedEvent(stream: "s", type: "T", data: json(data))])
        } throws: { error in
            guard case JournalError.invalidJSON(1, "data", _) = error else { return false }
            return true
        }
        #expect {
            try j.append([ProposedEvent(stream: "s", type: "T", data: json("{}"), metadata: json(data))])
        } throws: { error in
            guard case JournalError.invalidJSON(0, "metadata", _) = error else { return false }
            return true
        }
        #expect(j.endPosition == 0)
    }

    @Test func oversizedEventsAndAppendsAreRefusedWholesale() throws {
        var o = testOptions()
        o.limits.maximumEventBytes = 1_000
        o.limits.maximumAppendBytes = 2_000
        o.limits.maximumEventsPerAppend = 5
        let j = try Journal.open(directory: dir.path, options: o)
        defer { j.close() }
        let big = #"{"x":""# + String(repeating: "a", count: 990) + #""}"#
        #expect { try j.append([event("s", data: big)]) } throws: { error in
            if case JournalError.eventTooLarge(0, _, 1_000) = error { return true }
            return false
        }
        let medium = #"{"x":""# + String(repeating: "a", count: 800) + #""}"#
        #expect { try j.append((0..<3).map { _ in event("s", data: medium) }) } throws: { error in
            if case JournalError.appendTooLarge(_, 2_000) = error { return true }
            return false
        }
        #expect(throws: JournalError.tooManyEvents(count: 6, limit: 5)) { try j.append((0..<6).map { _ in event("s") }) }
        #expect(throws: JournalError.emptyAppend) { try j.append([]) }
        #expect(j.endPosition == 0)
    }

    @Test func errorMessagesNameWhatWasWrong() {
        #expect(JournalError.eventTooLarge(eventIndex: 3, size: 2_000, limit: 1_000).description == "event 3 is 2000 bytes, over the limit of 1000")
        #expect(JournalError.wrongExpectedVersion([VersionConflict(stream: "slot-a", expected: .exact(2), actual: 5)]).description
                == "stream 'slot-a' was expected at version 2 but is at version 5")
        #expect(JournalError.wrongExpectedVersion([VersionConflict(stream: "s", expected: .noStream, actual: 0)]).description
                == "stream 's' was expected not to exist but is at version 0")
        #expect(JournalError.noSpace(path: "/j/x.seg").description.contains("no space left"))
    }
}

@Suite struct JSONValidationTests {
    @Test(arguments: [
        #"{}"#, #" { "a" : [1, -2.5e+3, 0, true, false, null, "x"] } "#, #"{"nested":{"deep":[[{}]]}}"#,
        #"{"esc":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#, #"{"utf8":"é€😀"}"#,
    ])
    func validObjectsPass(text: String) throws {
        try JSONValidation.validateObject(json(text))
    }

    @Test(arguments: [
        ("[]", "expected a JSON object"), (#"{"a":01}"#, "expected ',' or '}'"), (#"{"a":1.}"#, "invalid fraction"),
        (#"{"a":"\x"}"#, "invalid escape"), (#"{"a":"\ude00"}"#, "lone low surrogate"), (#"{"a":tru}"#, "invalid literal"),
        (#"{"a":1,}"#, "expected a string key"), (#"{"a" 1}"#, "expected ':'"), ("{\"a\":\"\u{01}\"}", "control character"),
        (#"{"k":1,"k":2}"#, "duplicate key"),
    ])
    func invalidObjectsFailWithAReason(text: String, reason: String) {
        #expect { try JSONValidation.validateObject(json(text)) } throws: { ($0 as? JSONValidation.Failure)?.reason.contains(reason) == true }
    }

    /// Keys are compared as every parser reads them: an escape spelling the same characters is
    /// the same key, and a key that only looks alike is not.
    @Test(arguments: [
        (#"{"a":1,"\u0061":2}"#, true), (#"{"é":1,"\u00e9":2}"#, true), (#"{"\/":1,"/":2}"#, true),
        (#"{"😀":1,"\ud83d\ude00":2}"#, true), (#"{"\n":1,"\u000A":2}"#, true), (#"{"x":{"a":1},"\u0078":2}"#, true),
        (#"{"\u0061":1,"\u0062":2}"#, false), (#"{"a":{"\u0061":1},"b":2}"#, false), (#"{"\\n":1,"\n":2}"#, false),
    ])
    func keysSpelledWithEscapesAreComparedDecoded(text: String, duplicate: Bool) {
        let failure: JSONValidation.Failure?
        do { try JSONValidation.validateObject(json(text)); failure = nil } catch { failure = error }
        #expect((failure?.reason == "duplicate key") == duplicate, "\(text): \(failure.map(\.description) ?? "accepted")")
    }

    /// Past a few dozen keys an object's keys are hashed: a duplicate is still found wherever it
    /// falls, escaped or not, and a body of two hundred thousand distinct keys is accepted at once
    /// (comparing every pair would take minutes).
    @Test func duplicateKeysInLargeObjectsAreFoundAndDistinctOnesAreCheap() throws {
        func object(_ keys: [String]) -> [UInt8] { Array(("{" + keys.map { "\"\($0)\":0" }.joined(separator: ",") + "}").utf8) }
        let distinct = (0..<200_000).map { "k\($0)" }
        let started = ContinuousClock.now
        try JSONValidation.validateObject(object(distinct))
        #expect(ContinuousClock.now - started < .seconds(20))
        for (at, copy) in [(5, "k3"), (40, "k3"), (40, "k39"), (1_000, "\\u006b999"), (150_000, "k149999")] {
            var keys = Array(distinct[..<(at + 1000)])
            keys.insert(copy, at: at)
            #expect { try JSONValidation.validateObject(object(keys)) } throws: { ($0 as? JSONValidation.Failure)?.reason == "duplicate key" }
        }
    }

    @Test func invalidUTF8IsRefused() {
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xFF]] {
            let bytes = Array(#"{"a":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(throws: JSONValidation.Failure.self) { try JSONValidation.validateObject(bytes) }
        }
    }

    /// The string scanner reads eight bytes at a time: a special byte at any place in a long run,
    /// including the last bytes before the end of input, is still seen.
    @Test func everyByteOfALongStringIsCheckedWhereverItFalls() {
        for length in 0..<40 {
            for place in 0..<max(length, 1) {
                func document(_ inner: [UInt8]) -> [UInt8] {
                    var content = Array(repeating: UInt8(ascii: "x"), count: length)
                    if length > 0 { content.replaceSubrange(place..<(place + 1), with: inner) }
                    return Array(#"{"a":""#.utf8) + content + Array(#""}"#.utf8)
                }
                #expect(throws: Never.self) { try JSONValidation.validateObject(document(Array("é".utf8))) }
                #expect(throws: Never.self) { try JSONValidation.validateObject(document(Array(#"\n"#.utf8))) }
                guard length > 0 else { continue }
                for bad: [UInt8] in [[0x01], [0x1F], [0x7F, 0xFF], [0x80], [0x22], [0x5C]] {
                    let doc = document(bad)
                    let accepted = (try? JSONValidation.validateObject(doc)) != nil
                    // 0x7F is allowed in JSON strings; 0xFF after it is not UTF-8.
                    #expect(!accepted, "byte \(bad) at \(place) of \(length) was accepted")
                }
            }
            // Unterminated strings of every length, ending exactly at the end of input.
            let open = Array(#"{"a":""#.utf8) + Array(repeating: UInt8(ascii: "y"), count: length)
            #expect(throws: JSONValidation.Failure.self) { try JSONValidation.validateObject(open) }
        }
    }

    /// Strings are scanned eight bytes at a time: a byte that needs attention is found at every
    /// offset within a word and near the end of the input, and every byte value is judged as the
    /// byte-by-byte rules say.
    @Test func everyByteIsJudgedWhereverItFallsInAWord() {
        for prefix in 0..<20 {
            for byte in 0...255 {
                let filler = Array(repeating: UInt8(ascii: "a"), count: prefix)
                let bytes = Array(#"{"k":""#.utf8) + filler + [UInt8(byte)] + Array(#"bcdefghijk"}"#.utf8)
                // A quote ends the string too early; a backslash starts the escape `\b`.
                let valid = byte >= 0x20 && byte < 0x80 && byte != 0x22
                let failed = (try? JSONValidation.validateObject(bytes)) == nil
                #expect(failed == !valid, "byte \(byte) after \(prefix) plain bytes")
            }
            let ending = Array(#"{"k":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: prefix)
            #expect(throws: JSONValidation.Failure.self) { try JSONValidation.validateObject(ending) }
            #expect(throws: Never.self) { try JSONValidation.validateObject(ending + Array(#"","é":"\u00e9\n"}"#.utf8)) }
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        #expect { try JSONValidation.validateObject(json(deep)) } throws: { ($0 as? JSONValidation.Failure)?.reason.contains("nesting") == true }
    }
}

@Suite struct MerkleTests {
    /// RFC 6962 MTH, written recursively from the RFC's definition.
    static func referenceRoot(_ leaves: [Digest32]) -> Digest32 {
        if leaves.isEmpty { return MerkleHash.empty }
        if leaves.count == 1 { return leaves[0] }
        var k = 1
        while k * 2 < leaves.count { k *= 2 }
        return MerkleHash.node(referenceRoot(Array(leaves[0..<k])), referenceRoot(Array(leaves[k...])))
    }

    @Test func theFrontierRootMatchesTheRecursiveDefinitionForEverySize() {
        var frontier = MerkleFrontier()
        var leaves: [Digest32] = []
        #expect(frontier.root == MerkleHash.empty)
        for i in 0..<70 {
            let leaf = [UInt8]("leaf \(i)".utf8).withUnsafeBytes { MerkleHash.leaf($0) }
            leaves.append(leaf)
            frontier.append(leaf: leaf)
            #expect(frontier.root == Self.referenceRoot(leaves), "size \(i + 1)")
            #expect(frontier.subtrees.count == frontier.leafCount.nonzeroBitCount)
        }
    }

    @Test func leavesAndNodesAreDomainSeparated() {
        let a = [UInt8](repeating: 1, count: 64)
        let leaf = a.withUnsafeBytes { MerkleHash.leaf($0) }
        let node = MerkleHash.node(Digest32(bytes: Array(a[0..<32])), Digest32(bytes: Array(a[32...])))
        #expect(leaf != node)
    }
}

@Suite struct FormatTests {
    @Test func segmentHeadersRoundTrip() throws {
        let h = SegmentHeader(journalID: UUID(), firstPosition: 12_345, previousChainHash: Digest32(bytes: (0..<32).map { UInt8($0) }), createdAtMicros: 42)
        let bytes = h.encoded()
        #expect(bytes.count == 128)
        #expect(try bytes.withUnsafeBytes { try SegmentHeader.decode($0) } == h)
        var tampered = bytes
        tampered[40] ^= 1
        #expect(throws: SegmentHeader.DecodeFailure.badChecksum) { try tampered.withUnsafeBytes { try SegmentHeader.decode($0) } }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let whole = CRC32C.checksum(Array("hello world".utf8))
        #expect(CRC32C.checksum(Array(" world".utf8), extending: CRC32C.checksum(Array("hello".utf8))) == whole)
    }

    @Test func segmentNamesSortByPosition() {
        #expect(JournalFormat.segmentName(firstPosition: 42) == "00000000000000000042.seg")
        #expect(JournalFormat.firstPosition(ofSegmentNamed: "00000000000000000042.seg") == 42)
        #expect(JournalFormat.firstPosition(ofSegmentNamed: "42.seg") == nil)
        #expect(JournalFormat.firstPosition(ofSegmentNamed: "0000000000000000004x.seg") == nil)
    }
}

/// Times are printed as RFC 3339 UTC with microseconds; a time no server clock gives (read from
/// a damaged or crafted file) still prints, as an ISO 8601 expanded year, and never traps.
@Suite struct TimestampFormatTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"), (-1, "1969-12-31T23:59:59.999999Z"),
        (1_700_000_000_123_456, "2023-11-14T22:13:20.123456Z"), (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
        (253_402_300_800_000_000, "+010000-01-01T00:00:00.000000Z"), (-62_167_219_200_000_000, "0000-01-01T00:00:00.000000Z"),
        (-62_167_219_200_000_001, "-000001-12-31T23:59:59.999999Z"),
    ])
    func timesPrintAsRFC3339OrExpandedYears(micros: Int64, text: String) {
        #expect(WireFormat.timestamp(micros: micros) == text)
    }

    @Test func theExtremesOfSixtyFourBitsPrintWithDigitsOnly() {
        for micros in [Int64.max, Int64.min, Int64.min + 1] {
            let text = WireFormat.timestamp(micros: micros)
            #expect(text.first == "+" || text.first == "-", "\(text)")
            #expect(text.dropFirst().allSatisfy { $0.isASCII && ($0.isNumber || "-T:.Z".contains($0)) }, "\(text)")
        }
    }
}

/// An event is one line of NDJSON however its client spaced its JSON: line breaks between tokens
/// are left out of the wire form, and nothing else changes.
@Suite struct WireFormatLineTests {
    @Test func dataAndMetadataWithLineBreaksPrintOnOneLineWithTheSameValues() throws {
        let dir = TemporaryDirectory()
        let j = try Journal.open(directory: dir.path, options: testOptions())
        let data = "{\n  \"a\": 1,\r\n  \"b\": \"x y\",\n  \"c\": [1,\n2]\n}"
        try j.append([ProposedEvent(stream: "s", type: "T", data: Array(data.utf8), metadata: Array("{\"m\":\r\n true}".utf8))])
        j.close()
        let events = try JournalReader(directory: dir.path).read()
        #expect(events[0].data == Array(data.utf8), "the journal keeps the bytes as sent")
        let line = WireFormat.json(of: events[0])
        #expect(!line.contains(0x0A) && !line.contains(0x0D))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let fields = try #require(object["data"] as? [String: Any])
        #expect(fields["a"] as? Int == 1 && fields["b"] as? String == "x y" && fields["c"] as? [Int] == [1, 2])
        #expect((object["metadata"] as? [String: Any])?["m"] as? Bool == true)
        // Without line breaks the bytes are the stored ones.
        var plain: [UInt8] = []
        Array(#"{"a": 1}"#.utf8).withUnsafeBytes { WireFormat.appendOnOneLine($0, to: &plain) }
        #expect(plain == Array(#"{"a": 1}"#.utf8))
    }
}
