import HostModel
import Policy

/// PW1003: a declared port is held by a process other than the one the policy names.
public struct UnexpectedOwner: Check {
    public static let metadata = CheckMetadata(
        id: "PW1003", slug: "unexpected-owner", title: "Unexpected owner on a declared port", defaultSeverity: .high, category: .policy,
        summary: "A declared port is held by a process, executable, unit or user other than the policy's `owner`.",
        rationale: "A port is trusted because of what answers on it. Another program on the same port (a test server, a backdoor, a different package) gets that trust without review.",
        remediation: "Find the process (`ss -ltnp`), stop it and start the expected service, or update the policy's owner if the change is intended.",
        references: ["CWE-284"])

    public static let examples: [Example] = [
        Example("expected process", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd, user: root}}]\n",
                host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example("owners unknown (collected without privilege)", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd}}]\n",
                host: ExampleHost([{ var r = ListenerReach.example(.tcp, "0.0.0.0:22", .public); r.listener.processes = []; r.listener.owner = .unknown; return r }()])),
        Example("another process on the port", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd}}]\n",
                host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "nc")]), expect: ["listener/tcp/0.0.0.0:22"]),
        Example("right process, wrong user", policy: "version: 1\nlisteners: [{proto: tcp, port: 8080, owner: {process: java, user: 1001}}]\n",
                host: ExampleHost([.example(.tcp, "127.0.0.1:8080", .localOnly, process: "java", uid: 0)]), expect: ["listener/tcp/127.0.0.1:8080"]),
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var out: [Finding] = []
        for l in c.snapshot.listeners where l.owner != .unknown {
            for d in c.policy.declarations(proto: l.proto, port: l.port) {
                guard let o = d.owner, !ownerMatches(l, o) else { continue }
                var want: [String] = []
                if let p = o.process { want.append("process \(p)") }
                if let e = o.exe { want.append("exe \(e)") }
                if let u = o.unit { want.append("unit \(u)") }
                if let u = o.uid { want.append("uid \(u)") }
                out.append(finding("listener/\(l.proto.rawValue)/\(l.endpoint)",
                                   "\(describe(l)) does not match the owner the policy expects for \(d.label) (\(want.joined(separator: ", "))).",
                                   listener: l, policyLocation: d.location))
            }
        }
        return out
    }
}
