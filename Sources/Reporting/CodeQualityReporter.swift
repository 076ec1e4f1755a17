import Foundation
import Checks
import Serialization
import Policy

/// GitLab Code Quality (the subset of the Code Climate spec GitLab reads): a JSON array with one issue per unsuppressed
/// finding (GitLab has no notion of a waiver), `check_name` the check id. The fingerprint is SARIF's
/// (`SARIFReporter.resultFingerprint`: host, check, subject), so both formats track one finding as one issue, and
/// editing lines above it does not make it new. Locations follow SARIF's rule
/// (`SARIFLocations`): the finding's own line in a file of the user's repository, else line 1 of the policy, candidate
/// ruleset or snapshot given. GitLab requires a path, so with no such file (built-in policy on a live host) the path is
/// the host object the finding is about (`listener/tcp/0.0.0.0:5432`), which GitLab lists but cannot link.
public struct CodeQualityReporter: Reporter {
    public static let format = ReportFormat.codequality

    public init() {}

    /// One Code Quality issue; the keys are GitLab's.
    struct Issue: Encodable {
        var description: String
        var check_name: String
        var fingerprint: String
        var severity: String
        var location: Location
    }

    struct Location: Encodable {
        var path: String
        var lines: Lines
    }

    struct Lines: Encodable { var begin: Int }

    public func render(_ report: Report) throws(ReportEncodingError) -> String {
        try Self.encode(issues(report))
    }

    /// The issues of one report (`merge` concatenates those of every host).
    func issues(_ report: Report) -> [Issue] {
        let locations = SARIFLocations(report: report)
        let host = report.result.host.hostname
        return report.result.findings.filter { !$0.isSuppressed }.map { f in
            Issue(
                description: description(f, report), check_name: f.ruleId,
                fingerprint: SARIFReporter.resultFingerprint(host: host, f),
                severity: Self.severity(f, failOnConditional: report.failOnConditional),
                location: location(f, locations, report))
        }
    }

    static func encode(_ issues: [Issue]) throws(ReportEncodingError) -> String {
        try ReportEncodingError.encode(issues, document: "Code Quality report")
    }

    /// GitLab's scale for a finding: info→info, low→minor, medium→major, high→critical, critical→blocker; a conditional
    /// finding is `info` unless conditional findings fail the run (as SARIF makes it a `note`).
    public static func severity(_ f: Finding, failOnConditional: Bool) -> String {
        f.conditional && !failOnConditional ? "info" : severity(f.severity)
    }

    /// The GitLab severity of a portwarden severity.
    public static func severity(_ s: Severity) -> String {
        switch s {
        case .info: "info"
        case .low: "minor"
        case .medium: "major"
        case .high: "critical"
        case .critical: "blocker"
        }
    }

    /// The message, what grew for a widened finding (`diff`, `--baseline`), and the remediation.
    func description(_ f: Finding, _ report: Report) -> String {
        let widened = report.baseline?[f.fingerprint].map { $0.widened.isEmpty ? "" : " Widened: \($0.widened.joined(separator: "; "))." } ?? ""
        return "\(f.message)\(widened) Remediation: \(f.remediation)"
    }

    func location(_ f: Finding, _ locations: SARIFLocations, _ report: Report) -> Location {
        guard let anchor = locations.anchor(f) else { return Location(path: f.subject, lines: Lines(begin: 1)) }
        return Location(path: report.relative(anchor.file), lines: Lines(begin: max(1, anchor.line)))
    }
}
