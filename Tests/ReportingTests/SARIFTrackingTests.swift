import Foundation
import HostModel
import Evaluator
import Policy
import Checks
import Testing
@testable import Reporting
import Serialization

/// SARIF that code scanning can track: one category per host, result identity from host + check + subject (not from
/// policy lines), locations only in files the user has, and `baselineState` against a baseline.
@Suite struct SARIFTrackingTests {
    static let policyText = """
        version: 1
        listeners:
          - name: ssh
            proto: tcp
            port: 22
            exposure: {sources: [10.0.0.0/8]}
          - {proto: tcp, port: 443, required: true}
        forbidden:
          - {proto: tcp, port: 23, reason: telnet}
        """

    static func result(host: String = "web-01", policy: Policy? = nil) throws -> AuditResult {
        let policy = try policy ?? PolicyLoader.parse(policyText, file: "ci/portwarden.yaml")
        let reaches: [ListenerReach] = [
            .example(.tcp, "0.0.0.0:22", .public, process: "sshd"),
            .example(.tcp, "0.0.0.0:23", .public, process: "telnetd"),
            .example(.tcp, "0.0.0.0:6379", .public, process: "redis-server", uid: 999)
        ]
        var snapshot = ExampleHost(reaches).snapshot
        snapshot.host = HostInfo(hostname: host, kernel: "6.12.0", collectedAt: "2026-11-25T09:00:00Z", toolVersion: "0.1.0")
        let ctx = AuditContext(snapshot: snapshot, reaches: reaches, policy: policy, today: PolicyDate(year: 2026, month: 11, day: 25))
        return Auditor.run(ctx)
    }

