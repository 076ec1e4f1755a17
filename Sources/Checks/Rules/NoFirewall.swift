import HostModel
import Policy

/// PW1013: no nftables input filtering at all.
public struct NoFirewall: Check {
    public static let metadata = CheckMetadata(
        id: "PW1013", slug: "no-firewall", title: "No firewall", defaultSeverity: .high, category: .firewall,
        summary: "No nftables table filters the input path (no table at all, or no input base chain), so every bound socket is reachable.",
        rationale:
            "Without a host firewall, a service's own bind address is the only barrier; one service started with a wildcard bind is public at once.",
        remediation:
            "Load a ruleset with an input chain whose policy is drop, for example `/etc/nftables.conf` with `table inet filter { chain input { type filter hook input priority 0; policy drop; ct state established,related accept; iifname lo accept; tcp dport 22 accept } }`.",
        references: ["CIS Linux Benchmark 3.5 (configure host firewall)", "CWE-284"])

    public static let examples: [Example] = [
        Example("input chain present", host: ExampleHost()),
        Example(
            "only legacy iptables (reported by PW1016)",
            host: ExampleHost(firewall: Firewall(status: .absent, legacyTables: LegacyTables(ipv4: ["filter"])))),
        Example(
            "no tables", host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")], firewall: Firewall(status: .absent)),
            expect: ["host/firewall"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let fw = c.snapshot.firewall
        // Unreadable is PW1015's; with legacy x_tables loaded something may filter that is invisible here (PW1016).
        guard fw.status != .unreadable, fw.legacyTables.ipv4.isEmpty && fw.legacyTables.ipv6.isEmpty else { return [] }
        let hasInput = fw.tables.contains { t in
            !t.dormant && [.inet, .ip, .ip6].contains(t.family) && t.chains.contains { $0.base?.hook == .input && $0.base?.type == "filter" }
        }
        guard !hasInput else { return [] }
        let remote = c.reaches.filter(\.isRemote)
        let what = fw.status == .absent ? "nf_tables holds no table" : "no table has an input filter chain"
        let listeners = remote.isEmpty ? "no listener is reachable from outside today" : "\(remote.count) listener(s) are reachable from outside"
        return [
            finding(
                "host/firewall", "No host firewall: \(what); \(listeners).",
                severity: remote.isEmpty ? .low : Self.metadata.defaultSeverity)
        ]
    }
}
