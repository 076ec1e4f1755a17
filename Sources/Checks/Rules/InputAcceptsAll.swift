import HostModel
import Policy

/// PW1014: input chains exist but nothing on the input path ever drops or rejects.
public struct InputAcceptsAll: Check {
    public static let metadata = CheckMetadata(
        id: "PW1014", slug: "input-accepts-all", title: "Input path accepts everything", defaultSeverity: .high, category: .firewall,
        summary: "Input filter chains exist, but every one has policy accept and no rule on the input path drops or rejects.",
        rationale:
            "A ruleset that never drops looks like a firewall in `nft list ruleset` and protects nothing; it often results from a half-applied configuration or a tool that only adds accepts.",
        remediation:
            "After accepting loopback, established traffic and the declared services, set the input chain's policy to drop with the `nft chain … '{ policy drop; }'` command the finding quotes for the host's own chain.",
        references: ["CIS Linux Benchmark 3.5", "CWE-284"])

    public static let examples: [Example] = [
        Example("drop policy", host: ExampleHost(firewall: ExampleRule.firewall(policy: .drop, [ExampleRule.port(2, .tcp, 22)]))),
        Example(
            "accept policy with a drop rule",
            host: ExampleHost(firewall: ExampleRule.firewall(policy: .accept, [ExampleRule.port(2, .tcp, 6379, .drop)]))),
        Example(
            "accept policy, accepts only", host: ExampleHost(firewall: ExampleRule.firewall(policy: .accept, [ExampleRule.port(2, .tcp, 22)])),
            expect: ["host/firewall/input"]),
        Example(
            "a drop on the forward path does not filter input",
            host: ExampleHost(
                firewall: {
                    var f = ExampleRule.firewall(policy: .accept, [ExampleRule.port(2, .tcp, 22)])
                    f.tables[0].chains.append(
                        Chain(
                            name: "forward", base: BaseChain(type: "filter", hook: .forward, priority: 0, policy: .drop),
                            rules: [ExampleRule.port(5, nil, nil, .drop)]))
                    return f
                }()), expect: ["host/firewall/input"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let fw = c.snapshot.firewall
        guard fw.status == .ok else { return [] }
        let inputs = fw.tables.filter { !$0.dormant && [.inet, .ip, .ip6].contains($0.family) }
            .flatMap { t in t.chains.filter { $0.base?.hook == .input && $0.base?.type == "filter" }.map { (t, $0) } }
        guard !inputs.isEmpty else { return [] }
        if inputs.contains(where: { $0.1.base?.policy == .drop }) { return [] }
        // Any input-path rule that can drop or reject (a verdict map may) means the path is not accept-all.
        let stops = c.rules.contains { $0.verdict == .drop || $0.verdict == .reject || $0.opaque.contains("lookup") }
        guard !stops else { return [] }
        let chains = inputs.map { ChainRef(family: $0.0.family.rawValue, table: $0.0.name, chain: $0.1.name) }
        let names = chains.map(\.description).joined(separator: ", ")
        let lead = "After accepting loopback, established traffic and the declared services,"
        let commands = chains.map { "`nft chain \($0) '{ policy drop; }'`" }.joined(separator: " and ")
        return [
            finding(
                "host/firewall/input",
                "The input path accepts everything: \(names) \(inputs.count == 1 ? "has" : "have") policy accept and no rule drops or rejects.",
                remediation: "\(lead) set the policy to drop: \(commands).", fix: RulesetFix(lead: lead, edit: .policyDrop(chains)))
        ]
    }
}
