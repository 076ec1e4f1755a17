import Foundation
import Serialization
import Testing

/// A report that cannot be encoded is an error naming the document, never an empty `{}` (exit code 4 in the CLI).
@Suite struct ReportEncodingTests {
    struct Odd: Encodable { var count: Double }

    @Test func aValueJSONCannotCarryIsAnErrorNamingTheDocument() {
        #expect(throws: ReportEncodingError.self) { try ReportEncodingError.encode(Odd(count: .nan), document: "findings report") }
        do {
            _ = try ReportEncodingError.encode(Odd(count: .infinity), document: "diff report")
            Issue.record("an infinite number was encoded")
        } catch {
            #expect(error.description.hasPrefix("cannot write the diff report: "), "\(error)")
        }
    }

    @Test func whatJSONCarriesIsWrittenSortedAndPretty() throws {
        let text = try ReportEncodingError.encode(["b": 1, "a/b": 2], document: "x")
        #expect(text == "{\n  \"a/b\" : 2,\n  \"b\" : 1\n}\n")
    }
}
