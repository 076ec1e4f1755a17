import Evaluator
import HostModel
import Policy

/// PW1018: a rule that changes nothing (an earlier rule already does the same, or it repeats the chain policy at the end).
public struct RedundantRule: Check {
    public static let metadata = CheckMetadata(
        id: "PW1018", slug: "redundant-rule", title: "Redundant rule", defaultSeverity: .low, category: .ruleset,
        summary:
            "A rule whose removal would not change any verdict: an earlier rule with the same verdict covers it, or it is a final catch-all repeating the chain policy.",
        rationale: "Redundant rules make a ruleset longer and harder to review, and hide the rule that really decides.",
        remediation: "Delete the rule with the `nft delete rule` command in the finding.")

    public static let examples: [Example] = [
        Example("distinct ports", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.port(2, .tcp, 22), ExampleRule.port(3, .tcp, 443)]))),
        Example(
            "duplicate accept", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.port(2, .tcp, 22), ExampleRule.port(3, .tcp, 22)])),
            expect: ["rule/inet/filter/input/3"]),
        Example(
            "final drop in a drop-policy chain",
            host: ExampleHost(
                firewall: ExampleRule.firewall(
                    policy: .drop,
                    [
                        ExampleRule.port(2, .tcp, 22), ExampleRule.port(3, nil, nil, .drop)
                    ])), expect: ["rule/inet/filter/input/3"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let rules = c.rules
        var out: [Finding] = []
        var flagged = Set<String>()
        for (earlier, rule) in coveredPairs(rules) where rule.verdict == earlier.verdict {
            flagged.insert(rule.subject)
            out.append(redundant(rule, because: "rule #\(earlier.handle) (\(earlier.text)) already does the same"))
        }
        var lastByChain: [String: RuleMatch] = [:]
        for r in rules { lastByChain["\(r.family.rawValue)/\(r.table)/\(r.chain)"] = r }
        for r in lastByChain.values.sorted(by: { $0.subject < $1.subject }) where !flagged.contains(r.subject) {
            guard let policy = r.chainPolicy, r.matchesAnyTraffic, r.interface == nil, r.verdict == RuleVerdict(policy) else { continue }
            out.append(redundant(r, because: "it ends the chain with the verdict of the chain policy (\(policy.rawValue))"))
        }
        return out
    }

    /// The finding for a rule that changes nothing, with the deletion that removes it.
    func redundant(_ r: RuleMatch, because why: String) -> Finding {
        finding(
            r.subject, "Rule #\(r.handle) in \(r.family.rawValue) \(r.table) \(r.chain) (\(r.text)) is redundant: \(why).",
            rule: r.ref, remediation: "Delete it: `\(r.ref.deleteCommand)`.",
            fix: RulesetFix(lead: "Delete it:", edit: .delete(r.ref, text: r.text)))
    }
}
