import HostModel
import Evaluator
import Policy

/// One audit rule. Implementations are small value types in `Sources/Checks/Rules/`, one per file, listed in `builtInChecks`.
public protocol Check: Sendable {
    static var metadata: CheckMetadata { get }
    /// Passing examples (no finding) and failing ones (the exact subjects expected), run by ChecksTests.
    static var examples: [Example] { get }
    init()
    /// Every finding the check sees, at the check's own severity; overrides and suppressions are applied by `Auditor`.
    func check(_ context: AuditContext) -> [Finding]
    /// Extra Markdown for `rules/<id>.md` (data tables and the like); empty by default.
    static var documentation: String { get }
}

extension Check {
    public static var documentation: String { "" }
}

/// What a check looks at: the snapshot, the evaluator's answer per listener, the policy, and "today" for expiry.
public struct AuditContext: Sendable {
    public var snapshot: Snapshot
    public var reaches: [ListenerReach]
    public var policy: Policy
    public var today: PolicyDate
    /// The ruleset's input-path rules as the evaluator decoded them (`Evaluator.rules`), once per audit.
    public let rules: [RuleMatch]
    /// Published ports, open forwarding and neighbour discovery, as the evaluator found them.
    public var paths: PathFacts

    /// - Parameters:
    ///   - paths: the evaluator's path facts; computed from `snapshot` when nil.
    ///   - rules: the evaluator's rule matches (`Evaluator.rules`); computed from `snapshot` when nil.
    public init(
        snapshot: Snapshot, reaches: [ListenerReach], policy: Policy, today: PolicyDate, paths: PathFacts? = nil,
        rules: [RuleMatch]? = nil
    ) {
        self.snapshot = snapshot
        self.reaches = reaches
        self.policy = policy
        self.today = today
        self.rules = rules ?? Evaluator.rules(of: snapshot.firewall)
        self.paths = paths ?? PathFacts.of(snapshot)
    }

    /// Runs the evaluator on `snapshot` (the normal path for a real audit).
    public init(snapshot: Snapshot, policy: Policy, today: PolicyDate) {
        let evaluator = Evaluator(snapshot: snapshot)
        let full = evaluator.fullExposure()
        self.init(
            snapshot: snapshot, reaches: full.listeners.map(ListenerReach.init), policy: policy, today: today,
            paths: PathFacts.of(snapshot, evaluator: evaluator, forwarded: full.forwarded), rules: evaluator.rules)
    }
}

extension Check {
    /// A finding of this check at its default severity, with the fingerprint taken from `subject`.
    public func finding(
        _ subject: String, _ message: String, severity: Severity? = nil, listener: Listener? = nil, rule: FindingRule? = nil,
        evidence: Evidence? = nil, remediation: String? = nil, policyLocation: SourceLocation? = nil,
        conditional: Bool = false, fix: RulesetFix? = nil
    ) -> Finding {
        let m = Self.metadata
        return Finding(
            ruleId: m.id, slug: m.slug, severity: severity ?? m.defaultSeverity, message: message, subject: subject,
            listener: listener.map(FindingListener.init), rule: rule, evidence: evidence,
            remediation: remediation ?? m.remediation, policyLocation: policyLocation, conditional: conditional, fix: fix)
    }
}

/// Severity by exposure: the check's base severity moved by how wide the accepted sources are and whether the port is sensitive.
public func gradedSeverity(_ base: Severity, _ reach: ListenerReach, sensitive: Bool = false) -> Severity {
    var s: Severity
    switch reach.width {
    case .any: s = sensitive ? base.raised : base
    case .wide: s = base
    case .privateRanges: s = base.lowered
    case .singleHosts: s = base.lowered.lowered
    case .none: s = .info
    }
    if reach.summary == .conditional { s = s.lowered }
    return s
}

/// Human text for where a listener is bound and who holds it: `tcp 0.0.0.0:6379 (redis-server[812], uid 999)`.
public func describe(_ l: Listener) -> String {
    let owners =
        l.processes.isEmpty
        ? (l.owner == .unknown ? "owner unknown" : l.owner == .kernel ? "kernel socket, no process" : "no process")
        : l.processes.map { "\($0.name)[\($0.pid)]" }.joined(separator: ",")
    return "\(l.proto.rawValue) \(l.endpoint) (\(owners), uid \(l.uid))"
}

/// Human text for a reach: `public on eth0 from 0.0.0.0/0`.
public func describe(_ r: ListenerReach) -> String {
    switch r.summary {
    case .public, .restricted, .conditional:
        let ifs = r.interfaces.isEmpty ? "" : " on \(r.interfaceScope.text)"
        let src = r.sources.isEmpty ? "" : " from \(r.sources.prefix(4).joined(separator: ", "))\(r.sources.count > 4 ? ", …" : "")"
        let limited =
            r.limits.isEmpty ? "" : " (rate-limited by \(InterfaceScope.list(r.limits)), which slows a flood but does not choose who connects)"
        return "\(r.summary.rawValue)\(ifs)\(src)\(limited)"
    case .localOnly: return "reachable from this host only"
    case .blocked: return "blocked"
    }
}

/// Interface names for messages: the evaluator names the stand-in for interfaces that do not exist yet in parentheses
/// (`(any other)`); real interface names never contain them.
public func interfaceText(_ name: String) -> String { isPlaceholderInterface(name) ? "every interface the host does not name" : name }

/// Whether `name` is the evaluator's stand-in for "every interface not in the snapshot".
public func isPlaceholderInterface(_ name: String) -> Bool { InterfaceScope.isStandIn(name) }
