import HostModel
import Policy

/// PW1005: bound to the wildcard (or another address) where the policy says loopback or specific addresses.
public struct WildcardBind: Check {
    public static let metadata = CheckMetadata(
        id: "PW1005", slug: "wildcard-bind", title: "Bind wider than the policy says", defaultSeverity: .medium, category: .exposure,
        summary: "A declared listener is bound to the wildcard or to another address than the policy's `bind`, even if the firewall blocks it today.",
        rationale:
            "Defence in depth: a service bound to loopback stays private when the firewall is flushed, reloaded with a mistake, or bypassed by a container runtime. Firewalled wildcard binds are reported at a lower severity.",
        remediation: "Bind the service to the address the policy names (for example `127.0.0.1` instead of `0.0.0.0`).",
        references: ["CWE-1327"])

    public static let examples: [Example] = [
        Example(
            "loopback as declared", policy: "version: 1\nlisteners: [{proto: tcp, port: 6379, bind: loopback}]\n",
            host: ExampleHost([.example(.tcp, "127.0.0.1:6379", .localOnly, process: "redis-server")])),
        Example(
            "specific address as declared", policy: "version: 1\nlisteners: [{proto: tcp, port: 53, bind: [192.0.2.53]}]\n",
            host: ExampleHost([.example(.tcp, "192.0.2.53:53", .public, process: "named")])),
        Example(
            "wildcard though the firewall blocks it", policy: "version: 1\nlisteners: [{proto: tcp, port: 6379, bind: loopback}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:6379", .blocked, process: "redis-server")]), expect: ["listener/tcp/0.0.0.0:6379"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var out: [Finding] = []
        for r in c.reaches {
            let l = r.listener
            for d in c.policy.declarations(proto: l.proto, port: l.port) {
                let ok: Bool
                let want: String
                switch d.bind {
                case .any: continue
                case .loopback:
                    ok = l.bindScope == .loopback
                    want = "loopback"
                case .addresses(let list):
                    let addr = IPAddress(l.address)?.description ?? l.address
                    ok = l.bindScope == .loopback || list.contains(addr)
                    want = list.joined(separator: ", ")
                }
                guard !ok else { continue }
                let severity = r.isRemote ? Self.metadata.defaultSeverity : Self.metadata.defaultSeverity.lowered
                let fw = r.isRemote ? "and is \(describe(r))" : "(the firewall blocks it today: defence in depth)"
                let target = d.bind == .loopback ? (l.family == .ipv6 ? "::1" : "127.0.0.1") : want
                out.append(
                    finding(
                        r.subject, "\(describe(l)) is bound to \(l.address), but the policy says \(want) for \(d.label) \(fw).",
                        severity: severity, listener: l, evidence: r.evidence,
                        remediation: "Bind the service to \(target) in its configuration, then restart it.",
                        policyLocation: d.location))
            }
        }
        return out
    }
}
