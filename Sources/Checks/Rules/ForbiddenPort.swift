import HostModel
import Policy

/// PW1007: something listens (beyond loopback) on a port the policy forbids.
public struct ForbiddenPort: Check {
    public static let metadata = CheckMetadata(
        id: "PW1007", slug: "forbidden-port", title: "Listener on a forbidden port", defaultSeverity: .high, category: .policy,
        summary: "A socket bound beyond loopback uses a port or range listed under `forbidden` in the policy.",
        rationale:
            "Forbidden ports record decisions such as \"no telnet, ever\" or \"the database lives elsewhere\". A listener there means the decision was undone, whether or not the firewall happens to block it.",
        remediation: "Stop and disable the service that holds the port, or remove the port from `forbidden` if the decision changed.")

    public static let examples: [Example] = [
        Example(
            "forbidden port unused", policy: "version: 1\nforbidden: [{proto: tcp, port: 23}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example(
            "forbidden port on loopback only", policy: "version: 1\nforbidden: [{port: 3306}]\n",
            host: ExampleHost([.example(.tcp, "127.0.0.1:3306", .localOnly, process: "mysqld")])),
        Example(
            "telnet listening", policy: "version: 1\nforbidden: [{proto: tcp, port: 23, reason: cleartext}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:23", .blocked, process: "telnetd")]), expect: ["listener/tcp/0.0.0.0:23"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var out: [Finding] = []
        for r in c.reaches where r.listener.bindScope != .loopback {
            let l = r.listener
            guard let f = c.policy.forbidden.first(where: { ($0.proto == nil || $0.proto == l.proto) && $0.ports.contains(l.port) }) else { continue }
            let why = f.reason.map { ": \($0)" } ?? ""
            out.append(
                finding(
                    r.subject, "\(describe(l)) listens on a port the policy forbids\(why); it is \(describe(r)).",
                    severity: r.isRemote ? Self.metadata.defaultSeverity : Self.metadata.defaultSeverity.lowered,
                    listener: l, evidence: r.evidence,
                    remediation:
                        "Stop and disable the service holding \(l.proto.rawValue)/\(l.port)\(l.processes.first.map { " (\($0.name))" } ?? "").",
                    policyLocation: f.location))
        }
        return out
    }
}
