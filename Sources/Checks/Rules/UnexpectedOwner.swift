import HostModel
import Policy

/// PW1003: a declared port is held by a process other than the one the policy names.
public struct UnexpectedOwner: Check {
    public static let metadata = CheckMetadata(
        id: "PW1003", slug: "unexpected-owner", title: "Unexpected owner on a declared port", defaultSeverity: .high, category: .policy,
        summary: "A declared port is held by a process, executable, unit or user other than the policy's `owner`.",
        rationale:
            "A port is trusted because of what answers on it. Another program on the same port (a test server, a backdoor, a different package) gets that trust without review.",
        remediation: "Find the process (`ss -ltnp`), stop it and start the expected service, or update the policy's owner if the change is intended.",
        references: ["CWE-284"])

    public static let examples: [Example] = [
        Example(
            "expected process", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd, user: root}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example(
            "owners unknown, uid as expected: cannot verify (info, conditional)",
            policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd, user: root}}]\n",
            host: ExampleHost([unknownOwner(.tcp, "0.0.0.0:22", uid: 0)]), expect: ["listener/tcp/0.0.0.0:22"]),
        Example(
            "owners unknown, but the socket's uid differs",
            policy: "version: 1\nlisteners: [{proto: tcp, port: 8080, owner: {process: java, user: 1001}}]\n",
            host: ExampleHost([unknownOwner(.tcp, "0.0.0.0:8080", uid: 0)]), expect: ["listener/tcp/0.0.0.0:8080"]),
        Example(
            "kernel socket where a process is expected", policy: "version: 1\nlisteners: [{proto: udp, port: 4789, owner: {process: flanneld}}]\n",
            host: ExampleHost([
                {
                    var r = ListenerReach.example(.udp, "0.0.0.0:4789", .public); r.listener.processes = []; r.listener.owner = .kernel; return r
                }()
            ]),
            expect: ["listener/udp/0.0.0.0:4789"]),
        Example(
            "another process on the port", policy: "version: 1\nlisteners: [{proto: tcp, port: 22, owner: {process: sshd}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "nc")]), expect: ["listener/tcp/0.0.0.0:22"]),
        Example(
            "right process, wrong user", policy: "version: 1\nlisteners: [{proto: tcp, port: 8080, owner: {process: java, user: 1001}}]\n",
            host: ExampleHost([.example(.tcp, "127.0.0.1:8080", .localOnly, process: "java", uid: 0)]), expect: ["listener/tcp/127.0.0.1:8080"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var out: [Finding] = []
        for l in c.snapshot.listeners {
            for d in c.policy.declarations(proto: l.proto, port: l.port) {
                guard let o = d.owner else { continue }
                let subject = "listener/\(l.proto.rawValue)/\(l.endpoint)"
                // The uid comes from the kernel and is known even when the holders are not.
                let uidDiffers = o.uid.map { $0 != l.uid } ?? false
                if l.owner == .unknown, !uidDiffers, o.process != nil || o.exe != nil || o.unit != nil {
                    out.append(cannotVerify(l, d, o, subject: subject))
                    continue
                }
                guard !ownerMatches(l, o) else { continue }
                out.append(
                    finding(
                        subject, "\(describe(l)) does not match the owner the policy expects for \(d.label) (\(wanted(o))).",
                        listener: l, policyLocation: d.location))
            }
        }
        return out
    }
}

private extension UnexpectedOwner {
    /// An owner expectation that the snapshot cannot check: info, conditional (it never fails a run by default), and
    /// with its own fingerprint, so a baseline holding it never hides a later real mismatch on the same port.
    func cannotVerify(_ l: Listener, _ d: ExpectedListener, _ o: OwnerRule, subject: String) -> Finding {
        var f = finding(
            subject,
            "cannot verify the owner the policy expects for \(d.label) (\(wanted(o))): \(describe(l)); the processes holding the socket could not be read.",
            severity: .info, listener: l,
            remediation: "Collect as root with CAP_SYS_PTRACE, in the host's PID namespace (`sudo portwarden collect`), so the owners can be read.",
            policyLocation: d.location, conditional: true)
        f.fingerprint = Fingerprint.of(ruleId: f.ruleId, subject: subject + "#owner-unknown")
        return f
    }

    func wanted(_ o: OwnerRule) -> String {
        var want: [String] = []
        if let p = o.process { want.append("process \(p)") }
        if let e = o.exe { want.append("exe \(e)") }
        if let u = o.unit { want.append("unit \(u)") }
        if let u = o.uid { want.append("uid \(u)") }
        return want.joined(separator: ", ")
    }
}

/// A public listener whose holders could not be read (a collection without CAP_SYS_PTRACE), for the examples.
private func unknownOwner(_ proto: L4Proto, _ endpoint: String, uid: UInt32) -> ListenerReach {
    var r = ListenerReach.example(proto, endpoint, .public, uid: uid)
    r.listener.processes = []
    r.listener.owner = .unknown
    return r
}
