import HostModel
import Evaluator
import Checks
import Policy

/// One listener's exposure reduced to what a change review compares. Built from the evaluator's answer.
public struct ExposureState: Codable, Sendable, Equatable {
    public var summary: ExposureSummary
    /// Named non-loopback interfaces on which some source is accepted (or conditional).
    public var interfaces: [String]
    /// Also reached on every interface the host and its rules do not name.
    public var otherInterfaces: Bool
    /// The same in words ("every interface except eth1"); not in JSON.
    public var scope = InterfaceScope(reached: [], asked: [])
    /// Families on which some remote source is accepted (or conditional).
    public var families: [IPFamily]
    /// Accepted (or conditional) remote sources, merged per family, as ranges: the first `ExposureRegion.maxListed` of
    /// each family (comparisons use the exact sets).
    public var sources: [String]
    /// How many further ranges `sources` leaves out (a deny list's complement); nil (not in JSON) when none.
    public var omittedSources: Int?
    /// `name[pid]` of every holder, and the socket's uid: the owner.
    public var processes: [String]
    public var uid: UInt32
    /// The rule (with handle) that decides the widest remote outcome, when there is one.
    public var decidedBy: PathStep?

    /// Reachable from somewhere other than the host itself (conditional counts, as in the checks).
    public var isRemote: Bool { summary == .public || summary == .restricted || summary == .conditional }

    enum CodingKeys: String, CodingKey { case summary, interfaces, otherInterfaces, families, sources, omittedSources, processes, uid, decidedBy }

    public init(_ x: ListenerExposure) {
        let reach = ListenerReach(x)
        summary = x.summary
        scope = x.interfaceScope
        interfaces = scope.named
        otherInterfaces = scope.others
        families = reach.reachedFamilies
        processes = x.listener.processes.map { "\($0.name)[\($0.pid)]" }
        uid = x.listener.uid
        decidedBy = reach.path.last { $0.handle != nil }
        var shown: [String] = []
        var omitted = 0
        for fam in IPFamily.allCases {
            guard let set = SourceCoverage.of(x, family: fam) else { continue }
            let listed = set.isFull ? set.descriptions : set.ranges.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, fam) }
            shown += listed
            omitted += set.isFull ? 0 : set.ranges.count - listed.count
        }
        sources = shown
        omittedSources = omitted > 0 ? omitted : nil
    }
}

/// The kinds of change a review is told about, each with a direction (more or less exposure, or neither).
public enum ChangeKind: String, Codable, Sendable, CaseIterable {
    case listenerAdded, listenerRemoved
    case newlyReachable, noLongerReachable
    case widerSources, narrowerSources
    case familyAdded, familyRemoved
    case interfaceAdded, interfaceRemoved
    case ownerChanged
    /// The summary changed without any of the above (e.g. restricted → conditional).
    case exposureChanged

    /// `+` more exposure, `-` less, `~` neither (owner, summary only).
    public var direction: String {
        switch self {
        case .listenerAdded, .newlyReachable, .widerSources, .familyAdded, .interfaceAdded: "+"
        case .listenerRemoved, .noLongerReachable, .narrowerSources, .familyRemoved, .interfaceRemoved: "-"
        case .ownerChanged, .exposureChanged: "~"
        }
    }
}

/// One change of one listener, with the values it concerns (`items`: ranges, families, interfaces or owners).
public struct ExposureChange: Codable, Sendable, Equatable {
    public var kind: ChangeKind
    public var direction: String
    public var items: [String]
    public var text: String

    public init(_ kind: ChangeKind, _ items: [String] = [], _ text: String) {
        self.kind = kind
        self.direction = kind.direction
        self.items = items
        self.text = text
    }
}

/// A listener present on either side, with its old and new exposure and what changed.
public struct ListenerDiff: Codable, Sendable, Equatable {
    /// `listener/tcp/0.0.0.0:6379`, the same subject findings use.
    public var subject: String
    public var proto: L4Proto
    public var endpoint: String
    public var old: ExposureState?
    public var new: ExposureState?
    public var changes: [ExposureChange]
}

/// The result of comparing two snapshots: exposure changes and findings that appeared or went away.
public struct SnapshotDiff: Sendable {
    public var oldHost: HostInfo
    public var newHost: HostInfo
    /// Only listeners with at least one change, sorted by subject.
    public var listeners: [ListenerDiff]
    /// Findings whose fingerprint is in the new audit only.
    public var newFindings: [Finding]
    /// Findings on both sides whose exposure or severity grew; they count for `--fail-on` like new ones.
    public var widenedFindings: [WidenedFinding]
    /// Findings whose fingerprint was in the old audit only.
    public var fixedFindings: [Finding]
    /// The audit of the new side, whose findings list is replaced by the new and widened findings (these decide the
    /// exit code and are what SARIF reports).
    public var newAudit: AuditResult
    /// The new side's exposure as the checks saw it (to point findings at the rules that decide them).
    public var newReaches: [ListenerReach]
    public var caveats: [String]
}

