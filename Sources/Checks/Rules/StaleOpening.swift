import HostModel
import Policy

/// PW1019: the firewall accepts a port on which nothing listens.
public struct StaleOpening: Check {
    public static let metadata = CheckMetadata(
        id: "PW1019", slug: "stale-opening", title: "Stale firewall opening", defaultSeverity: .low, category: .ruleset,
        summary: "An accept rule on the input path opens ports on which no socket listens (beyond loopback), and no NAT maps them elsewhere.",
        rationale:
            "An opening without a service is a pre-approved hole: whatever starts on that port next (a test server, a compromised process) is reachable at once.",
        remediation: "Delete the rule with the `nft delete rule` command in the finding, or start the service it was for.")

    public static let examples: [Example] = [
        Example(
            "opening with a listener",
            host: ExampleHost(
                [.example(.tcp, "0.0.0.0:22", .public, process: "sshd")],
                firewall: ExampleRule.firewall([ExampleRule.port(2, .tcp, 22)]))),
        Example(
            "opening for a stopped service",
            host: ExampleHost(
                [.example(.tcp, "0.0.0.0:22", .public, process: "sshd")],
                firewall: ExampleRule.firewall([ExampleRule.port(2, .tcp, 22), ExampleRule.port(3, .tcp, 8443)])),
            expect: ["rule/inet/filter/input/3"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let via = Set(c.reaches.flatMap(\.viaPorts))
        let bound = c.snapshot.listeners.filter { $0.bindScope != .loopback }
        return c.rules.compactMap { r in
            guard r.verdict == .accept, r.opaque.isEmpty, let ports = r.dports else { return nil }
            let used = bound.contains { l in (r.proto == nil || r.proto == l.proto) && ports.contains { $0.contains(l.port) } }
            let natted = ports.contains { p in via.contains { p.contains($0) } }
            guard !used, !natted else { return nil }
            let text = ports.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }.joined(separator: ", ")
            return finding(
                r.subject,
                "Rule #\(r.handle) in \(r.family.rawValue) \(r.table) \(r.chain) accepts \(r.proto?.rawValue ?? "tcp/udp") port \(text), but nothing listens there.",
                rule: r.ref, remediation: "Delete the opening: `\(r.ref.deleteCommand)`.",
                fix: RulesetFix(lead: "Delete the opening:", edit: .delete(r.ref, text: r.text)))
        }
    }
}
