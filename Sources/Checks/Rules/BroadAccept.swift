import HostModel
import Policy

/// PW1020: an input rule that accepts any port from any source.
public struct BroadAccept: Check {
    public static let metadata = CheckMetadata(
        id: "PW1020", slug: "broad-accept", title: "Broad accept", defaultSeverity: .high, category: .ruleset,
        summary: "An input-path rule accepts new connections to any port from any source (on every interface, or on a named non-loopback interface).",
        rationale:
            "A catch-all accept turns the firewall off for everything after it; on a named interface it trusts every host on that network with every service.",
        remediation: "Replace it with accepts for the declared ports, or restrict it by source; delete it with the command in the finding.",
        references: ["CWE-284", "CIS Linux Benchmark 3.5"])

    public static let examples: [Example] = [
        Example(
            "loopback and established", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.iifname(2, "lo"), ExampleRule.established(3)]))),
        Example(
            "every port, but from one subnet only", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.source(4, "10.0.0.0/8", nil, nil)]))
        ),
        Example(
            "accept everything", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.iifname(2, "lo"), ExampleRule.port(3, nil, nil)])),
            expect: ["rule/inet/filter/input/3"]),
        Example(
            "every TCP port", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.port(5, .tcp, nil)])),
            expect: ["rule/inet/filter/input/5"]),
        Example(
            "accept everything on eth1", host: ExampleHost(firewall: ExampleRule.firewall([ExampleRule.iifname(4, "eth1")])),
            expect: ["rule/inet/filter/input/4"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.rules.compactMap { r in
            // Any port from any source: no port, source or undecoded match (a protocol or family match alone stays broad).
            guard r.verdict == .accept, r.dports == nil, r.sources == nil, r.opaque.isEmpty else { return nil }
            if r.isLoopbackName { return nil }
            let scope = r.interface.map { $0.negated ? "on every interface but \($0.name)" : "on \($0.name)" } ?? "on every interface"
            let sev = (r.interface.map { !$0.negated } ?? false) ? Self.metadata.defaultSeverity.lowered : Self.metadata.defaultSeverity
            return finding(
                r.subject,
                "Rule #\(r.handle) in \(r.family.rawValue) \(r.table) \(r.chain) (\(r.text)) accepts every port from every source \(scope).",
                severity: sev, rule: r.ref,
                remediation: "Replace it with accepts for the ports that must be open, then `\(r.ref.deleteCommand)`.",
                fix: RulesetFix(lead: "Replace it with accepts for the ports that must be open, then", edit: .delete(r.ref, text: r.text)))
        }
    }
}