/// Compares two snapshots under one policy. Pure: both audits and both exposures are computed here.
public enum SnapshotDiffer {
    public static func diff(old: Snapshot, new: Snapshot, policy: Policy, today: PolicyDate, options: AuditOptions = AuditOptions()) -> SnapshotDiff {
        let oldEval = Evaluator(snapshot: old), newEval = Evaluator(snapshot: new)
        let oldX = oldEval.exposure(), newX = newEval.exposure()
        let oldAudit = audit(old, oldX, oldEval, policy, today, options)
        var newAudit = audit(new, newX, newEval, policy, today, options)
        let oldPrints = Set(oldAudit.findings.map(\.fingerprint)), newPrints = Set(newAudit.findings.map(\.fingerprint))
        let added = newAudit.findings.filter { !oldPrints.contains($0.fingerprint) }
        let fixed = oldAudit.findings.filter { !newPrints.contains($0.fingerprint) }
        let widened = FindingWidener.widened(old: oldAudit.findings, new: newAudit.findings)
        let gating = Set(added.map(\.fingerprint)).union(widened.map(\.finding.fingerprint))
        newAudit.findings = newAudit.findings.filter { gating.contains($0.fingerprint) }
        var caveats = newAudit.caveats
        for c in oldAudit.caveats where !caveats.contains(c) { caveats.append("old: \(c)") }
        return SnapshotDiff(
            oldHost: old.host, newHost: new.host, listeners: compare(oldX, newX), newFindings: added,
            widenedFindings: widened, fixedFindings: fixed, newAudit: newAudit,
            newReaches: newX.map(ListenerReach.init), caveats: caveats)
    }

    static func audit(
        _ s: Snapshot, _ x: [ListenerExposure], _ ev: Evaluator, _ policy: Policy, _ today: PolicyDate,
        _ options: AuditOptions
    ) -> AuditResult {
        let ctx = AuditContext(snapshot: s, reaches: x.map(ListenerReach.init), policy: policy, today: today, rules: ev.rules)
        return Auditor.run(ctx, options: options, caveats: ev.caveats + s.warnings)
    }

    /// The per-listener changes between two exposure lists (listeners matched by proto and endpoint).
    public static func compare(_ old: [ListenerExposure], _ new: [ListenerExposure]) -> [ListenerDiff] {
        func key(_ x: ListenerExposure) -> String { "listener/\(x.listener.proto.rawValue)/\(x.listener.endpoint)" }
        var o: [String: ListenerExposure] = [:], n: [String: ListenerExposure] = [:]
        for x in old where o[key(x)] == nil { o[key(x)] = x }
        for x in new where n[key(x)] == nil { n[key(x)] = x }
        var out: [ListenerDiff] = []
        for k in Set(o.keys).union(n.keys).sorted() {
            let a = o[k], b = n[k]
            guard let l = (b ?? a)?.listener else { continue }
            let changes = changesBetween(a, b)
            if changes.isEmpty { continue }
            out.append(
                ListenerDiff(
                    subject: k, proto: l.proto, endpoint: l.endpoint, old: a.map(ExposureState.init),
                    new: b.map(ExposureState.init), changes: changes))
        }
        return out
    }

    static func label(_ s: ExposureSummary) -> String { s == .localOnly ? "local-only" : s.rawValue }

