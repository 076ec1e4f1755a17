import Foundation
import Checks
import Serialization
import HostModel
import Policy

/// SARIF 2.1.0 for code scanning: the full rule catalog in `tool.driver.rules`, one result per finding, a physical
/// location in a file of the user's repository for every result (see `SARIFLocations`) plus a logical location naming the
/// host object (`listener/tcp/0.0.0.0:6379`, `rule/inet/filter/input/12`, `host/firewall`), `suppressions` for waived
/// findings, `baselineState` when compared with a baseline, and `automationDetails.id` `portwarden/<hostname>/` so each
/// host is its own code-scanning category.
public struct SARIFReporter: Reporter {
    public static let format = ReportFormat.sarif
    /// The key under `partialFingerprints` (our own: GitHub's uploader fills `primaryLocationLineHash` itself from the
    /// file's text). v2: host, check and subject; v1 lacked the host. Bump the suffix if the recipe ever changes.
    public static let fingerprintKey = "portwarden/v2"

    public init() {}

    public func render(_ report: Report) throws(ReportEncodingError) -> String {
        try Self.document(runs: [run(report)])
    }

    /// A SARIF log of `runs` (`merge` writes one run per host), serialized with sorted keys.
    public static func document(runs: [[String: Any]]) throws(ReportEncodingError) -> String {
        let doc: [String: Any] = ["$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": runs]
        // JSONSerialization raises an Objective-C style exception, not a Swift error, for what JSON cannot carry: check first.
        guard JSONSerialization.isValidJSONObject(doc) else {
            throw ReportEncodingError(document: "SARIF log", reason: "a value JSON cannot carry")
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        } catch {
            throw ReportEncodingError(document: "SARIF log", reason: "\(error)")
        }
    }

    /// The run of one report: the catalog, its results and the host's `automationDetails.id`.
    public func run(_ report: Report) -> [String: Any] {
        let catalog = report.catalog
        var index: [String: Int] = [:]
        for (i, m) in catalog.enumerated() { index[m.id] = i }
        let rules: [[String: Any]] = catalog.map { m in
            [
                "id": m.id,
                "name": m.slug,
                "shortDescription": ["text": m.title],
                "fullDescription": ["text": m.summary],
                "help": [
                    "text": "\(m.rationale)\n\nRemediation: \(m.remediation)\n\nFull documentation: `portwarden explain \(m.id)`",
                    "markdown": "\(m.rationale)\n\n**Remediation:** \(m.remediation)\n\nFull documentation: `portwarden explain \(m.id)`"
                ],
                "defaultConfiguration": ["level": m.defaultSeverity.sarifLevel],
                "properties": [
                    "tags": ["security", m.category.rawValue],
                    "security-severity": m.defaultSeverity.securitySeverity,
                    "precision": "high"
                ] as [String: Any]
            ]
        }
        let locations = SARIFLocations(report: report)
        let host = report.result.host.hostname
        let results: [[String: Any]] = report.result.findings.map { f in
            let mark = report.baseline?[f.fingerprint]
            let widened = mark.map { $0.widened.isEmpty ? "" : " Widened: \($0.widened.joined(separator: "; "))." } ?? ""
            var props = properties(f)
            if let mark, !mark.widened.isEmpty { props["widened"] = mark.widened }
            var r: [String: Any] = [
                "ruleId": f.ruleId,
                "level": f.conditional && !report.failOnConditional ? "note" : f.severity.sarifLevel,
                "message": ["text": "\(f.message)\(widened) Remediation: \(f.remediation)"],
                "locations": [locations.location(f)],
                "partialFingerprints": [Self.fingerprintKey: Self.resultFingerprint(host: host, f)],
                "properties": props
            ]
            if let mark { r["baselineState"] = mark.state.rawValue }
            if let i = index[f.ruleId] { r["ruleIndex"] = i }
            if let s = f.suppression {
                var sup: [String: Any] = ["kind": "external", "status": "accepted", "justification": s.reason]
                if let l = locations.suppressionLocation(s) { sup["location"] = l }
                r["suppressions"] = [sup]
            }
            return r
        }
        return [
            "tool": [
                "driver": [
                    "name": "portwarden",
                    "version": report.toolVersion,
                    "semanticVersion": report.toolVersion,
                    "informationUri": report.repositoryURL,
                    "rules": rules
                ] as [String: Any]
            ],
            "automationDetails": ["id": Self.automationID(category: report.automationCategory, hostname: host)],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "invocations": [
                [
                    "executionSuccessful": true,
                    "toolExecutionNotifications": report.result.caveats.map { ["message": ["text": $0], "level": "warning"] }
                ] as [String: Any]
            ],
            "properties": [
                "hostname": report.result.host.hostname, "collectedAt": report.result.host.collectedAt,
                "policy": report.relative(report.result.policySource)
            ]
        ]
    }

    func properties(_ f: Finding) -> [String: Any] {
        var p: [String: Any] = [
            "severity": f.severity.rawValue, "subject": f.subject, "conditional": f.conditional,
            "security-severity": f.severity.securitySeverity
        ]
        if let e = f.evidence {
            p["exposure"] = e.exposure
            p["interfaces"] = e.interfaces
            p["sources"] = e.sources
            p["path"] = e.path
            if !e.reasons.isEmpty { p["reasons"] = e.reasons }
        }
        if let rule = f.rule { p["rule"] = "\(rule.family) \(rule.table) \(rule.chain) handle \(rule.handle)" }
        return p
    }

    /// A result's identity for code scanning: host, check and subject; never a line number, so editing the policy
    /// or the ruleset above a finding's line does not turn it into a new alert.
    public static func resultFingerprint(host: String, _ f: Finding) -> String {
        Fingerprint.of(ruleId: f.ruleId, subject: "\(host)\u{0}\(f.subject)")
    }

    /// `<category>/<hostname>/`: the trailing slash makes the whole id the run's category (SARIF 2.1.0
    /// runAutomationDetails.id), so the alerts of one host are only ever compared with earlier runs for the same host.
    public static func automationID(category: String, hostname: String) -> String {
        let host = hostname.isEmpty ? "unknown-host" : hostname.replacingOccurrences(of: "/", with: "_")
        return "\(category)/\(host)/"
    }
}
