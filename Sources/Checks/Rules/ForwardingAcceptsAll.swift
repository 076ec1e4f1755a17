import HostModel
import Evaluator
import Policy

/// PW1025: forwarding is on and new connections are routed between two networks for any source and port.
public struct ForwardingAcceptsAll: Check {
    public static let metadata = CheckMetadata(
        id: "PW1025", slug: "forwarding-accepts-all", title: "Host routes between its networks without filtering", defaultSeverity: .medium,
        category: .firewall,
        summary:
            "IP forwarding is on and the forward hook lets new connections from an outside source through from one interface to another, whatever the port.",
        rationale:
            "With `net.ipv4.ip_forward=1` (set by Docker, libvirt, VPN and Kubernetes installs) and a forward policy that accepts, the host is a router: anyone on one network can reach the other through it, past every input rule.",
        remediation:
            "Turn forwarding off if the host is not a router (`sysctl -w net.ipv4.ip_forward=0`, and in `/etc/sysctl.d/`), or give the forward hook a drop policy that accepts only established traffic and the flows you mean (`nft add chain inet filter forward '{ type filter hook forward priority 0; policy drop; }'`).",
        references: ["CIS Linux Benchmark 3.1.1", "CWE-284"])

    public static let examples: [Example] = [
        Example("forwarding filtered", host: ExampleHost(paths: PathFacts())),
        Example(
            "eth0 to eth1 open",
            host: ExampleHost(
                paths: PathFacts(openForwarding: [
                    OpenForwarding(
                        family: .ipv4, from: "eth0", to: "eth1", destination: "10.1.0.9",
                        path: [
                            .routing(.ipv4, .note("forward to 10.1.0.9"))
                        ])
                ])), expect: ["host/forwarding/ipv4/eth0/eth1"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.paths.openForwarding.map { o in
            let sysctl = o.family == .ipv4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding"
            return finding(
                "host/forwarding/\(o.family.rawValue)/\(o.from)/\(o.to)",
                "\(sysctl) is 1 and new connections from any source on \(o.from) are forwarded out of \(o.to) (tried to \(o.destination) on tcp 22, udp 53 and tcp 8443): nothing in the forward hook filters them.",
                evidence: Evidence(
                    exposure: "public", interfaces: [o.from], sources: [o.family == .ipv4 ? "0.0.0.0/0" : "::/0"], path: o.path.map(\.text)))
        }
    }
}
