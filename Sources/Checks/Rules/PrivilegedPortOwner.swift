import HostModel
import Policy

/// PW1008: a privileged port held by a non-root uid that the policy does not expect.
public struct PrivilegedPortOwner: Check {
    public static let metadata = CheckMetadata(
        id: "PW1008", slug: "privileged-port-owner", title: "Privileged port held by a non-root user", defaultSeverity: .medium, category: .ports,
        summary:
            "A port below `ip_unprivileged_port_start` (1024 by default) is held by a socket whose uid is not 0, and the policy does not name that user as owner.",
        rationale:
            "Clients trust low ports as \"started by root\". A non-root owner means a capability (CAP_NET_BIND_SERVICE), a lowered sysctl or a socket handed over by another process: each should be deliberate.",
        remediation:
            "Check how the process got the port (capabilities, socket activation, the sysctl) and record the expected user in the policy's `owner.user`.",
        references: ["CWE-250"])

    public static let examples: [Example] = [
        Example("root on port 22", host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd", uid: 0)])),
        Example(
            "declared owner uid", policy: "version: 1\nlisteners: [{proto: tcp, port: 80, owner: {user: 33}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:80", .public, process: "nginx", uid: 33)])),
        Example(
            "uid 1000 on port 80", host: ExampleHost([.example(.tcp, "0.0.0.0:80", .public, process: "python3", uid: 1000)]),
            expect: ["listener/tcp/0.0.0.0:80"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let start = UInt32(min(c.snapshot.sysctls.ipUnprivilegedPortStart ?? 1024, 1024))
        return c.snapshot.listeners.compactMap { l in
            guard UInt32(l.port) < start, l.uid != 0, l.owner != .kernel || !l.processes.isEmpty else { return nil }
            let expected = c.policy.declarations(proto: l.proto, port: l.port).contains { $0.owner?.uid == l.uid }
            guard !expected else { return nil }
            return finding(
                "listener/\(l.proto.rawValue)/\(l.endpoint)",
                "\(describe(l)) holds privileged port \(l.port) as uid \(l.uid), which the policy does not name as its owner.",
                listener: l)
        }
    }
}