    static func changesBetween(_ a: ListenerExposure?, _ b: ListenerExposure?) -> [ExposureChange] {
        switch (a, b) {
        case (nil, nil): return []
        case (nil, let b?):
            let s = ExposureState(b)
            let from = s.isRemote ? " reachable from \(s.sources.joined(separator: ", ")) on \(s.scope.text)" : ""
            return [ExposureChange(.listenerAdded, s.sources, "new listener (\(label(s.summary)))\(from)")]
        case (let a?, nil):
            let s = ExposureState(a)
            return [ExposureChange(.listenerRemoved, s.sources, "listener gone (was \(label(s.summary)))")]
        case (let a?, let b?):
            let x = ExposureState(a), y = ExposureState(b)
            var out: [ExposureChange] = []
            if !x.isRemote && y.isRemote {
                out.append(
                    ExposureChange(
                        .newlyReachable, y.sources,
                        "newly reachable (\(label(x.summary)) → \(label(y.summary))) from \(y.sources.joined(separator: ", ")) on \(y.scope.text)"))
            } else if x.isRemote && !y.isRemote {
                out.append(ExposureChange(.noLongerReachable, x.sources, "no longer reachable (\(label(x.summary)) → \(label(y.summary)))"))
            } else if x.isRemote && y.isRemote {
                for fam in IPFamily.allCases {
                    let before = SourceCoverage.of(a, family: fam) ?? AddressSet(family: fam)
                    let after = SourceCoverage.of(b, family: fam) ?? AddressSet(family: fam)
                    let gained = after.subtracting(before), lost = before.subtracting(after)
                    if !gained.isEmpty {
                        out.append(ExposureChange(.widerSources, gained.descriptions, "now also reachable from \(readable(gained))"))
                    }
                    if !lost.isEmpty { out.append(ExposureChange(.narrowerSources, lost.descriptions, "no longer reachable from \(readable(lost))")) }
                }
                let famAdded = y.families.filter { !x.families.contains($0) }.map(\.rawValue)
                let famRemoved = x.families.filter { !y.families.contains($0) }.map(\.rawValue)
                if !famAdded.isEmpty { out.append(ExposureChange(.familyAdded, famAdded, "now reachable over \(famAdded.joined(separator: ", "))")) }
                if !famRemoved.isEmpty {
                    out.append(ExposureChange(.familyRemoved, famRemoved, "no longer reachable over \(famRemoved.joined(separator: ", "))"))
                }
                let other = "every interface the host does not name"
                var ifAdded = y.interfaces.filter { !x.interfaces.contains($0) }
                var ifRemoved = x.interfaces.filter { !y.interfaces.contains($0) }
                if y.otherInterfaces && !x.otherInterfaces { ifAdded.append(other) }
                if x.otherInterfaces && !y.otherInterfaces { ifRemoved.append(other) }
                if !ifAdded.isEmpty { out.append(ExposureChange(.interfaceAdded, ifAdded, "now reachable on \(InterfaceScope.list(ifAdded))")) }
                if !ifRemoved.isEmpty {
                    out.append(ExposureChange(.interfaceRemoved, ifRemoved, "no longer reachable on \(InterfaceScope.list(ifRemoved))"))
                }
            }
            if x.summary != y.summary && out.isEmpty {
                out.append(
                    ExposureChange(.exposureChanged, [label(x.summary), label(y.summary)], "exposure \(label(x.summary)) → \(label(y.summary))"))
            }
            let oldOwners = Set(a.listener.processes.map(\.name)), newOwners = Set(b.listener.processes.map(\.name))
            if oldOwners != newOwners || a.listener.uid != b.listener.uid {
                let before = owner(a.listener), after = owner(b.listener)
                out.append(ExposureChange(.ownerChanged, [before, after], "owner \(before) → \(after)"))
            }
            return out
        }
    }

    /// A source set for people: most of the address space reads better as "anywhere except …".
    static func readable(_ set: AddressSet) -> String {
        if set.isFull { return "anywhere (\(set.descriptions.joined()))" }
        let half: UInt128 = set.family == .ipv4 ? UInt128(1) << 31 : UInt128(1) << 127
        let rest = set.complement()
        if set.count > half && rest.ranges.count < set.ranges.count {
            return "anywhere except \(rest.descriptions.joined(separator: ", "))"
        }
        return set.descriptions.joined(separator: ", ")
    }

    /// Process names (pids change on every restart, so they are not compared) and uid.
    static func owner(_ l: Listener) -> String {
        let names = Array(Set(l.processes.map(\.name))).sorted()
        return "\(names.isEmpty ? "-" : names.joined(separator: ","))(uid \(l.uid))"
    }
}

/// The remote sources that reach a listener, as one address set per family (the evaluator's exact sets), and the
/// parser of range texts in reports read back (a finding's evidence).
enum SourceCoverage {
    static func of(_ x: ListenerExposure, family: IPFamily) -> AddressSet? {
        let set = x.remoteSources(family)
        return set.isEmpty ? nil : set
    }

    /// The family of one of the evaluator's range strings, or nil when it is neither form.
    static func family(of text: String) -> IPFamily? {
        IPFamily.allCases.first { parse(text, $0) != nil }
    }

    /// Parses the evaluator's range forms: `a`, `a/len`, `a-b`.
    static func parse(_ text: String, _ family: IPFamily) -> AddressSet? {
        AddressSet.parseRange(text, family).map { AddressSet(family: family, ranges: [$0]) }
    }
}
