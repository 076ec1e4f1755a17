import HostModel
import Evaluator
import Policy

/// PW1026: the input path drops IPv6 neighbour discovery, so IPv6 does not work on that interface.
public struct NeighbourDiscoveryDropped: Check {
    public static let metadata = CheckMetadata(
        id: "PW1026", slug: "neighbour-discovery-dropped", title: "IPv6 neighbour discovery dropped", defaultSeverity: .medium,
        category: .firewall,
        summary:
            "Neighbour solicitations or advertisements (ICMPv6 135/136) to the host are dropped by the input path, so no IPv6 packet can reach it on that interface, whatever the rules say.",
        rationale:
            "IPv6 resolves addresses with ICMPv6, not ARP. conntrack does not track neighbour discovery, so `ct state established,related accept` does not let it through and a drop policy silently breaks IPv6: the rules look open, the services are unreachable, and a later fix of the ICMPv6 rule suddenly exposes everything they accept.",
        remediation:
            "Accept neighbour discovery before the drop: `nft add rule inet filter input icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept` (RFC 4890 lists what to allow).",
        references: ["RFC 4890", "RFC 4861"])

    public static let examples: [Example] = [
        Example("neighbour discovery accepted", host: ExampleHost(paths: PathFacts())),
        Example(
            "dropped by the input policy on eth0",
            host: ExampleHost(
                paths: PathFacts(blockedNeighbourDiscovery: [
                    BlockedNeighbourDiscovery(
                        interface: "eth0", message: "neighbour solicitation", verdict: .drop,
                        path: [
                            PathStep(
                                table: "filter", family: .table(.inet), chain: "input", hook: .hook(.input), priority: 0, handle: nil,
                                action: .policy(.drop))
                        ]),
                    BlockedNeighbourDiscovery(
                        interface: "eth0", message: "neighbour advertisement", verdict: .drop,
                        path: [
                            PathStep(
                                table: "filter", family: .table(.inet), chain: "input", hook: .hook(.input), priority: 0, handle: nil,
                                action: .policy(.drop))
                        ])
                ])), expect: ["host/ipv6-nd/eth0"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var byInterface: [String: [BlockedNeighbourDiscovery]] = [:]
        var order: [String] = []
        for b in c.paths.blockedNeighbourDiscovery {
            if byInterface[b.interface] == nil { order.append(b.interface) }
            byInterface[b.interface, default: []].append(b)
        }
        return order.map { i in
            let bs = byInterface[i] ?? []
            let what = bs.map { "\($0.message)s (\($0.verdict.rawValue) at \($0.path.last?.text ?? "?"))" }.joined(separator: " and ")
            return finding(
                "host/ipv6-nd/\(i)",
                "The input path refuses IPv6 \(what) on \(i): IPv6 cannot reach this host there, whatever the other rules accept.",
                evidence: Evidence(exposure: "blocked", interfaces: [i], path: bs.flatMap { $0.path.map(\.text) }))
        }
    }
}
