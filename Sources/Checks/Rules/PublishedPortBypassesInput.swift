import HostModel
import Evaluator
import Policy

/// PW1023: a port published through DNAT and the forward hook is reachable although the host's input path refuses it.
public struct PublishedPortBypassesInput: Check {
    public static let metadata = CheckMetadata(
        id: "PW1023", slug: "published-port-bypasses-input", title: "Published port bypasses the input firewall", defaultSeverity: .high,
        category: .exposure,
        summary:
            "A port of this host is published through DNAT to a container, pod or other machine and is reachable, while the host's input path would refuse the same connection.",
        rationale:
            "DNAT in prerouting sends the connection to the forward hook: the input chain never sees it. This is how `docker run -p` and Kubernetes NodePorts are reachable from the whole network on hosts whose input policy drops everything (the firewall 'bypass' ufw and firewalld users report). The input rules look closed; the port is open.",
        remediation:
            "Publish only to the address that needs it (`docker run -p 127.0.0.1:5432:5432`), or filter the forwarded traffic where it passes: Docker's `DOCKER-USER` chain (`iptables -I DOCKER-USER -i eth0 ! -s 198.51.100.0/24 -j DROP`) or an nftables `forward` chain that runs before Docker's.",
        references: ["CWE-284", "CWE-668"])

    public static let examples: [Example] = [
        Example(
            "published and the input path accepts it too",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(8080, target: 80), input: .accept)
                ]))),
        Example(
            "published but only from one subnet",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(
                        PublishedExample.port(8080, target: 80, sources: ["198.51.100.0/24"], summary: .restricted), input: .drop)
                ]))),
        Example(
            "declared for the container in the policy", policy: "version: 1\nlisteners: [{proto: tcp, port: 5432, namespace: web}]\n",
            host: ExampleHost(paths: PathFacts(published: [PublishedExample.published(PublishedExample.port(5432), input: .drop)]))),
        Example(
            "docker run -p 5432:5432 on a host whose input drops everything",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(5432), input: .drop)
                ])), expect: ["published/tcp/5432"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.paths.published.compactMap { p in
            let f = p.port
            guard f.summary == .public || f.summary == .conditional, p.inputVerdict == .drop || p.inputVerdict == .reject else { return nil }
            // Nothing listens behind it in a namespace of this host: nothing is reachable (PW1024 reports the publish).
            if f.namespace != nil && f.listener == nil { return nil }
            // A publish the policy declares is deliberate (PW1027 holds it to the entry's sources).
            if !PublishedPortTooWide.declarations(f, c.policy).isEmpty { return nil }
            let sensitive = SensitivePorts.lookup(f.proto, f.listener?.port ?? f.port)
            var severity: Severity = sensitive?.critical == true ? .critical : Self.metadata.defaultSeverity
            if sensitive == nil { severity = severity.lowered }
            if f.summary == .conditional { severity = severity.lowered }
            let service = sensitive.map { " (\($0.service))" } ?? ""
            let input = p.inputPath.last.map { " (\($0.text))" } ?? ""
            return finding(
                f.subject,
                "\(f.text)\(service) is \(f.summary.rawValue) from \(f.sources.joined(separator: ", ")) on \(f.interfaceScope.text)\(f.limits.map { " (rate-limited by \(InterfaceScope.list($0)))" } ?? ""), although the input path would \(p.inputVerdict.rawValue) it\(input): DNAT sends it through the forward hook instead.",
                severity: severity, evidence: f.evidence, conditional: f.summary == .conditional)
        }
    }
}
