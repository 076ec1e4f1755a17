import Foundation
import HostModel
import Evaluator
import Policy
import Testing
import TestSupport
@testable import Checks

let repoRoot = repositoryRoot
let today = PolicyDate(year: 2026, month: 11, day: 25)

/// One example of one check, as a test argument.
struct ExampleCase: Sendable, CustomTestStringConvertible {
    var check: any Check.Type
    var index: Int
    var example: Example { check.examples[index] }
    var testDescription: String { "\(check.metadata.id) \(example.expect.isEmpty ? "passes" : "fails"): \(example.title)" }

    static let all: [ExampleCase] = builtInChecks.flatMap { c in c.examples.indices.map { ExampleCase(check: c, index: $0) } }
}

func context(_ e: Example) throws -> AuditContext {
    let policy = try PolicyLoader.parse(e.policy, file: "example.yaml")
    return AuditContext(snapshot: e.host.snapshot, reaches: e.host.reaches, policy: policy, today: today, paths: e.host.paths)
}

@Suite struct CatalogTests {
    /// Every check's examples: failing ones produce exactly the expected subjects, passing ones nothing.
    @Test(arguments: ExampleCase.all)
    func example(_ c: ExampleCase) throws {
        let e = c.example
        let findings = c.check.init().check(try context(e))
        let loc = SourceLocation(fileID: "Checks/\(URL(fileURLWithPath: e.file).lastPathComponent)", filePath: e.file, line: Int(e.line), column: 1)
        #expect(findings.map(\.subject) == e.expect, "\(c.check.metadata.id) example '\(e.title)'", sourceLocation: loc)
        for f in findings {
            #expect(f.ruleId == c.check.metadata.id)
            #expect(!f.message.isEmpty && !f.remediation.isEmpty)
        }
    }

    @Test func catalogInvariants() {
        let ids = builtInChecks.map { $0.metadata.id }
        let slugs = builtInChecks.map { $0.metadata.slug }
        #expect(Set(ids).count == ids.count, "duplicate check ids")
        #expect(Set(slugs).count == slugs.count, "duplicate slugs")
        #expect(ids == ids.sorted(), "builtInChecks is kept in id order")
        for c in builtInChecks {
            let m = c.metadata
            #expect(m.id.wholeMatch(of: /PW1[0-9]{3}/) != nil, "\(m.id)")
            #expect(m.slug.wholeMatch(of: /[a-z0-9]+(-[a-z0-9]+)*/) != nil, "\(m.slug)")
            #expect(c.examples.contains { $0.expect.isEmpty }, "\(m.id) needs a passing example")
            #expect(c.examples.contains { !$0.expect.isEmpty }, "\(m.id) needs a failing example")
            #expect(!m.rationale.isEmpty && !m.remediation.isEmpty && !m.summary.isEmpty)
        }
    }

    /// rules/*.md are generated from the metadata; RECORD_GOLDENS=1 rewrites them.
    @Test func ruleDocumentsAreCurrent() throws {
        let dir = repoRoot.appendingPathComponent("rules")
        var expected = RuleDocumentation.all()
        expected.append(("README.md", RuleDocumentation.index()))
        if recordingGoldens {
            for (file, text) in expected { try Data(text.utf8).write(to: dir.appendingPathComponent(file)) }
        }
        for (file, text) in expected {
            let actual = try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            #expect(actual == text, "rules/\(file) is stale: run `portwarden docs` at the top of the checkout (or RECORD_GOLDENS=1 swift test)")
        }
        let present = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
        let known = Set(expected.map(\.file))
        for f in present { #expect(known.contains(f), "rules/\(f) belongs to no check") }
    }

    @Test func sensitivePortTableHasOneEntryPerProtoAndPort() {
        let keys = SensitivePorts.table.map { "\($0.proto)/\($0.port)" }
        #expect(Set(keys).count == keys.count)
        #expect(SensitivePorts.table.allSatisfy { !$0.reason.isEmpty })
    }
}
