import HostModel
import Policy

/// PW1009: `net.ipv4.ip_unprivileged_port_start` below 1024.
public struct UnprivilegedPortStartLowered: Check {
    public static let metadata = CheckMetadata(
        id: "PW1009", slug: "unprivileged-port-start-lowered", title: "ip_unprivileged_port_start lowered", defaultSeverity: .medium,
        category: .kernel,
        summary: "`net.ipv4.ip_unprivileged_port_start` is below 1024, so any user can bind some privileged ports.",
        rationale:
            "Any local user can then take a well-known port (SSH, HTTP, DNS) when its service restarts, and clients will trust it. Container runtimes lower it inside their namespaces; on a host it should not happen silently.",
        remediation:
            "Set `net.ipv4.ip_unprivileged_port_start = 1024` (in /etc/sysctl.d/) and grant CAP_NET_BIND_SERVICE to the services that need a low port.",
        references: ["CWE-250"])

    public static let examples: [Example] = [
        Example(
            "default 1024", host: ExampleHost(sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipUnprivilegedPortStart: 1024))
        ),
        Example(
            "lowered to 80", host: ExampleHost(sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipUnprivilegedPortStart: 80)),
            expect: ["host/sysctl/net.ipv4.ip_unprivileged_port_start"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        guard let v = c.snapshot.sysctls.ipUnprivilegedPortStart, v < 1024 else { return [] }
        return [
            finding(
                "host/sysctl/net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.ip_unprivileged_port_start is \(v): any user can bind ports \(v)-1023.",
                severity: v == 0 ? Self.metadata.defaultSeverity.raised : Self.metadata.defaultSeverity)
        ]
    }
}
