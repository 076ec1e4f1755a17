import Foundation
import HostModel
import Checks
import Serialization

/// Renders a `SnapshotDiff` as text or as the `portwarden-diff/1` JSON document. SARIF goes through `SARIFReporter`
/// with the new and widened findings only (`baselineState` new / updated), so code scanning annotates exactly what a
/// change introduces or makes worse.
public enum DiffReport {
    public static let schema = "portwarden-diff/1"

    struct Side: Encodable { var hostname: String; var collectedAt: String; var label: String }
    struct FindingSet: Encodable { var new: [Finding]; var widened: [WidenedFinding]; var fixed: [Finding] }
    struct Summary: Encodable {
        var listenersChanged: Int
        var moreExposed: Int
        var lessExposed: Int
        var newFindings: Int
        var widenedFindings: Int
        var fixedFindings: Int
    }
    struct Document: Encodable {
        var schema: String
        var toolVersion: String
        var old: Side
        var new: Side
        var summary: Summary
        var caveats: [String]
        var listeners: [ListenerDiff]
        var findings: FindingSet
    }

    static func summary(_ d: SnapshotDiff) -> Summary {
        Summary(
            listenersChanged: d.listeners.count,
            moreExposed: d.listeners.filter { $0.changes.contains { $0.direction == "+" } }.count,
            lessExposed: d.listeners.filter { $0.changes.contains { $0.direction == "-" } }.count,
            newFindings: d.newFindings.count, widenedFindings: d.widenedFindings.count, fixedFindings: d.fixedFindings.count)
    }

    /// - Parameters: `oldLabel`/`newLabel` name the two sides as the user gave them (file, `live`, `+ ruleset F`).
    public static func json(_ d: SnapshotDiff, oldLabel: String, newLabel: String, toolVersion: String) throws(ReportEncodingError) -> String {
        let doc = Document(
            schema: schema, toolVersion: toolVersion,
            old: Side(hostname: d.oldHost.hostname, collectedAt: d.oldHost.collectedAt, label: oldLabel),
            new: Side(hostname: d.newHost.hostname, collectedAt: d.newHost.collectedAt, label: newLabel),
            summary: summary(d), caveats: d.caveats, listeners: d.listeners,
            findings: FindingSet(new: d.newFindings, widened: d.widenedFindings, fixed: d.fixedFindings))
        return try ReportEncodingError.encode(doc, document: "diff report")
    }

    public static func text(_ d: SnapshotDiff, oldLabel: String, newLabel: String) -> String {
        var lines: [String] = ["portwarden diff: \(oldLabel) → \(newLabel)"]
        for c in d.caveats { lines.append("warning: \(c)") }
        lines.append("")
        if d.listeners.isEmpty {
            lines.append("exposure: no listener changed")
        } else {
            let s = summary(d)
            lines.append("exposure: \(s.listenersChanged) listener(s) changed (\(s.moreExposed) more exposed, \(s.lessExposed) less exposed)")
            for l in d.listeners {
                let before = l.old.map { SnapshotDiffer.label($0.summary) } ?? "absent"
                let after = l.new.map { SnapshotDiffer.label($0.summary) } ?? "absent"
                // Process names and messages are escaped: any user can rename a process to control characters.
                let procs = ((l.new ?? l.old)?.processes ?? []).map(TerminalText.escape)
                lines.append("  \(l.proto.rawValue) \(l.endpoint)\(procs.isEmpty ? "" : " (\(procs.joined(separator: ", ")))"): \(before) → \(after)")
                for c in l.changes { lines.append("    \(c.direction) \(c.text)") }
                if let step = l.new?.decidedBy, l.changes.contains(where: { $0.direction == "+" }) {
                    lines.append("      decided by: \(step.text)")
                }
            }
        }
        lines.append("")
        lines.append("findings: \(d.newFindings.count) new, \(d.widenedFindings.count) widened, \(d.fixedFindings.count) fixed")
        for f in d.newFindings {
            lines.append(
                "  + \(f.severity.rawValue.uppercased()) \(f.ruleId) \(TerminalText.escape(f.message))\(f.isSuppressed ? " (suppressed)" : "")")
            if let loc = f.rulesetLocation { lines.append("      at \(loc.file):\(loc.line):\(loc.column); fix: \(f.remediation)") }
        }
        for w in d.widenedFindings {
            let f = w.finding
            lines.append(
                "  ^ \(f.severity.rawValue.uppercased()) \(f.ruleId) widened: \(TerminalText.escape(f.message))\(f.isSuppressed ? " (suppressed)" : "")"
            )
            for x in w.widenings { lines.append("      \(x.text)") }
        }
        for f in d.fixedFindings {
            lines.append("  - \(f.severity.rawValue.uppercased()) \(f.ruleId) \(TerminalText.escape(f.message))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
