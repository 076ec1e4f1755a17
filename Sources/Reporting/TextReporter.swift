import Checks
import HostModel
import Policy

/// Human-readable report: findings grouped by severity (highest first), suppressed ones last, then a summary line.
public struct TextReporter: Reporter {
    public static let format = ReportFormat.text

    public init() {}

    static func paint(_ s: String, _ code: String, _ on: Bool) -> String { on ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    static func colour(_ s: Severity) -> String {
        switch s {
        case .critical: "1;35"
        case .high: "1;31"
        case .medium: "1;33"
        case .low: "1;36"
        case .info: "2"
        }
    }

    /// Host-derived text (process names travel into messages and subjects) with control characters escaped.
    static func safe(_ s: String) -> String { TerminalText.escape(s) }

    public func render(_ report: Report) -> String {
        let r = report.result
        let c = report.color
        var out =
            "portwarden \(report.toolVersion) audit of \(Self.safe(r.host.hostname)) (collected \(r.host.collectedAt)), policy \(report.relative(r.policySource))\n"
        for caveat in r.caveats { out += Self.paint("caveat: \(Self.safe(caveat))", "33", c) + "\n" }
        let active = r.findings.filter { !$0.isSuppressed }
        for sev in Severity.allCases.reversed() {
            let group = active.filter { $0.severity == sev }
            guard !group.isEmpty else { continue }
            out += "\n" + Self.paint("\(sev.rawValue.uppercased()) (\(group.count))", Self.colour(sev), c) + "\n"
            for f in group { out += item(f, report) }
        }
        let suppressed = r.findings.filter(\.isSuppressed)
        if !suppressed.isEmpty {
            out += "\n" + Self.paint("SUPPRESSED (\(suppressed.count))", "2", c) + "\n"
            for f in suppressed {
                let s = f.suppression
                let until = s?.expires.map { ", until \($0)" } ?? ""
                out += "  \(f.ruleId) \(f.slug)  \(subjectText(f))  [\(f.severity.rawValue)]\n"
                out +=
                    "    waived at \(s.map { report.relative($0.location.file) + ":\($0.location.line)" } ?? "?")\(until): \(Self.safe(s?.reason ?? ""))\n"
            }
        }
        if r.findings.isEmpty { out += "\nNo findings.\n" }
        let counts = r.counts
        let parts = Severity.allCases.reversed().map { "\(counts[$0] ?? 0) \($0.rawValue)" }
        out += "\nSummary: \(parts.joined(separator: ", ")); \(suppressed.count) suppressed; \(r.checks.count) checks run.\n"
        return out
    }

    func subjectText(_ f: Finding) -> String { Self.safe(rawSubject(f)) }

    func rawSubject(_ f: Finding) -> String {
        if let l = f.listener { return "\(l.proto.rawValue) \(l.endpoint)" }
        // A candidate rule (`--ruleset`) by its line: its handle exists only in the namespace it was loaded into.
        if let rule = f.rule {
            return "\(rule.family) \(rule.table) \(rule.chain) " + (f.rulesetLocation.map { "at \($0.file):\($0.line)" } ?? "#\(rule.handle)")
        }
        return f.subject
    }

    func item(_ f: Finding, _ report: Report) -> String {
        var s = "  \(f.ruleId) \(f.slug)  \(subjectText(f))"
        if f.conditional { s += report.failOnConditional ? "  (conditional)" : "  (conditional: does not fail the run)" }
        if let mark = report.baseline?[f.fingerprint] { s += "  [baseline: \(mark.state.rawValue)]" }
        s += "\n    \(Self.safe(f.message))\n"
        for w in report.baseline?[f.fingerprint]?.widened ?? [] { s += "    widened: \(Self.safe(w))\n" }
        if let e = f.evidence {
            for step in e.path { s += "    path: \(Self.safe(step))\n" }
            if !e.reasons.isEmpty { s += "    undecided: \(Self.safe(e.reasons.joined(separator: "; ")))\n" }
        }
        if let loc = f.policyLocation { s += "    policy: \(report.relative(loc.file)):\(loc.line):\(loc.column)\n" }
        if let loc = f.rulesetLocation { s += "    ruleset: \(report.relative(loc.file)):\(loc.line):\(loc.column)\n" }
        s += "    fix: \(Self.safe(f.remediation))\n"
        return s
    }
}
