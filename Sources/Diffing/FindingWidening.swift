import HostModel
import Evaluator
import Checks
import Serialization
import Policy
import Reporting

/// The ways an existing finding can get worse. Each one counts for `--fail-on` like a new finding: a gate that only
/// looks at new fingerprints would let a database go from one subnet to the world unnoticed.
public enum WideningKind: String, Codable, Sendable, CaseIterable {
    /// Sources that could not connect before now can.
    case sources
    /// Interfaces on which nothing was accepted before now accept.
    case interfaces
    /// A family (IPv4, IPv6) that did not reach the listener now does.
    case families
    /// The listener was not reachable from remote sources before (local-only, blocked) and now is.
    case reachable
    /// The finding's severity went up.
    case severity
    /// The finding was conditional (the snapshot could not decide it) and is now certain.
    case certain
}

/// One way a finding got wider, with the values it concerns (ranges, interfaces, families or severities).
public struct Widening: Codable, Sendable, Equatable {
    public var kind: WideningKind
    public var items: [String]
    public var text: String

    public init(_ kind: WideningKind, _ items: [String], _ text: String) {
        self.kind = kind
        self.items = items
        self.text = text
    }
}

/// A finding present before and after a change (same fingerprint) whose exposure or severity grew.
public struct WidenedFinding: Codable, Sendable, Equatable {
    /// The finding as it is now.
    public var finding: Finding
    public var previousSeverity: Severity
    public var widenings: [Widening]
}

/// Compares the old and new version of one finding (matched by fingerprint) from their evidence and severity.
/// Pure and evidence-based, so the same rule serves `diff` (two audits) and `audit --baseline` (an earlier report).
public enum FindingWidener {
    /// What got wider from `old` to `new`; empty when nothing did (narrowing and rewording are not widening).
    public static func widenings(old: Finding, new: Finding) -> [Widening] {
        var out: [Widening] = []
        if new.severity > old.severity {
            out.append(
                Widening(
                    .severity, [old.severity.rawValue, new.severity.rawValue],
                    "severity \(old.severity.rawValue) → \(new.severity.rawValue)"))
        }
        if old.conditional && !new.conditional {
            out.append(Widening(.certain, [], "no longer conditional: the exposure is certain"))
        }
        if let a = old.evidence, let b = new.evidence { out += exposureWidenings(a, b) }
        return out
    }

    /// Widening of the evidence itself: reachability, families, sources per family, interfaces.
    static func exposureWidenings(_ a: Evidence, _ b: Evidence) -> [Widening] {
        let wasRemote = isRemote(a.exposure), isNowRemote = isRemote(b.exposure)
        guard isNowRemote else { return [] }
        if !wasRemote {
            return [Widening(.reachable, b.sources, "now reachable (\(a.exposure) → \(b.exposure)) from \(list(b.sources))")]
        }
        var out: [Widening] = []
        let before = families(a.sources), after = families(b.sources)
        let added = IPFamily.allCases.filter { after[$0] != nil && before[$0] == nil }
        if !added.isEmpty {
            let items = added.map(\.rawValue)
            out.append(Widening(.families, items, "now reachable over \(items.joined(separator: ", "))"))
        }
        var gained: [String] = [], texts: [String] = []
        for fam in IPFamily.allCases where !added.contains(fam) {
            guard let now = after[fam] else { continue }
            let more = now.subtracting(before[fam] ?? AddressSet(family: fam))
            if more.isEmpty { continue }
            gained += more.descriptions
            texts.append(SnapshotDiffer.readable(more))
        }
        // A source string the parser does not know is new exposure unless it was there before: unknown is not "none".
        let unknown = b.sources.filter { SourceCoverage.family(of: $0) == nil && !a.sources.contains($0) }
        gained += unknown
        texts += unknown
        if !gained.isEmpty { out.append(Widening(.sources, gained, "now also reachable from \(texts.joined(separator: ", "))")) }
        var newIfaces = b.interfaces.filter { !a.interfaces.contains($0) }
        if b.otherInterfaces && !a.otherInterfaces { newIfaces.append("every interface the host does not name") }
        if !newIfaces.isEmpty { out.append(Widening(.interfaces, newIfaces, "now reachable on \(list(newIfaces))")) }
        return out
    }

    static func isRemote(_ exposure: String) -> Bool {
        exposure == ExposureSummary.public.rawValue || exposure == ExposureSummary.restricted.rawValue
            || exposure == ExposureSummary.conditional.rawValue
    }

    /// The evidence's source strings as one address set per family.
    static func families(_ sources: [String]) -> [IPFamily: AddressSet] {
        var out: [IPFamily: AddressSet] = [:]
        for s in sources {
            guard let fam = SourceCoverage.family(of: s), let set = SourceCoverage.parse(s, fam) else { continue }
            out[fam] = (out[fam] ?? AddressSet(family: fam)).union(set)
        }
        return out
    }

    static func list(_ items: [String]) -> String { items.isEmpty ? "(none listed)" : items.joined(separator: ", ") }

    /// The findings of `new` whose fingerprint is also in `old` and that got wider, in `new`'s order.
    public static func widened(old: [Finding], new: [Finding]) -> [WidenedFinding] {
        var before: [String: Finding] = [:]
        for f in old where before[f.fingerprint] == nil { before[f.fingerprint] = f }
        return new.compactMap { f in
            guard let o = before[f.fingerprint] else { return nil }
            let w = widenings(old: o, new: f)
            return w.isEmpty ? nil : WidenedFinding(finding: f, previousSeverity: o.severity, widenings: w)
        }
    }
}

extension FindingWidener {
    /// Each current finding against an earlier report: `new` (fingerprint not in it), `updated` (in it, but wider now:
    /// it fails the run like a new finding) or `unchanged`.
    public static func marks(baseline: [Finding], current: [Finding]) -> [String: BaselineMark] {
        var before: [String: Finding] = [:]
        for f in baseline where before[f.fingerprint] == nil { before[f.fingerprint] = f }
        var out: [String: BaselineMark] = [:]
        for f in current {
            guard let o = before[f.fingerprint] else { out[f.fingerprint] = BaselineMark(.new); continue }
            let w = widenings(old: o, new: f)
            out[f.fingerprint] = w.isEmpty ? BaselineMark(.unchanged) : BaselineMark(.updated, widened: w.map(\.text))
        }
        return out
    }
}

extension SnapshotDiff {
    /// The reported findings (`newAudit.findings`) against the old side: `new` or, for widened ones, `updated`.
    public var baselineMarks: [String: BaselineMark] {
        var out: [String: BaselineMark] = [:]
        for f in newFindings { out[f.fingerprint] = BaselineMark(.new) }
        for w in widenedFindings { out[w.finding.fingerprint] = BaselineMark(.updated, widened: w.widenings.map(\.text)) }
        return out
    }
}
