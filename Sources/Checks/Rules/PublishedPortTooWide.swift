import HostModel
import Evaluator
import Policy

/// PW1027: a port published to a container or pod is reachable more widely than the policy entry for it allows.
public struct PublishedPortTooWide: Check {
    public static let metadata = CheckMetadata(
        id: "PW1027", slug: "published-port-too-wide", title: "Published port wider than the policy allows", defaultSeverity: .high,
        category: .policy,
        summary:
            "A policy entry with `namespace:` describes a port published to a container, pod or named namespace, and the port is reachable from sources or interfaces the entry does not allow.",
        rationale:
            "Published ports are reached through the forward hook, so the host's input rules do not restrict them; only the DNAT and forward rules (Docker's `DOCKER-USER`, an nftables forward chain) do. The policy states who should reach the service; this check holds the published path to it.",
        remediation:
            "Restrict the forwarded traffic to the allowed sources (`iptables -I DOCKER-USER -i eth0 -p tcp --dport 5432 ! -s 198.51.100.0/24 -j DROP` — in DOCKER-USER the port is the container's), publish to one host address only (`-p 192.0.2.10:5432:5432`), or widen the policy entry if the exposure is intended.",
        references: ["CWE-284", "CWE-668"])

    static let policy = """
        version: 1
        listeners:
          - {proto: tcp, port: 5432, namespace: web, exposure: {sources: [198.51.100.0/24]}}
        """

    public static let examples: [Example] = [
        Example(
            "published only to the allowed subnet", policy: policy,
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(5432, sources: ["198.51.100.0/24"], summary: .restricted), input: .drop)
                ]))),
        Example(
            "an entry for another container does not apply", policy: policy.replacingOccurrences(of: "namespace: web", with: "namespace: api"),
            host: ExampleHost(paths: PathFacts(published: [PublishedExample.published(PublishedExample.port(5432), input: .drop)]))),
        Example(
            "published to the world, the policy allows one subnet", policy: policy,
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(5432), input: .drop)
                ])), expect: ["published/tcp/5432"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        var out: [Finding] = []
        for p in c.paths.published {
            let f = p.port
            guard f.summary != .blocked, f.summary != .localOnly else { continue }
            for d in PublishedPortTooWide.declarations(f, c.policy) {
                var excess: [String] = []
                switch d.exposure {
                case .public: continue
                case .localOnly: excess = ["any remote source (the policy allows local-only)"]
                case .restricted(let ifaces, let sources):
                    let extra = ifaces.isEmpty ? [] : f.interfaces.filter { i in !ifaces.contains { globMatch($0, i) } }
                    if !extra.isEmpty {
                        let named = extra.filter { !isPlaceholderInterface($0) }
                        excess.append(
                            "interfaces \(InterfaceScope.list(named + (named.count < extra.count ? ["every interface the host does not name"] : [])))"
                        )
                    }
                    if !sources.isEmpty {
                        // The exact sets: the listed `sources` are cut after 64 ranges and would hide what lies beyond.
                        let wide = IPFamily.allCases.contains { f.remoteSources($0).exceeds(sources) }
                        if wide { excess.append("sources outside \(sources.map(\.description).joined(separator: ", "))") }
                    }
                }
                guard !excess.isEmpty else { continue }
                out.append(
                    finding(
                        f.subject,
                        "\(f.text) is \(f.summary.rawValue) from \(f.sources.joined(separator: ", ")) on \(f.interfaceScope.text): wider than the policy entry \(d.label) allows (\(excess.joined(separator: "; "))).",
                        evidence: f.evidence, policyLocation: d.location, conditional: f.summary == .conditional))
            }
        }
        return out
    }

    /// The policy entries for a published port: by the namespace's names, on the host port or the container's port.
    static func declarations(_ f: ForwardedPort, _ policy: Policy) -> [ExpectedListener] {
        var out = policy.declarations(proto: f.proto, port: f.port, namespaceNames: f.namespaceNames)
        if let target = f.listener?.port, target != f.port {
            for d in policy.declarations(proto: f.proto, port: target, namespaceNames: f.namespaceNames) where !out.contains(d) { out.append(d) }
        }
        return out
    }
}
