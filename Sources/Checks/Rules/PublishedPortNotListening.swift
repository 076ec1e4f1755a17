import HostModel
import Evaluator
import Policy

/// PW1024: a port is published to a namespace of this host where nothing listens on the target port.
public struct PublishedPortNotListening: Check {
    public static let metadata = CheckMetadata(
        id: "PW1024", slug: "published-port-not-listening", title: "Published port with nothing listening behind it", defaultSeverity: .low,
        category: .ruleset,
        summary: "DNAT publishes a port to a container or pod of this host, the connection gets there, and no socket listens on the target port.",
        rationale:
            "A stale publish (a container that changed its port, a stopped service whose DNAT stayed) keeps a path through the firewall open for whatever binds that port next, and hides the real configuration from reviewers.",
        remediation:
            "Remove the publish (recreate the container without `-p`, delete the service's NodePort, or drop the `dnat` rule), or fix the target port.",
        references: ["CWE-1164"])

    public static let examples: [Example] = [
        Example(
            "something listens",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(8080, target: 80), input: .drop)
                ]))),
        Example(
            "target on another machine: unknown, not reported",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(8080, target: 80, listening: false, namespace: nil), input: .drop)
                ]))),
        Example(
            "published to port 81 of a container that listens on 80",
            host: ExampleHost(
                paths: PathFacts(published: [
                    PublishedExample.published(PublishedExample.port(8081, target: 81, listening: false), input: .drop)
                ])),
            expect: ["published/tcp/8081"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.paths.published.compactMap { p in
            let f = p.port
            guard let ns = f.namespace, f.listener == nil else { return nil }
            return finding(
                f.subject,
                "\(f.proto.rawValue) \(f.port) is published to \(f.target) in \(ns), where nothing listens on port \(f.target.split(separator: ":").last ?? ""): connections are refused there.",
                evidence: f.evidence)
        }
    }
}
