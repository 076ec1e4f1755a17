import Foundation
import HostModel
import Policy
import Checks
import Testing
@testable import Reporting
import Serialization

/// GitLab Code Quality: the shape GitLab reads, the severity scale, fingerprints shared with SARIF, and locations only
/// in files the user gave.
@Suite struct CodeQualityReporterTests {
    func issues(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], "not a JSON array: \(text.prefix(200))")
    }

    func report(_ result: AuditResult, inputs: ReportInputs? = nil, failOnConditional: Bool = false) throws -> String {
        try CodeQualityReporter().render(Report(result: result, toolVersion: "9.9.9-test", failOnConditional: failOnConditional, inputs: inputs))
    }

    @Test func everyIssueHasGitLabsKeysWithTheirTypes() throws {
        let result = try sampleResult()
        let list = try issues(try render(.codequality))
        #expect(list.count == result.findings.filter { !$0.isSuppressed }.count, "one issue per unsuppressed finding")
        #expect(result.findings.contains { $0.isSuppressed }, "the sample has a waived finding to leave out")
        let severities: Set<String> = ["info", "minor", "major", "critical", "blocker"]
        for issue in list {
            #expect((issue["description"] as? String)?.isEmpty == false, "\(issue)")
            #expect((issue["check_name"] as? String)?.range(of: #"^PW\d{4}$"#, options: .regularExpression) != nil, "\(issue)")
            #expect((issue["fingerprint"] as? String)?.range(of: #"^[0-9a-f]{32}$"#, options: .regularExpression) != nil, "\(issue)")
            #expect(severities.contains(issue["severity"] as? String ?? ""), "\(issue)")
            let location = try #require(issue["location"] as? [String: Any])
            #expect((location["path"] as? String)?.isEmpty == false, "\(issue)")
            let begin = try #require((location["lines"] as? [String: Any])?["begin"] as? Int, "\(issue)")
            #expect(begin >= 1)
        }
        #expect(
            try issues(
                report(
                    AuditResult(
                        host: result.host, policySource: "p.yaml", policyFiles: ["p.yaml"], findings: [],
                        checks: [], caveats: []))
            ).isEmpty, "no findings: an empty array")
    }

    @Test(arguments: [(Severity.info, "info"), (.low, "minor"), (.medium, "major"), (.high, "critical"), (.critical, "blocker")])
    func severityScale(_ severity: Severity, _ gitlab: String) throws {
        #expect(CodeQualityReporter.severity(severity) == gitlab)
        var f = Finding(ruleId: "PW1001", slug: "s", severity: severity, message: "m", subject: "listener/tcp/0.0.0.0:1", remediation: "r")
        #expect(CodeQualityReporter.severity(f, failOnConditional: false) == gitlab)
        f.conditional = true
        #expect(CodeQualityReporter.severity(f, failOnConditional: false) == "info", "conditional: info, as SARIF's note")
        #expect(CodeQualityReporter.severity(f, failOnConditional: true) == gitlab)
    }

    @Test func fingerprintsAreSARIFsAndDependOnTheHost() throws {
        let result = try sampleResult()
        let sarif = try #require(try JSONSerialization.jsonObject(with: Data(try render(.sarif).utf8)) as? [String: Any])
        let results = try #require(((sarif["runs"] as? [[String: Any]])?.first)?["results"] as? [[String: Any]])
        let sarifPrints = Set(
            results.filter { $0["suppressions"] == nil }.compactMap {
                ($0["partialFingerprints"] as? [String: String])?[SARIFReporter.fingerprintKey]
            })
        let prints = try issues(try render(.codequality)).compactMap { $0["fingerprint"] as? String }
        #expect(Set(prints) == sarifPrints)
        #expect(Set(prints).count == prints.count, "distinct findings, distinct fingerprints")

        // Stable: moving the policy entry (its line) or rewording the message keeps it; another host changes it.
        var moved = result
        for i in moved.findings.indices {
            moved.findings[i].policyLocation?.line += 7
            moved.findings[i].message += " (reworded)"
        }
        #expect(try issues(report(moved)).compactMap { $0["fingerprint"] as? String } == prints)
        var other = result
        other.host.hostname = "web-02"
        let otherPrints = try issues(report(other)).compactMap { $0["fingerprint"] as? String }
        #expect(Set(otherPrints).isDisjoint(with: prints))
    }

    @Test func locationsAreFilesTheUserGave() throws {
        let result = try sampleResult()
        let list = try issues(try render(.codequality))
        let unsuppressed = result.findings.filter { !$0.isSuppressed }
        for (issue, f) in zip(list, unsuppressed) {
            let location = try #require(issue["location"] as? [String: Any])
            #expect(location["path"] as? String == "ci/portwarden.yaml", "\(issue)")
            let begin = (location["lines"] as? [String: Any])?["begin"] as? Int
            #expect(begin == (f.policyLocation?.line ?? 1), "\(f.ruleId): the policy entry's line, else line 1")
        }
        #expect(unsuppressed.contains { $0.policyLocation == nil }, "the sample has a finding without a line of its own")

        // The built-in policy is never a location: its findings point at the snapshot given, else at the host object.
        var builtIn = result
        builtIn.policySource = DefaultPolicy.name
        builtIn.policyFiles = [DefaultPolicy.name]
        for i in builtIn.findings.indices { builtIn.findings[i].policyLocation?.file = DefaultPolicy.name }
        let withSnapshot = try issues(report(builtIn, inputs: ReportInputs(snapshotFile: "hosts/web-01.json")))
        #expect(withSnapshot.allSatisfy { ($0["location"] as? [String: Any])?["path"] as? String == "hosts/web-01.json" })
        let bare = try issues(report(builtIn, inputs: ReportInputs()))
        #expect(bare.map { ($0["location"] as? [String: Any])?["path"] as? String } == unsuppressed.map(\.subject))
    }

    @Test func widenedFindingsSayWhatGrew() throws {
        let result = try sampleResult()
        let f = try #require(result.findings.first { !$0.isSuppressed })
        let text = try CodeQualityReporter().render(
            Report(
                result: result, toolVersion: "t",
                baseline: [f.fingerprint: BaselineMark(.updated, widened: ["now also on eth1"])]))
        let first = try #require(try issues(text).first)
        #expect((first["description"] as? String)?.contains("Widened: now also on eth1.") == true, "\(first)")
    }
}
