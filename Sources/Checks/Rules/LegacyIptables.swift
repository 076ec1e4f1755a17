import HostModel
import Policy

/// PW1016: legacy iptables tables are loaded beside nftables, so part of the filtering is invisible here.
public struct LegacyIptables: Check {
    public static let metadata = CheckMetadata(
        id: "PW1016", slug: "legacy-iptables", title: "Legacy iptables tables loaded", defaultSeverity: .medium, category: .firewall,
        summary: "x_tables (iptables-legacy) tables are loaded beside nf_tables: their rules also filter packets, and this audit cannot see them.",
        rationale:
            "Two firewalls in parallel are hard to reason about, and the nftables view is incomplete: a port this report calls open may be dropped by a legacy rule (or the reverse for NAT).",
        remediation:
            "Migrate the legacy rules (`iptables-legacy-save | iptables-restore-translate`), then unload them (`iptables-legacy -F`, remove the ip_tables modules)."
    )

    public static let examples: [Example] = [
        Example("nftables only", host: ExampleHost()),
        Example(
            "legacy filter table loaded",
            host: ExampleHost(
                firewall: {
                    var f = ExampleHost.filteredFirewall; f.legacyTables = LegacyTables(ipv4: ["filter"]); return f
                }()), expect: ["host/firewall/legacy"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let l = c.snapshot.firewall.legacyTables
        guard !l.isEmpty else { return [] }
        var parts: [String] = []
        if !l.ipv4.isEmpty { parts.append("iptables: \(l.ipv4.joined(separator: ", "))") }
        if !l.ipv6.isEmpty { parts.append("ip6tables: \(l.ipv6.joined(separator: ", "))") }
        if !l.arp.isEmpty { parts.append("arptables: \(l.arp.joined(separator: ", "))") }
        return [
            finding("host/firewall/legacy", "Legacy x_tables are loaded (\(parts.joined(separator: "; "))); their rules are not part of this audit.")
        ]
    }
}
