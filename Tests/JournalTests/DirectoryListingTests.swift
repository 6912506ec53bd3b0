import Foundation
import Glibc
import Testing
@testable import Journal

/// Listing a journal's directory: a failure is an error, never an empty or short journal, and
/// nothing that exists is created over.
@Suite struct DirectoryListingTests {
    let dir = TemporaryDirectory("listing")

    @Test func listsEveryNameButTheDotEntries() throws {
        for name in ["b.seg", "a", "c d"] { _ = FileManager.default.createFile(atPath: dir.file(name), contents: Data()) }
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: false)
        #expect(try DirectoryListing.names(in: dir.path).sorted() == ["a", "b.seg", "c d", "sub"])
    }

    @Test func aReadThatFailsPartWayIsAFailureNotAShortListing() throws {
        for name in ["1.seg", "2.seg", "3.seg"] { _ = FileManager.default.createFile(atPath: dir.file(name), contents: Data()) }
        var reads = 0
        do {
            let names = try DirectoryListing.names(in: dir.path, reading: { directory in
                reads += 1
                if reads <= 2 { return readdir(directory) }
                errno = EIO
                return nil
            })
            Issue.record("a failed read listed \(names)")
        } catch {
            #expect(error.errno == EIO && !error.isMissing && error.description.contains(dir.path), "\(error)")
        }
        #expect(reads == 3)
        #expect(try DirectoryListing.names(in: dir.path).sorted() == ["1.seg", "2.seg", "3.seg"])
    }

    @Test func aMissingDirectoryIsAFailureThatSaysSo() {
        #expect {
            try DirectoryListing.names(in: dir.file("absent"))
        } throws: { error in
            (error as? DirectoryListing.Failure)?.isMissing == true
        }
    }

    @Test func aFileIsNotListedAsAnEmptyDirectory() {
        _ = FileManager.default.createFile(atPath: dir.file("plain"), contents: Data("x".utf8))
        #expect {
            try DirectoryListing.names(in: dir.file("plain"))
        } throws: { error in
            guard let failure = error as? DirectoryListing.Failure else { return false }
            return failure.errno == ENOTDIR && !failure.isMissing && failure.description.contains("plain")
        }
    }

    @Test func aCheckpointFolderThatCannotBeListedIsReportedNotTakenForNone() throws {
        let journal = try Journal.open(directory: dir.path, options: testOptions())
        journal.close()
        // `checkpoints` is a file here, so it cannot be listed.
        _ = FileManager.default.createFile(atPath: dir.file("checkpoints"), contents: Data("not a folder".utf8))
        let files = Checkpoint.files(inJournal: dir.path)
        #expect(files.count == 1 && files.first?.name == "")
        if case .failure(.unreadable(let path))? = files.first?.checkpoint {
            #expect(path.hasSuffix("/checkpoints"))
        } else {
            Issue.record("expected an unreadable-checkpoints failure, got \(files)")
        }
        try FileManager.default.removeItem(atPath: dir.file("checkpoints"))
        #expect(Checkpoint.files(inJournal: dir.path).isEmpty, "no folder: no checkpoint was written")
    }

    @Test func aNewSegmentIsNeverCreatedOverAFileThatExists() throws {
        let paths = JournalDirectory(path: dir.path)
        let header = SegmentHeader(journalID: UUID(), firstPosition: 0, previousChainHash: Digest32(bytes: [UInt8](repeating: 0, count: 32)), createdAtMicros: 0)
        let path = paths.segmentPath(firstPosition: 0)
        let history = Data(repeating: 0xAB, count: 4096)
        _ = FileManager.default.createFile(atPath: path, contents: history)
        #expect(throws: JournalError.self) { try Journal.createSegment(paths: paths, header: header, options: testOptions()) }
        #expect(FileManager.default.contents(atPath: path) == history, "the file that was there is untouched")
        // Only an open segment whose header a crash left incomplete is written over.
        _ = try Journal.createSegment(paths: paths, header: header, options: testOptions(), replacingUnfinished: true)
        #expect(FileManager.default.contents(atPath: path)?.count == JournalFormat.segmentHeaderSize)
    }
}

/// A file already under the next segment's name (a stray copy, a restored file) is never written
/// over: the journal stops taking appends with an error that names it, and loses nothing.
@Suite struct StraySegmentNameTests {
    let dir = TemporaryDirectory("stray")

    @Test func aFileWhereTheNextSegmentGoesStopsAppendsClearlyAndLosesNothing() throws {
        let journal = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 16 << 10))
        // Every name the next segment could take, made after the journal listed its directory.
        let strays = (1...600).map { dir.file(JournalFormat.segmentName(firstPosition: UInt64($0))) }
        for path in strays { _ = FileManager.default.createFile(atPath: path, contents: Data("stray".utf8)) }
        var acknowledged = 0
        var refusal: (any Error)?
        for k in 0..<600 {
            do {
                try journal.append([event("stray-\(k % 7)", data: #"{"k":\#(k),"pad":"\#(String(repeating: "x", count: 200))"}"#)])
                acknowledged += 1
            } catch {
                refusal = error
                break
            }
        }
        journal.close()
        #expect(acknowledged > 0)
        #expect("\(refusal.map { "\($0)" } ?? "none")".contains("already exists where the next segment goes"), "\(String(describing: refusal))")
        for path in strays where FileManager.default.contents(atPath: path) == Data("stray".utf8) {
            try FileManager.default.removeItem(atPath: path)
        }
        let events = try JournalReader(directory: dir.path).read()
        #expect(events.count == acknowledged, "every acknowledged append is there")
        #expect(try JournalVerifier.verify(directory: dir.path).isClean)
        let reopened = try Journal.open(directory: dir.path, options: testOptions(segmentSize: 16 << 10))
        defer { reopened.close() }
        #expect(try reopened.append([event("stray-after")]).firstPosition == UInt64(acknowledged))
    }
}
