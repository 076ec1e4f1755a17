import HostModel
import Policy

/// PW1006: a database, cache, queue, admin/debug port, remote desktop, container API or cleartext protocol reachable from outside.
public struct SensitiveServiceExposed: Check {
    public static let metadata = CheckMetadata(
        id: "PW1006", slug: "sensitive-service-exposed", title: "Sensitive service reachable from outside", defaultSeverity: .high,
        category: .exposure,
        summary:
            "A port known to carry a sensitive service (see the table in `SensitivePorts.swift`) is reachable from beyond the host and the policy does not declare it.",
        rationale:
            "Databases, caches, message queues, admin consoles, container and orchestration APIs, remote desktops and cleartext protocols are the ports scanned for first. Many are unauthenticated by default; several give code execution on the host.",
        remediation:
            "Bind the service to loopback or a private address, or restrict the firewall to the clients that need it; declare it in the policy once it is deliberate.",
        references: ["CWE-668", "CWE-319", "CIS Linux Benchmark 3.5"])

    public static let examples: [Example] = [
        Example("redis on loopback", host: ExampleHost([.example(.tcp, "127.0.0.1:6379", .localOnly, process: "redis-server")])),
        Example(
            "redis declared for the app subnet", policy: "version: 1\nlisteners: [{proto: tcp, port: 6379, exposure: {sources: [10.0.0.0/8]}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:6379", .restricted, process: "redis-server", sources: ["10.0.0.0/8"])])),
        Example("https is not sensitive", host: ExampleHost([.example(.tcp, "0.0.0.0:443", .public, process: "nginx")])),
        Example(
            "redis open to the internet", host: ExampleHost([.example(.tcp, "0.0.0.0:6379", .public, process: "redis-server")]),
            expect: ["listener/tcp/0.0.0.0:6379"]),
        Example(
            "postgres reachable from a private range",
            host: ExampleHost([.example(.tcp, "0.0.0.0:5432", .restricted, process: "postgres", sources: ["192.168.0.0/16"])]),
            expect: ["listener/tcp/0.0.0.0:5432"])
    ]

    public static var documentation: String {
        var s =
            "## Sensitive ports\n\nCritical entries are reported as critical when reachable from any address.\n\n| port | service | why | critical |\n|---|---|---|---|\n"
        for p in SensitivePorts.table {
            s += "| \(p.proto.rawValue)/\(p.port) | \(p.service) | \(p.reason) | \(p.critical ? "yes" : "") |\n"
        }
        return s
    }

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let rules = c.rules
        return c.reaches.compactMap { r in
            let l = r.listener
            guard r.isRemote, let entry = SensitivePorts.lookup(l.proto, l.port),
                c.policy.declarations(proto: l.proto, port: l.port).isEmpty
            else { return nil }
            let base: Severity = entry.critical ? .critical : Self.metadata.defaultSeverity
            let remedy = closeRemedy(r, rules: rules)
            return finding(
                r.subject, "\(entry.service) on \(describe(l)) is \(describe(r)): \(entry.reason).",
                severity: gradedSeverity(base, r), listener: l, evidence: r.evidence,
                remediation: remedy.text, conditional: r.summary == .conditional, fix: remedy.fix)
        }
    }
}
