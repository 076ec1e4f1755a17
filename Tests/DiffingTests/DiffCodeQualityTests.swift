import Foundation
import HostModel
import Policy
import Checks
import Reporting
import Testing
@testable import Diffing

/// `diff --format codequality` reports what the change introduces: new and widened findings, never those the host
/// already had unchanged (the report is built as the CLI builds it, from `newAudit` and `baselineMarks`).
@Suite struct DiffCodeQualityTests {
    func issues(_ d: SnapshotDiff) throws -> [[String: Any]] {
        let text = try CodeQualityReporter().render(
            Report(
                result: d.newAudit, toolVersion: "9.9.9-test", baseline: d.baselineMarks,
                automationCategory: "portwarden-diff"))
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    @Test func onlyNewFindingsOfTheRecordedChange() throws {
        let new = try DiffGoldenTests.snapshot("new.json")
        let d = try DiffGoldenTests.diff("old.json", "new.json")
        let host = new.host.hostname
        let prints = Set(try issues(d).compactMap { $0["fingerprint"] as? String })
        let expected = Set(
            (d.newFindings + d.widenedFindings.map(\.finding)).filter { !$0.isSuppressed }
                .map { SARIFReporter.resultFingerprint(host: host, $0) })
        #expect(!expected.isEmpty)
        #expect(prints == expected)
        // The new host has findings the old one had too; they are not in the report.
        let all = Auditor.run(
            AuditContext(
                snapshot: new, policy: try PolicyLoader.builtInDefault(),
                today: PolicyDate(year: 2026, month: 11, day: 25))
        ).findings.filter { !$0.isSuppressed }
        #expect(all.count > prints.count, "\(all.count) findings on the new side, \(prints.count) reported")
        #expect(try issues(try DiffGoldenTests.diff("new.json", "new.json")).isEmpty, "no change: an empty array")
    }

    @Test func widenedFindingIsReportedWithWhatGrew() throws {
        let d = try WideningTests.diff(
            try WideningTests.host(WideningTests.postgres, WideningTests.subnetOnly),
            try WideningTests.host(WideningTests.postgres, WideningTests.world))
        let w = try #require(d.widenedFindings.first { $0.finding.ruleId == "PW1006" })
        let list = try issues(d)
        let issue = try #require(list.first { $0["check_name"] as? String == "PW1006" })
        #expect(issue["fingerprint"] as? String == SARIFReporter.resultFingerprint(host: d.newHost.hostname, w.finding))
        #expect((issue["description"] as? String)?.contains("Widened: now also reachable from anywhere except 198.51.100.0/24.") == true)
        #expect(list.count == d.newAudit.findings.filter { !$0.isSuppressed }.count)
    }
}
