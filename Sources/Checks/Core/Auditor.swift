import HostModel
import Evaluator
import Policy

/// Options of one audit run that are not part of the policy (they come from the command line).
public struct AuditOptions: Sendable {
    /// Check ids or slugs to skip entirely (`--ignore`).
    public var ignore: [String]

    public init(ignore: [String] = []) { self.ignore = ignore }
}

/// The outcome of an audit: every finding (suppressed ones included, marked) and what produced them.
public struct AuditResult: Sendable {
    public var host: HostInfo
    /// The main policy file (or `policies/default.yaml` for the built-in one) and every included file.
    public var policySource: String
    public var policyFiles: [String]
    /// Sorted: severity (highest first), then rule id, then subject.
    public var findings: [Finding]
    /// Checks that ran (enabled and not ignored).
    public var checks: [CheckMetadata]
    /// Caveats that apply to every answer (unreadable firewall, collector warnings).
    public var caveats: [String]

    public init(host: HostInfo, policySource: String, policyFiles: [String], findings: [Finding], checks: [CheckMetadata], caveats: [String]) {
        self.host = host
        self.policySource = policySource
        self.policyFiles = policyFiles
        self.findings = findings
        self.checks = checks
        self.caveats = caveats
    }

    /// Unsuppressed findings per severity.
    public var counts: [Severity: Int] {
        var out: [Severity: Int] = [:]
        for f in findings where !f.isSuppressed { out[f.severity, default: 0] += 1 }
        return out
    }

    /// The findings that fail the run: unsuppressed, at or above `threshold`, not in `baseline` (fingerprints), and not
    /// conditional unless `includeConditional`.
    public func failing(threshold: Severity, includeConditional: Bool, baseline: Set<String> = []) -> [Finding] {
        findings.filter { f in
            !f.isSuppressed && f.severity >= threshold && (includeConditional || !f.conditional) && !baseline.contains(f.fingerprint)
        }
    }
}

/// Runs checks and applies the policy's per-check settings, `--ignore` and suppressions. Pure: "today" comes in.
public enum Auditor {
    public static func run(
        _ context: AuditContext, checks: [any Check.Type] = builtInChecks, options: AuditOptions = AuditOptions(),
        caveats: [String] = []
    ) -> AuditResult {
        var findings: [Finding] = []
        var ran: [CheckMetadata] = []
        let policy = context.policy
        for type in checks {
            let m = type.metadata
            if options.ignore.contains(m.id) || options.ignore.contains(m.slug) { continue }
            let override = policy.override(id: m.id, slug: m.slug)
            if override?.disabled == true { continue }
            ran.append(m)
            for var f in type.init().check(context) {
                if let s = override?.severity { f.severity = s }
                findings.append(f)
            }
        }
        for i in findings.indices {
            if let s = matchingSuppression(findings[i], policy: policy, today: context.today, rules: context.rules) {
                findings[i].suppression = AppliedSuppression(reason: s.reason, expires: s.expires?.description, location: s.location)
            }
        }
        findings.sort { a, b in
            if a.severity != b.severity { return a.severity > b.severity }
            if a.ruleId != b.ruleId { return a.ruleId < b.ruleId }
            return a.subject < b.subject
        }
        // What the policy itself warns of (a hosts: selector not matching this host) comes first, in every command.
        return AuditResult(
            host: context.snapshot.host, policySource: policy.source, policyFiles: policy.files, findings: findings,
            checks: ran, caveats: policy.warnings + caveats)
    }

    /// The first unexpired suppression of the policy that covers `f`. A suppression's `port`/`proto` match a listener
    /// finding's socket, or a rule finding's decoded `dport`/protocol match (from `rules`); a finding with neither
    /// (host facts) is not about one port, so a port- or proto-scoped suppression does not cover it.
    public static func matchingSuppression(_ f: Finding, policy: Policy, today: PolicyDate, rules: [RuleMatch] = []) -> Suppression? {
        // The rule's facts are looked up only for a port- or proto-scoped suppression of this check (a linear search,
        // kept off the path of every finding of a large ruleset).
        var looked = false
        var cached: RuleMatch?
        func facts() -> RuleMatch? {
            if !looked { looked = true; cached = f.rule.flatMap { ref in rules.first { $0.ref == ref } } }
            return cached
        }
        return policy.suppressions.first { s in
            guard !s.isExpired(on: today), s.rule == f.ruleId || s.rule == f.slug else { return false }
            if let fp = s.fingerprint, fp != f.fingerprint { return false }
            if let p = s.port {
                if let l = f.listener {
                    guard l.port == p else { return false }
                } else {
                    guard let ports = facts()?.dports, ports.contains(where: { $0.contains(p) }) else { return false }
                }
            }
            if let proto = s.proto {
                guard (f.listener?.proto ?? facts()?.proto) == proto else { return false }
            }
            return true
        }
    }
}
