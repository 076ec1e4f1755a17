import HostModel
import Policy

/// PW1010: a TCP listener inside the ephemeral range whose port is not reserved.
public struct EphemeralPortListener: Check {
    public static let metadata = CheckMetadata(
        id: "PW1010", slug: "ephemeral-port-listener", title: "Listener in the ephemeral port range", defaultSeverity: .low, category: .ports,
        summary: "A TCP listener uses a port inside `ip_local_port_range` that is not in `ip_local_reserved_ports`.",
        rationale:
            "The kernel hands ephemeral ports to outgoing connections. While the service is down (restart, upgrade) an outgoing connection can take its port and the service fails to start.",
        remediation: "Move the service below the ephemeral range, or reserve its port: `net.ipv4.ip_local_reserved_ports = <port>`.")

    public static let examples: [Example] = [
        Example("below the range", host: ExampleHost([.example(.tcp, "0.0.0.0:8080", .blocked)])),
        Example(
            "reserved",
            host: ExampleHost(
                [.example(.tcp, "0.0.0.0:40000", .blocked)],
                sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipLocalReservedPorts: [PortRange(first: 40000, last: 40000)])
            )),
        Example("inside the range", host: ExampleHost([.example(.tcp, "0.0.0.0:40000", .blocked)]), expect: ["listener/tcp/0.0.0.0:40000"])
    ]

    public init() {}

    /// The `ip_local_reserved_ports` value with `port` added: writing the sysctl replaces the whole list.
    static func reservedList(_ reserved: [PortRange], adding port: UInt16) -> String {
        (reserved + [PortRange(first: port, last: port)]).sorted { $0.first < $1.first }
            .map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }.joined(separator: ",")
    }

    public func check(_ c: AuditContext) -> [Finding] {
        guard let range = c.snapshot.sysctls.ipLocalPortRange else { return [] }
        let reserved = c.snapshot.sysctls.ipLocalReservedPorts
        return c.snapshot.listeners.compactMap { l in
            guard l.proto == .tcp, range.contains(l.port), !reserved.contains(where: { $0.contains(l.port) }) else { return nil }
            return finding(
                "listener/\(l.proto.rawValue)/\(l.endpoint)",
                "\(describe(l)) listens inside the ephemeral range \(range.first)-\(range.last), and port \(l.port) is not reserved.",
                listener: l,
                remediation:
                    "Reserve the port, keeping the ports reserved today (`sysctl -w net.ipv4.ip_local_reserved_ports=\(Self.reservedList(reserved, adding: l.port))` and the same line in /etc/sysctl.d/), or move the service below \(range.first)."
            )
        }
    }
}
