import Evaluator
import HostModel
import Policy

/// PW1004: a declared listener is reachable from more sources or interfaces than the policy allows.
public struct ExposureTooWide: Check {
    public static let metadata = CheckMetadata(
        id: "PW1004", slug: "exposure-too-wide", title: "Exposure wider than the policy allows", defaultSeverity: .high, category: .exposure,
        summary: "A declared listener accepts new connections from sources or interfaces beyond its `exposure` in the policy.",
        rationale:
            "The policy records who should reach a service. When the firewall lets more through (a missing source match, an accept on the wrong interface, a forgotten IPv6 rule), the service is exposed to people it was never meant for.",
        remediation:
            "Restrict the firewall rule that accepts the traffic to the allowed sources and interfaces, or bind the service to the right address.",
        references: ["CWE-668", "CIS Linux Benchmark 3.5"])

    public static let examples: [Example] = [
        Example(
            "within the allowed subnet", policy: "version: 1\nlisteners: [{proto: tcp, port: 5432, exposure: {sources: [10.0.0.0/8]}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:5432", .restricted, process: "postgres", sources: ["10.1.0.0/16"])])),
        Example(
            "public allowed", policy: "version: 1\nlisteners: [{proto: tcp, port: 443, exposure: public}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:443", .public, process: "nginx")])),
        Example(
            "subnet allowed, open to all", policy: "version: 1\nlisteners: [{proto: tcp, port: 5432, exposure: {sources: [10.0.0.0/8]}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:5432", .public, process: "postgres")]), expect: ["listener/tcp/0.0.0.0:5432"]),
        Example(
            "local-only allowed, reachable on eth0", policy: "version: 1\nlisteners: [{proto: tcp, port: 9100, exposure: local-only}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:9100", .restricted, sources: ["192.0.2.0/24"])]), expect: ["listener/tcp/0.0.0.0:9100"]),
        Example(
            "wrong interface", policy: "version: 1\nlisteners: [{proto: tcp, port: 9100, exposure: {interfaces: [eth1]}}]\n",
            host: ExampleHost([.example(.tcp, "0.0.0.0:9100", .restricted, sources: ["192.0.2.0/24"], interfaces: ["eth0"])]),
            expect: ["listener/tcp/0.0.0.0:9100"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let rules = c.rules
        var out: [Finding] = []
        for r in c.reaches where r.isRemote {
            for d in c.policy.declarations(proto: r.listener.proto, port: r.listener.port) {
                var excess: [String] = []
                switch d.exposure {
                case .public: continue
                case .localOnly:
                    excess = ["any remote source (the policy allows local-only)"]
                case .restricted(let ifaces, let sources):
                    let extraIfaces = ifaces.isEmpty ? [] : r.interfaces.filter { i in !ifaces.contains { globMatch($0, i) } }
                    if !extraIfaces.isEmpty {
                        let named = extraIfaces.filter { !isPlaceholderInterface($0) }
                        let words = named + (named.count < extraIfaces.count ? ["every interface the host does not name"] : [])
                        excess.append("interfaces \(InterfaceScope.list(words))")
                    }
                    if !sources.isEmpty {
                        // The exact sets: the listed `sources` are cut after 64 ranges and would hide what lies beyond.
                        let wide = r.sourceSets.contains { $0.exceeds(sources) }
                        if wide || (r.sourceSets.isEmpty && r.summary == .conditional) {
                            excess.append("sources outside \(sources.map(\.description).joined(separator: ", "))")
                        }
                    }
                }
                guard !excess.isEmpty else { continue }
                let remedy = closeRemedy(r, rules: rules, bindHint: d.exposure == .localOnly)
                out.append(
                    finding(
                        r.subject,
                        "\(describe(r.listener)) is \(describe(r)): wider than the policy entry \(d.label) allows (\(excess.joined(separator: "; "))).",
                        severity: gradedSeverity(Self.metadata.defaultSeverity, r), listener: r.listener, evidence: r.evidence,
                        remediation: remedy.text,
                        policyLocation: d.location, conditional: r.summary == .conditional, fix: remedy.fix))
            }
        }
        return out
    }
}
