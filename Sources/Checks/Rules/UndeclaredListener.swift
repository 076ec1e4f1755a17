import HostModel
import Policy

/// PW1001: a socket reachable from beyond the host that the policy does not declare.
public struct UndeclaredListener: Check {
    public static let metadata = CheckMetadata(
        id: "PW1001", slug: "undeclared-listener", title: "Undeclared reachable listener", defaultSeverity: .high, category: .exposure,
        summary: "A socket accepts connections from beyond the host, but the policy does not declare it.",
        rationale:
            "Every reachable port is attack surface. A port nobody declared is usually a forgotten service, a debug endpoint or a package that started listening on install.",
        remediation:
            "Declare the listener in the policy with its owner and allowed exposure, or stop the service, bind it to loopback, or close the port in the firewall.",
        references: ["CWE-1327", "CIS Linux Benchmark 3.5 (host firewall)"])

    public static let examples: [Example] = [
        Example(
            "declared and reachable", policy: "version: 1\nlisteners: [{proto: tcp, port: 22}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example("undeclared but blocked by the firewall", host: ExampleHost([.example(.tcp, "0.0.0.0:8080", .blocked)])),
        Example("undeclared, loopback only", host: ExampleHost([.example(.tcp, "127.0.0.1:8080", .localOnly)])),
        Example(
            "undeclared and open to everyone", host: ExampleHost([.example(.tcp, "0.0.0.0:8080", .public, process: "python3")]),
            expect: ["listener/tcp/0.0.0.0:8080"]),
        Example(
            "undeclared, reachable from a subnet", host: ExampleHost([.example(.udp, "[::]:5353", .restricted, sources: ["fe80::/10"])]),
            expect: ["listener/udp/[::]:5353"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let rules = c.rules
        // Forbidden ports are PW1007's; sensitivity raises PW1006, not this finding.
        let forbidden = { (l: Listener) in c.policy.forbidden.contains { ($0.proto == nil || $0.proto == l.proto) && $0.ports.contains(l.port) } }
        return c.reaches.filter { r in
            r.isRemote && c.policy.declarations(proto: r.listener.proto, port: r.listener.port).isEmpty && !forbidden(r.listener)
        }.map { r in
            let remedy = closeRemedy(
                r, rules: rules, lead: "Declare \(r.listener.proto.rawValue)/\(r.listener.port) in the policy if it is meant to be reachable. ")
            return finding(
                r.subject,
                "\(describe(r.listener)) is \(describe(r)), but the policy does not declare \(r.listener.proto.rawValue)/\(r.listener.port).",
                severity: gradedSeverity(Self.metadata.defaultSeverity, r), listener: r.listener,
                evidence: r.evidence,
                remediation: remedy.text,
                policyLocation: c.policy.sections["listeners"], conditional: r.summary == .conditional, fix: remedy.fix)
        }
    }
}
