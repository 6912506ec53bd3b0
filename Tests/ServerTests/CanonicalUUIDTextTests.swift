import Foundation
import Testing
@testable import Server

@Suite struct CanonicalUUIDTextTests {
    private func lowercased(_ text: String) -> String {
        var bytes = Array(text.utf8)
        CanonicalUUIDText.lowercase(&bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func capitalUUIDStringsBecomeLowercase() {
        #expect(lowercased(#"{"a":"0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D","b":["FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]}"#)
                == #"{"a":"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d","b":["ffffffff-ffff-ffff-ffff-ffffffffffff"]}"#)
    }

    @Test func whatIsNotExactlyAUUIDStringIsLeftAlone() {
        let untouched = [
            #"{"k":"GUICHET 2","n":1}"#,
            #"{"k":"0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5DX"}"#,      // longer than a UUID
            #"{"k":"0A1B2C3D_4E5F-6A7B-8C9D-0E1F2A3B4C5D"}"#,       // wrong separator
            #"{"k":"0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5G"}"#,       // not hex
            #"{"0A1B2C3D-4E5F"}"#,
        ]
        for text in untouched { #expect(lowercased(text) == text) }
    }

    @Test func encodedProjectionAnswersMatchTheCanonicalForm() throws {
        let id = UUID()
        var bytes = Array(try JSONEncoder().encode(["id": id]))
        CanonicalUUIDText.lowercase(&bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"id":"\#(id.uuidString.lowercased())"}"#)
    }
}
