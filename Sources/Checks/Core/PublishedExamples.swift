import HostModel
import Evaluator

/// Building blocks for the examples of the forward-path checks: a published port as the evaluator reports it.
enum PublishedExample {
    static let dnat = PathStep(
        table: "nat", family: .table(.ip), chain: "DOCKER", hook: .hook(.prerouting), priority: -100, handle: 12,
        action: .note("dnat to 172.17.0.2:5432"))
    static let forward = PathStep(
        table: "filter", family: .table(.ip), chain: "DOCKER", hook: .hook(.forward), priority: 0, handle: 20, action: .accept)
    static let inputDrop = PathStep(
        table: "filter", family: .table(.ip), chain: "INPUT", hook: .hook(.input), priority: 0, handle: nil, action: .policy(.drop))
    static let inputAccept = PathStep(
        table: "filter", family: .table(.ip), chain: "INPUT", hook: .hook(.input), priority: 0, handle: 7, action: .accept)

    /// `tcp PORT` published to 172.17.0.2:TARGET in `docker web`, reached from `sources` on eth0.
    static func port(
        _ port: UInt16, target: UInt16 = 5432, sources: [String] = ["0.0.0.0/0"], summary: ExposureSummary = .public,
        listening: Bool = true, namespace: String? = "docker web (net:[4026532301])"
    ) -> ForwardedPort {
        let region = ExposureRegion(
            family: .ipv4, interface: "eth0", interfaceExists: true, destination: "192.0.2.10", destinationPort: port,
            sources: sources, omittedSources: 0, sourceCount: 1, verdict: .accept,
            path: [
                dnat,
                .routing(.ipv4, .note("forward to 172.17.0.2")), forward
            ], reasons: [])
        var l = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: target, processes: [ProcessInfo(pid: 4100, name: "postgres")])
        l.uid = 999
        let ref = listening && namespace != nil ? ListenerRef(l, namespace: namespace ?? "", arrival: "172.17.0.2") : nil
        var f = ForwardedPort(
            proto: .tcp, family: .ipv4, port: port, target: "172.17.0.2:\(target)", destinations: ["192.0.2.10"], interfaces: ["eth0"],
            sources: sources, reasons: [], regions: [region], namespace: namespace, listener: ref, summary: summary)
        if namespace != nil { f.namespaceNames = ["web", "3f2a19c0b1d2"] }
        return f
    }

    static func published(_ p: ForwardedPort, input: PacketVerdict) -> PublishedPath {
        PublishedPath(port: p, inputVerdict: input, inputPath: [input == .accept ? inputAccept : inputDrop])
    }
}

extension ForwardedPort {
    /// The stable subject of a published port: `published/tcp/5432`.
    public var subject: String { "published/\(proto.rawValue)/\(family == .ipv6 ? "ipv6/" : "")\(port)" }

    /// `tcp 5432 → 172.17.0.2:5432 (docker web (net:[…]): postgres[4100])`.
    public var text: String {
        var receiver = namespace ?? "another host"
        if let l = listener {
            let procs = l.processes.map { "\($0.name)[\($0.pid)]" }.joined(separator: ",")
            receiver += procs.isEmpty ? "" : ": \(procs)"
        }
        return "\(proto.rawValue) \(port) → \(target) (\(receiver))"
    }

    /// The evidence block of a finding about this published port.
    var evidence: Evidence {
        var steps: [String] = []
        for r in regions { for s in r.path.map(\.text) where !steps.contains(s) { steps.append(s) } }
        let scope = interfaceScope
        return Evidence(
            exposure: summary.rawValue, interfaces: scope.named, otherInterfaces: scope.others, sources: sources, path: steps,
            reasons: reasons, limits: limits ?? [])
    }
}
