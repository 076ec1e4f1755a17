import Evaluator
import HostModel
import Policy

/// PW1017: a rule that can never match because an earlier rule in its chain decides all its packets differently.
public struct ShadowedRule: Check {
    public static let metadata = CheckMetadata(
        id: "PW1017", slug: "shadowed-rule", title: "Shadowed rule", defaultSeverity: .medium, category: .ruleset,
        summary:
            "An earlier rule in the same chain matches every packet this rule matches and takes a different final verdict, so this rule never applies.",
        rationale:
            "A shadowed rule is a decision that looks active but is not: typically a drop placed after a broad accept, which leaves the port open while the ruleset reads as if it were closed.",
        remediation: "Move the rule above the rule that shadows it, or delete it if the earlier rule is the intended one.",
        references: ["CWE-670"])

    public static let examples: [Example] = [
        Example(
            "drop before a broader accept",
            host: ExampleHost(
                firewall: ExampleRule.firewall([
                    ExampleRule.port(2, .tcp, 6379, .drop), ExampleRule.port(3, .tcp, nil)
                ]))),
        Example(
            "drop after an accept of the same port",
            host: ExampleHost(
                firewall: ExampleRule.firewall([
                    ExampleRule.port(2, .tcp, nil), ExampleRule.port(3, .tcp, 6379, .drop)
                ])),
            expect: ["rule/inet/filter/input/3"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        coveredPairs(c.rules).compactMap { earlier, rule in
            guard rule.verdict != earlier.verdict else { return nil }
            let remedy = Self.remedy(rule, earlier)
            return finding(
                rule.subject,
                "Rule #\(rule.handle) in \(rule.family.rawValue) \(rule.table) \(rule.chain) (\(rule.text)) never matches: rule #\(earlier.handle) (\(earlier.text)) decides all its packets first.",
                rule: rule.ref, remediation: remedy.text, fix: remedy.fix)
        }
    }
}

extension ShadowedRule {
    /// Move the rule above the one that shadows it (only when its nft text is faithful, and when the earlier rule would
    /// not in turn be shadowed by it), or delete it.
    static func remedy(_ rule: RuleMatch, _ earlier: RuleMatch) -> Remedy {
        let delete = "`\(rule.ref.deleteCommand)`"
        guard let text = rule.nft, !earlier.isCovered(by: rule) else {
            return Remedy(
                "Delete it: \(delete) (it never applies).",
                RulesetFix(lead: "Delete it (it never applies):", edit: .delete(rule.ref, text: rule.text)))
        }
        let insert = "`nft insert rule \(rule.family.rawValue) \(rule.table) \(rule.chain) position \(earlier.handle) \(shellQuoted(text))`"
        return Remedy(
            "Move rule #\(rule.handle) above #\(earlier.handle): \(insert), then \(delete); or delete it: \(delete).",
            RulesetFix(lead: "", edit: .move(rule.ref, above: earlier.ref)))
    }
}

/// For each rule covered by an earlier terminal rule of the same chain, the first such pair (earlier, rule).
func coveredPairs(_ rules: [RuleMatch]) -> [(RuleMatch, RuleMatch)] {
    var out: [(RuleMatch, RuleMatch)] = []
    var byChain: [String: [RuleMatch]] = [:]
    var order: [String] = []
    for r in rules {
        let k = "\(r.family.rawValue)/\(r.table)/\(r.chain)"
        if byChain[k] == nil { order.append(k) }
        byChain[k, default: []].append(r)
    }
    for k in order {
        let chain = byChain[k] ?? []
        for (j, rule) in chain.enumerated() where rule.verdict != .none && rule.opaque.isEmpty {
            if let earlier = chain[..<j].first(where: { $0.isTerminal && rule.isCovered(by: $0) }) {
                out.append((earlier, rule))
            }
        }
    }
    return out
}
