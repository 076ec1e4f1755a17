import HostModel
import Policy

/// PW1002: a listener the policy marks `required: true` is not there.
public struct RequiredListenerMissing: Check {
    public static let metadata = CheckMetadata(
        id: "PW1002", slug: "required-listener-missing", title: "Required listener missing", defaultSeverity: .high, category: .policy,
        summary: "The policy requires a listener on a port, and no socket listens there.",
        rationale: "A required service that is not listening is an outage, or a sign that it was replaced by something else on another port.",
        remediation: "Start the service (check `systemctl status` for its unit) or remove `required: true` from the policy entry.")

    public static let examples: [Example] = [
        Example(
            "required and present", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, required: true}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example("not required", policy: "version: 1\nlisteners: [{proto: tcp, port: 443}]\n", host: ExampleHost()),
        Example(
            "required but absent", policy: "version: 1\nlisteners: [{proto: tcp, port: 443, required: true}]\n",
            host: ExampleHost([.example(.udp, "0.0.0.0:443", .public)]), expect: ["policy/listener/tcp/443"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.policy.listeners.filter(\.required).compactMap { d in
            guard !c.snapshot.listeners.contains(where: { d.matches(proto: $0.proto, port: $0.port) }) else { return nil }
            let name = d.name.map { " (\($0))" } ?? ""
            return finding(
                "policy/listener/\(d.label)", "The policy requires a listener on \(d.label)\(name) at \(d.location), but nothing listens there.",
                policyLocation: d.location)
        }
    }
}
