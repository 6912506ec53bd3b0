import Foundation
import Testing
@testable import Journal

/// The open segment's stream table agrees with a plain dictionary, however many streams it holds.
@Suite struct StreamRunsTests {
    @Test func runsMatchADictionaryModelThroughManyGrowths() {
        var table = StreamRuns()
        var model: [String: (firstVersion: UInt64, positions: [UInt64])] = [:]
        var generator = SystemRandomNumberGenerator()
        for position in UInt64(0)..<6_000 {
            // Names of several lengths, many sharing long prefixes, some repeated often.
            let k = Int.random(in: 0..<1_500, using: &generator)
            let name = k % 3 == 0 ? "dossier-\(k)" : k % 3 == 1 ? "dossier-\(k)-suffix" : "s\(k)"
            let version = model[name].map { $0.firstVersion + UInt64($0.positions.count) } ?? UInt64(k)
            if model[name] == nil { model[name] = (version, []) }
            model[name]!.positions.append(position)
            if position % 2 == 0 {
                table.add(position: position, version: version, stream: name)
            } else {
                var bytes = Array(name.utf8)
                bytes.withUnsafeMutableBytes { table.add(position: position, version: version, stream: UnsafeRawBufferPointer($0)) }
            }
        }
        #expect(table.count == model.count)
        for (name, expected) in model {
            let run = table.run(of: name)
            #expect(run?.name == name)
            #expect(run?.firstVersion == expected.firstVersion)
            #expect(run?.positions == expected.positions)
        }
        #expect(table.run(of: "dossier-") == nil)
        #expect(table.run(of: "") == nil)
        #expect(table.run(of: "s1-suffix") == nil)
    }
}
