import ArgumentParser
import Foundation

/// Where `registre bench` writes its journals, and what it may remove afterwards.
///
/// A directory the user names may hold other things (a kept history, a journal copy, notes):
/// the benchmark removes only the entries it made in this run, and refuses to start over an
/// entry it would write, so that no run can delete or append to what was there before.
struct BenchDirectory {
    let path: String
    private let madeHere: Bool
    private let entriesBefore: Set<String>

    /// `named` nil: a new temporary directory. `writing`: the entries the run will create.
    init(_ named: String?, writing entries: [String]) throws {
        let fm = FileManager.default
        path = named ?? NSTemporaryDirectory() + "registre-bench-\(UUID().uuidString.prefix(8))"
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--directory \(path) is a file, not a directory") }
            madeHere = false
            do { entriesBefore = Set(try fm.contentsOfDirectory(atPath: path)) } catch {
                throw ValidationError("cannot list --directory \(path): \(error.localizedDescription)")
            }
            let taken = entries.filter(entriesBefore.contains)
            guard taken.isEmpty else {
                throw ValidationError("\(path) already holds \(taken.joined(separator: ", ")) (kept by an earlier run?): the benchmark writes new journals there and will not reuse or remove them; remove them or name another --directory")
            }
        } else {
            madeHere = true
            entriesBefore = []
            do { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw ValidationError("cannot create --directory \(path): \(error.localizedDescription)")
            }
        }
    }

    /// Removes the directory if this run made it, else only the entries that were not there.
    func removeWhatThisRunMade() {
        let fm = FileManager.default
        if madeHere {
            try? fm.removeItem(atPath: path)
            return
        }
        for name in (try? fm.contentsOfDirectory(atPath: path)) ?? [] where !entriesBefore.contains(name) {
            try? fm.removeItem(atPath: path + "/" + name)
        }
    }
}
