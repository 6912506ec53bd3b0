import Foundation
import Testing
@testable import Projections

@Suite("Documentation")
struct DocumentationTests {
    @Test("docs/PROJECTIONS.md describes every table and column of the output")
    func everyColumnIsDocumented() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/PROJECTIONS.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for table in ProjectionTables.all + [ProjectionTables.columnDocs] {
            #expect(text.contains("### `\(table.name)`"), "table \(table.name)")
            for column in table.columns {
                #expect(text.contains("| `\(column.name)` | \(column.type.rawValue) | \(column.meaning) |"), "\(table.name).\(column.name)")
            }
        }
    }
}