    static func run(_ report: Report) throws -> [String: Any] {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(SARIFReporter().render(report).utf8)) as? [String: Any])
        return try #require((doc["runs"] as? [[String: Any]])?.first)
    }

    static func results(_ report: Report) throws -> [[String: Any]] { try #require(try run(report)["results"] as? [[String: Any]]) }

    static func fingerprint(_ r: [String: Any]) -> String? {
        (r["partialFingerprints"] as? [String: String])?[SARIFReporter.fingerprintKey]
    }

    /// `ruleId subject` → the result's fingerprint.
    static func identities(_ report: Report) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try results(report) {
            let subject = (r["properties"] as? [String: Any])?["subject"] as? String ?? "?"
            out["\(r["ruleId"] as? String ?? "?") \(subject)"] = fingerprint(r)
        }
        return out
    }

    static func physicalURIs(_ report: Report) throws -> [String] {
        try results(report).flatMap { r in
            ((r["locations"] as? [[String: Any]]) ?? []).compactMap {
                (($0["physicalLocation"] as? [String: Any])?["artifactLocation"] as? [String: Any])?["uri"] as? String
            }
        }
    }

    static func startLines(_ report: Report) throws -> [Int] {
        try results(report).compactMap { r in
            let l = (r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any]
            return (l?["region"] as? [String: Any])?["startLine"] as? Int
        }
    }

    static func validate(_ report: Report, _ name: String) throws -> (Int32, String)? {
        guard let tool = sarifValidator() else { return nil }
        let file = try tempFile(name, SARIFReporter().render(report))
        defer { try? FileManager.default.removeItem(at: file) }
        return try ReportingTests.run([tool.path, file.path])
    }

    @Test func automationDetailsNamesTheHost() throws {
        let a = try Self.run(Report(result: try Self.result(host: "web-01"), toolVersion: "1.0.0"))
        let b = try Self.run(Report(result: try Self.result(host: "db-01"), toolVersion: "1.0.0"))
        #expect((a["automationDetails"] as? [String: Any])?["id"] as? String == "portwarden/web-01/")
        #expect((b["automationDetails"] as? [String: Any])?["id"] as? String == "portwarden/db-01/")
        let diff = try Self.run(Report(result: try Self.result(host: "web-01"), toolVersion: "1.0.0", automationCategory: "portwarden-diff"))
        #expect((diff["automationDetails"] as? [String: Any])?["id"] as? String == "portwarden-diff/web-01/")
        #expect(SARIFReporter.automationID(category: "portwarden", hostname: "") == "portwarden/unknown-host/")
    }

    @Test func identityDependsOnHostCheckAndSubjectNotOnPolicyLines() throws {
        let shifted = try PolicyLoader.parse("# a comment added on top\n\n# and another\n" + Self.policyText, file: "ci/portwarden.yaml")
        let before = Report(result: try Self.result(), toolVersion: "1.0.0")
        let after = Report(result: try Self.result(policy: shifted), toolVersion: "1.0.0")
        let ids = try Self.identities(before)
        #expect(ids.count == (try Self.result()).findings.count, "one identity per finding")
        #expect(ids == (try Self.identities(after)))
        #expect(try Self.startLines(before) != Self.startLines(after), "the policy lines really moved")
        // Another host: same checks and subjects, other identities (its alerts are its own).
        let other = try Self.identities(Report(result: try Self.result(host: "db-01"), toolVersion: "1.0.0"))
        #expect(Set(other.keys) == Set(ids.keys))
        #expect(Set(other.values).isDisjoint(with: Set(ids.values)))
        // Never GitHub's own key with another meaning.
        for r in try Self.results(before) { #expect((r["partialFingerprints"] as? [String: Any])?["primaryLocationLineHash"] == nil) }
    }

    @Test func builtInPolicyIsNeverALocation() throws {
        let result = try Self.result(policy: try PolicyLoader.builtInDefault())
        #expect(result.findings.contains { $0.policyLocation?.file == DefaultPolicy.name }, "the telnet finding has a line in the built-in policy")
        let report = Report(result: result, toolVersion: "1.0.0", inputs: ReportInputs(snapshotFile: "hosts/web-01.json"))
        let uris = try Self.physicalURIs(report)
        #expect(uris.count == result.findings.count)
        #expect(uris.allSatisfy { $0 == "hosts/web-01.json" })
        #expect(!(try Self.results(report)).description.contains(DefaultPolicy.name))
        if let (status, out) = try Self.validate(report, "builtin.sarif") { #expect(status == 0, "\(out)") }
        // A candidate ruleset is preferred to the snapshot when both were given.
        let both = Report(result: result, toolVersion: "1.0.0", inputs: ReportInputs(rulesetFile: "new/nftables.conf", snapshotFile: "h.json"))
        #expect(try Self.physicalURIs(both).allSatisfy { $0 == "new/nftables.conf" })
    }

    @Test func noFileMeansNoPhysicalLocationAndCodeScanningRefusesIt() throws {
        let result = try Self.result(policy: try PolicyLoader.builtInDefault())
        let report = Report(result: result, toolVersion: "1.0.0", inputs: ReportInputs())
        #expect(try Self.physicalURIs(report).isEmpty)
        for r in try Self.results(report) {
            let logical = ((r["locations"] as? [[String: Any]])?.first?["logicalLocations"] as? [[String: Any]])?.first
            #expect(logical?["fullyQualifiedName"] as? String == (r["properties"] as? [String: Any])?["subject"] as? String)
        }
        // This is why the CLI refuses --format sarif without a policy, snapshot or ruleset file.
        if let (status, out) = try Self.validate(report, "nofile.sarif") {
            #expect(status == 1 && out.contains("physical location"), "\(out)")
        }
    }

    @Test func policyFileLinesAreUsedWhenThePolicyIsAFile() throws {
        let report = Report(result: try Self.result(), toolVersion: "1.0.0")
        let uris = try Self.physicalURIs(report)
        #expect(!uris.isEmpty && uris.allSatisfy { $0 == "ci/portwarden.yaml" })
        #expect(try Self.startLines(report).contains { $0 > 1 }, "findings with a policy entry point at its line")
    }

    @Test func baselineStateOnEveryResult() throws {
        let result = try Self.result()
        var marks: [String: BaselineMark] = [:]
        let states: [BaselineState] = [.new, .unchanged, .updated]
        for (i, f) in result.findings.enumerated() {
            let s = states[i % states.count]
            marks[f.fingerprint] = BaselineMark(s, widened: s == .updated ? ["now also reachable from anywhere"] : [])
        }
        let report = Report(result: result, toolVersion: "1.0.0", baseline: marks)
        let results = try Self.results(report)
        #expect(results.count == result.findings.count)
        for (r, f) in zip(results, result.findings) {
            #expect(r["baselineState"] as? String == marks[f.fingerprint]?.state.rawValue)
            let updated = marks[f.fingerprint]?.state == .updated
            #expect(((r["message"] as? [String: Any])?["text"] as? String)?.contains("Widened: now also reachable from anywhere.") == updated)
        }
        #expect(Set(results.compactMap { $0["baselineState"] as? String }) == ["new", "unchanged", "updated"])
        // Without a baseline there is no baselineState at all.
        #expect(try Self.results(Report(result: result, toolVersion: "1.0.0")).allSatisfy { $0["baselineState"] == nil })
        if let (status, out) = try Self.validate(report, "baseline.sarif") { #expect(status == 0, "\(out)") }
    }

    @Test func jsonMarksBaselineCoveredFindings() throws {
        let result = try Self.result()
        let first = try #require(result.findings.first), second = try #require(result.findings.dropFirst().first)
        let marks = [first.fingerprint: BaselineMark(.unchanged), second.fingerprint: BaselineMark(.updated, widened: ["severity high → critical"])]
        let json = try JSONReporter().render(Report(result: result, toolVersion: "1.0.0", baseline: marks))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let findings = try #require(doc["findings"] as? [[String: Any]])
        #expect(findings[0]["baselineState"] as? String == "unchanged" && findings[0]["widened"] == nil)
        #expect(findings[1]["baselineState"] as? String == "updated")
        #expect(findings[1]["widened"] as? [String] == ["severity high → critical"])
        // The report still reads back as a baseline.
        // (`fix` is the structured form of `remediation`, not part of the JSON contract.)
        #expect(
            try FindingsJSON.findings(fromReport: Data(json.utf8))
                == result.findings.map {
                    var f = $0; f.fix = nil; return f
                })
        #expect(try !JSONReporter().render(Report(result: result, toolVersion: "1.0.0")).contains("baselineState"))
        // Text says it too, next to each finding.
        let text = TextReporter().render(Report(result: result, toolVersion: "1.0.0", baseline: marks))
        #expect(text.contains("[baseline: unchanged]\n    \(first.message)\n"))
        #expect(text.contains("[baseline: updated]\n    \(second.message)\n    widened: severity high → critical\n"))
        #expect(!TextReporter().render(Report(result: result, toolVersion: "1.0.0")).contains("[baseline"))
    }

    @Test func noHelpUriPlaceholder() throws {
        let driver = (try Self.run(Report(result: try Self.result(), toolVersion: "1.0.0"))["tool"] as? [String: Any])?["driver"] as? [String: Any]
        let rules = try #require(driver?["rules"] as? [[String: Any]])
        #expect(rules.count == builtInChecks.count)
        for r in rules {
            #expect(r["helpUri"] == nil)
            #expect(((r["help"] as? [String: Any])?["text"] as? String)?.contains("portwarden explain \(r["id"] as? String ?? "")") == true)
        }
    }
}

/// SARIF is written with JSONSerialization, which traps on what JSON cannot carry: such a log is an error instead.
@Suite struct SARIFEncodingFailureTests {
    @Test func aNumberJSONCannotCarryIsAnErrorNotAnEmptyLog() {
        #expect(throws: ReportEncodingError.self) { try SARIFReporter.document(runs: [["count": Double.nan]]) }
        #expect((try? SARIFReporter.document(runs: [["count": 1]]))?.contains("\"count\" : 1") == true)
    }
}
