import Foundation
import Checks
import Evaluator
import Policy

/// Prometheus text exposition (format 0.0.4) for node_exporter's textfile collector: unsuppressed findings by severity
/// (every severity, zeros included) and by check, suppressed findings, listeners by exposure class, and when the last
/// run happened and whether it succeeded. Every sample carries a `host` label, so files for several snapshots can share
/// one textfile directory. No sample timestamps: the textfile collector refuses them.
public struct PrometheusReporter: Reporter {
    public static let format = ReportFormat.prometheus

    public init() {}

    public func render(_ report: Report) -> String {
        let r = report.result
        let host = r.host.hostname
        var out = Exposition(host: host)
        let counts = r.counts
        out.family(
            "portwarden_findings", "Unsuppressed findings of the last audit, by severity.",
            Severity.allCases.reversed().map { ([("severity", $0.rawValue)], counts[$0] ?? 0) })
        var byCheck: [String: [Severity: Int]] = [:]
        for f in r.findings where !f.isSuppressed { byCheck[f.ruleId, default: [:]][f.severity, default: 0] += 1 }
        let checkSamples = byCheck.keys.sorted().flatMap { id in
            Severity.allCases.reversed().compactMap { s in byCheck[id]?[s].map { ([("check", id), ("severity", s.rawValue)], $0) } }
        }
        out.family(
            "portwarden_findings_by_check", "Unsuppressed findings of the last audit, by check and severity (checks without findings are left out).",
            checkSamples)
        out.family(
            "portwarden_findings_suppressed", "Findings of the last audit waived by a policy suppression.",
            [([], r.findings.filter(\.isSuppressed).count)])
        if let exposure = report.exposure {
            out.family(
                "portwarden_listeners", "Listeners by exposure class (public, conditional, restricted, localOnly, blocked).",
                Self.exposureClasses.map { ([("exposure", $0.rawValue)], exposure[$0] ?? 0) })
        }
        out.lastRun(at: report.runAt ?? Self.date(r.host.collectedAt), success: true)
        return out.text
    }

    /// The exposition of a run that failed (the host or the input could not be read): only the last-run time and
    /// `portwarden_last_run_success 0`. Finding and listener counts are left out, not written as zero: they are unknown.
    public static func failedRun(host: String, at date: Date) -> String {
        var out = Exposition(host: host)
        out.lastRun(at: date, success: false)
        return out.text
    }

    /// Listeners per exposure class, for `Report.exposure`.
    public static func exposureCounts(_ reaches: [ListenerReach]) -> [ExposureSummary: Int] {
        var out: [ExposureSummary: Int] = [:]
        for r in reaches { out[r.summary, default: 0] += 1 }
        return out
    }

    /// Every class, widest first (zeros are written too, so a class that empties shows 0, not a vanished series).
    static let exposureClasses: [ExposureSummary] = [.public, .conditional, .restricted, .localOnly, .blocked]

    /// An ISO 8601 collection time (snapshots record one); nil when it cannot be read.
    static func date(_ iso: String) -> Date? {
        ISO8601DateFormatter().date(from: iso)
    }

    /// A label value escaped as the exposition format requires: backslash, double quote and line feed.
    public static func escapeLabel(_ value: String) -> String {
        var s = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": s += "\\\\"
            case "\"": s += "\\\""
            case "\n": s += "\\n"
            default: s.unicodeScalars.append(c)
            }
        }
        return s
    }
}

/// Builds the exposition text: `# HELP` and `# TYPE` once before each family's samples.
struct Exposition {
    let host: String
    var text = ""

    /// A gauge family; each sample is its labels besides `host`, and its value.
    mutating func family(_ name: String, _ help: String, _ samples: [([(String, String)], Int)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, value) in samples {
            let all = [("host", host)] + labels
            text += "\(name){\(all.map { "\($0.0)=\"\(PrometheusReporter.escapeLabel($0.1))\"" }.joined(separator: ","))} \(value)\n"
        }
    }

    /// `portwarden_last_run_timestamp_seconds` (omitted when the time is unknown) and `portwarden_last_run_success`.
    mutating func lastRun(at date: Date?, success: Bool) {
        if let date {
            family(
                "portwarden_last_run_timestamp_seconds", "When the last audit ran, in seconds since the Unix epoch.",
                [([], Int(date.timeIntervalSince1970.rounded(.down)))])
        }
        family(
            "portwarden_last_run_success", "1 when the last audit read the host and the policy, 0 when it failed (exit 2 or 3).",
            [([], success ? 1 : 0)])
    }
}
