import HostModel
import Policy

/// PW1012: a port filtered over IPv4 but open over IPv6.
public struct FamilyMismatch: Check {
    public static let metadata = CheckMetadata(
        id: "PW1012", slug: "ipv4-ipv6-mismatch", title: "IPv4/IPv6 mismatch", defaultSeverity: .medium, category: .exposure,
        summary:
            "A service is blocked over IPv4 but reachable over IPv6 (a dual-stack socket behind an `ip`-only table, or v4 rules without v6 twins).",
        rationale:
            "Firewalls written for IPv4 (`table ip`, iptables without ip6tables) leave every dual-stack service open over IPv6, which scanners and neighbours on the link use.",
        remediation: "Use `table inet` so one rule covers both families, or add the missing IPv6 rule; or make the socket IPv4-only.",
        references: ["CWE-1327"])

    public static let examples: [Example] = [
        Example("blocked on both", host: ExampleHost([.example(.tcp, "[::]:8080", .blocked)])),
        Example("open on both", host: ExampleHost([.example(.tcp, "[::]:443", .public, families: [.ipv4, .ipv6])])),
        Example(
            "dual-stack socket open over IPv6 only", host: ExampleHost([.example(.tcp, "[::]:8080", .public, sources: ["::/0"], families: [.ipv6])]),
            expect: ["listener/tcp/[::]:8080"]),
        Example(
            "separate sockets, the IPv6 one open",
            host: ExampleHost([
                .example(.tcp, "0.0.0.0:9200", .blocked),
                .example(.tcp, "[::]:9200", .public, v6only: true)
            ]),
            expect: ["listener/tcp/[::]:9200"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let rules = c.rules
        var out: [Finding] = []
        for r in c.reaches where r.reachedFamilies == [.ipv6] {
            let l = r.listener
            let v4Blocked: Bool
            if l.receivesFamilies.contains(.ipv4) {
                v4Blocked = true
            } else {
                // A separate IPv4 socket on the same port that nobody outside reaches.
                v4Blocked = c.reaches.contains { o in
                    o.listener.proto == l.proto && o.listener.port == l.port && o.listener.receivesFamilies.contains(.ipv4)
                        && !o.reachedFamilies.contains(.ipv4)
                        && o.listener.bindScope != .loopback
                }
            }
            guard v4Blocked else { continue }
            let remedy = closeRemedy(r, rules: rules, bindHint: false, lead: "Filter IPv6 like IPv4 (a `table inet` covers both). ")
            out.append(
                finding(
                    r.subject, "\(describe(l)) is blocked over IPv4 but \(describe(r)) over IPv6.",
                    severity: gradedSeverity(Self.metadata.defaultSeverity, r), listener: l, evidence: r.evidence,
                    remediation: remedy.text, conditional: r.summary == .conditional, fix: remedy.fix))
        }
        return out
    }
}
