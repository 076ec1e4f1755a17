import HostModel
import Policy

/// PW1011: the ephemeral port range is too small for a busy host.
public struct EphemeralRangeSmall: Check {
    /// Fewer ephemeral ports than this risks exhaustion (the kernel default gives 28232).
    public static let minimumPorts = 10_000

    public static let metadata = CheckMetadata(
        id: "PW1011", slug: "ephemeral-range-small", title: "Ephemeral port range too small", defaultSeverity: .low, category: .kernel,
        summary: "`net.ipv4.ip_local_port_range` (minus reserved ports) leaves fewer than 10000 ports for outgoing connections.",
        rationale:
            "Each outgoing connection to the same destination needs its own source port until TIME_WAIT ends. A small range makes proxies, load balancers and busy clients fail with EADDRNOTAVAIL.",
        remediation: "Widen the range, for example `net.ipv4.ip_local_port_range = 32768 60999` (the kernel default).")

    public static let examples: [Example] = [
        Example("kernel default", host: ExampleHost()),
        Example(
            "only 1000 ports", host: ExampleHost(sysctls: Sysctls(ipLocalPortRange: PortRange(first: 60000, last: 60999))),
            expect: ["host/sysctl/net.ipv4.ip_local_port_range"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        guard let range = c.snapshot.sysctls.ipLocalPortRange else { return [] }
        var reserved = 0
        for r in c.snapshot.sysctls.ipLocalReservedPorts {
            let lo = max(r.first, range.first), hi = min(r.last, range.last)
            if lo <= hi { reserved += Int(hi) - Int(lo) + 1 }
        }
        let usable = range.count - reserved
        guard usable < Self.minimumPorts else { return [] }
        return [
            finding(
                "host/sysctl/net.ipv4.ip_local_port_range",
                "net.ipv4.ip_local_port_range is \(range.first)-\(range.last): \(usable) ports for outgoing connections (fewer than \(Self.minimumPorts))."
            )
        ]
    }
}
