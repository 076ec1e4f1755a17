import Foundation
import Checks
import HostModel
import Policy

/// SARIF 2.1.0 for code scanning: the full rule catalog in `tool.driver.rules`, one result per finding, a physical
/// location for every result (the policy entry the finding violates; for an undeclared listener the policy's `listeners:`
/// key, where it would be declared; for host facts the first line of the policy in force) plus a logical location naming
/// the host object (`listener/tcp/0.0.0.0:6379`, `rule/inet/filter/input/12`, `host/firewall`), and `suppressions`
/// for waived findings. Code scanning needs a physical location per result, and host facts have no file of their own.
public struct SARIFReporter: Reporter {
    public static let format = ReportFormat.sarif
    /// The key under `partialFingerprints`; bump the suffix if the fingerprint recipe ever changes.
    public static let fingerprintKey = "portwarden/v1"

    public init() {}

    public func render(_ report: Report) -> String {
        let catalog = report.catalog
        var index: [String: Int] = [:]
        for (i, m) in catalog.enumerated() { index[m.id] = i }
        let rules: [[String: Any]] = catalog.map { m in
            [
                "id": m.id,
                "name": m.slug,
                "shortDescription": ["text": m.title],
                "fullDescription": ["text": m.summary],
                "help": ["text": "\(m.rationale)\n\nRemediation: \(m.remediation)",
                         "markdown": "\(m.rationale)\n\n**Remediation:** \(m.remediation)\n\n[\(m.id) documentation](\(report.helpURI(m.id)))"],
                "helpUri": report.helpURI(m.id),
                "defaultConfiguration": ["level": m.defaultSeverity.sarifLevel],
                "properties": [
                    "tags": ["security", m.category.rawValue],
                    "security-severity": m.defaultSeverity.securitySeverity,
                    "precision": "high",
                ] as [String: Any],
            ]
        }
        let results: [[String: Any]] = report.result.findings.map { f in
            var r: [String: Any] = [
                "ruleId": f.ruleId,
                "level": f.conditional && !report.failOnConditional ? "note" : f.severity.sarifLevel,
                "message": ["text": "\(f.message) Remediation: \(f.remediation)"],
                "locations": [location(f, report)],
                "partialFingerprints": [Self.fingerprintKey: f.fingerprint],
                "properties": properties(f),
            ]
            if let i = index[f.ruleId] { r["ruleIndex"] = i }
            if let s = f.suppression {
                r["suppressions"] = [[
                    "kind": "external",
                    "status": "accepted",
                    "justification": s.reason,
                    "location": physical(file: s.location.file, line: s.location.line, column: s.location.column, report),
                ] as [String: Any]]
            }
            return r
        }
        let doc: [String: Any] = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [[
                "tool": ["driver": [
                    "name": "portwarden",
                    "version": report.toolVersion,
                    "semanticVersion": report.toolVersion,
                    "informationUri": report.repositoryURL,
                    "rules": rules,
                ] as [String: Any]],
                "columnKind": "unicodeCodePoints",
                "results": results,
                "invocations": [["executionSuccessful": true, "toolExecutionNotifications": report.result.caveats.map { ["message": ["text": $0], "level": "warning"] }] as [String: Any]],
                "properties": ["hostname": report.result.host.hostname, "collectedAt": report.result.host.collectedAt,
                               "policy": report.relative(report.result.policySource)],
            ] as [String: Any]],
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            return "{}\n"
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func properties(_ f: Finding) -> [String: Any] {
        var p: [String: Any] = ["severity": f.severity.rawValue, "subject": f.subject, "conditional": f.conditional,
                                "security-severity": f.severity.securitySeverity]
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

    /// The policy entry the finding violates; for host facts without one, the first line of the policy in force.
    func location(_ f: Finding, _ report: Report) -> [String: Any] {
        let loc = f.policyLocation
        var l = physical(file: loc?.file ?? report.result.policySource, line: loc?.line ?? 1, column: loc?.column ?? 1, report)
        l["logicalLocations"] = [["fullyQualifiedName": f.subject, "kind": "resource"]]
        return l
    }

    func physical(file: String, line: Int, column: Int, _ report: Report) -> [String: Any] {
        let rel = report.relative(file)
        var artifact: [String: Any]
        if rel.hasPrefix("/") {
            artifact = ["uri": "file://" + (rel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? rel)]
        } else {
            artifact = ["uri": rel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? rel, "uriBaseId": "%SRCROOT%"]
        }
        return ["physicalLocation": ["artifactLocation": artifact, "region": ["startLine": max(1, line), "startColumn": max(1, column)]] as [String: Any]]
    }
}
