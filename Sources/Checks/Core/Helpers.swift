import HostModel
import Evaluator
import Policy

extension ListenerReach {
    /// Shorthand for examples and tests: `.example(.tcp, "0.0.0.0:6379", .public, process: "redis-server")`.
    /// Sources default to everything for `public` and nothing for local-only/blocked.
    public static func example(_ proto: L4Proto, _ endpoint: String, _ summary: ExposureSummary, process: String = "svc", pid: Int32 = 100,
                               uid: UInt32 = 0, v6only: Bool = false, unit: String? = nil, exe: String? = nil,
                               sources: [String]? = nil, interfaces: [String]? = nil, families: [IPFamily]? = nil,
                               path: [PathStep] = [], reasons: [String] = []) -> ListenerReach {
        var host = endpoint, port: UInt16 = 0
        if let colon = endpoint.lastIndex(of: ":") {
            host = String(endpoint[..<colon])
            port = UInt16(endpoint[endpoint.index(after: colon)...]) ?? 0
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let family: IPFamily = host.contains(":") ? .ipv6 : .ipv4
        let l = Listener(proto: proto, family: family, address: host, port: port, v6only: v6only, uid: uid,
                         processes: [ProcessInfo(pid: pid, name: process, exe: exe, unit: unit)])
        let remote = summary == .public || summary == .restricted || summary == .conditional
        let defaultSources: [String] = summary == .public
            ? l.receivesFamilies.map { $0 == .ipv4 ? "0.0.0.0/0" : "::/0" } : []
        return ListenerReach(listener: l, summary: summary, interfaces: interfaces ?? (remote ? ["eth0"] : []),
                             sources: sources ?? defaultSources, reachedFamilies: families, path: path, reasons: reasons)
    }
}

/// The concrete change that closes a listener's remote reach: delete the accepting rule when it opens exactly this port,
/// otherwise insert a drop in front of it (or append one before an accepting chain policy), plus the bind alternative.
public func closeRemediation(_ r: ListenerReach, rules: [RuleFacts], bindHint: Bool = true) -> String {
    let l = r.listener
    let bind = l.family == .ipv6 ? "::1" : "127.0.0.1"
    let bindText = bindHint ? "Bind the service to \(bind) if only this host uses it, or close" : "Close"
    let match = "\(l.proto.rawValue) dport \(l.port)"
    guard let step = r.path.last(where: { $0.action == "accept" || $0.action == "policy accept" }), !step.table.isEmpty else {
        if r.path.isEmpty {
            return "\(bindText) the port in the firewall: `nft add rule inet filter input \(match) drop` (in a table with an input chain)."
        }
        return "\(bindText) the port in the firewall with a drop rule for \(match) in front of the rule that accepts it."
    }
    let where_ = "\(step.family) \(step.table) \(step.chain)"
    if let h = step.handle {
        if let facts = rules.first(where: { $0.family.rawValue == step.family && $0.table == step.table && $0.chain == step.chain && $0.handle == h }),
           let ports = facts.dports, ports.count == 1, ports[0].first == l.port, ports[0].last == l.port, facts.sources == nil {
            return "\(bindText) it: `nft delete rule \(where_) handle \(h)` removes the rule that opens it (\(facts.text))."
        }
        return "\(bindText) it: `nft insert rule \(where_) position \(h) \(match) drop` puts a drop in front of the accepting rule #\(h)."
    }
    return "\(bindText) it: `nft add rule \(where_) \(match) drop` (the chain's policy accepts it today)."
}

/// Whether the processes holding `l` satisfy `o` (every given field must match at least one holder; uid matches the socket).
public func ownerMatches(_ l: Listener, _ o: OwnerRule) -> Bool {
    if let uid = o.uid, uid != l.uid { return false }
    if o.process == nil && o.exe == nil && o.unit == nil { return true }
    return l.processes.contains { p in
        (o.process.map { globMatch($0, p.name) } ?? true)
            && (o.exe.map { e in p.exe.map { globMatch(e, $0) } ?? false } ?? true)
            && (o.unit.map { u in p.unit.map { globMatch(u, $0) } ?? false } ?? true)
    }
}

/// Tiny nftables rules for examples and tests, with the expressions nft itself generates.
public enum ExampleRule {
    static func verdict(_ v: Verdict) -> Expression { .immediate(Immediate(dreg: 0, verdict: v)) }

    /// `[meta l4proto <p>] [<p> dport <port>] <verdict>`
    public static func port(_ handle: UInt64, _ proto: L4Proto?, _ port: UInt16?, _ v: Verdict = .accept) -> Rule {
        var e: [Expression] = []
        if let proto {
            e += [.meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([proto.number])))]
        }
        if let port {
            e += [.payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                  .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([UInt8(port >> 8), UInt8(port & 0xff)])))]
        }
        return Rule(handle: handle, expressions: e + [.counter, verdict(v)])
    }

    /// `ip saddr <cidr> [<p> dport <port>] <verdict>` (IPv4 prefixes only) with the expressions nft generates in an inet
    /// table: a load of the prefix's whole bytes, a mask only for the last partial byte.
    public static func source(_ handle: UInt64, _ cidr: String, _ proto: L4Proto?, _ port: UInt16?, _ v: Verdict = .accept) -> Rule {
        guard let c = CIDR(cidr), case .v4(let a) = c.address else {
            return Rule(handle: handle, expressions: [.unknown(Unknown(name: "bad-example", attributes: []))])
        }
        let n = max(1, (c.prefixLength + 7) / 8)
        let mask: UInt32 = c.prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - c.prefixLength)
        let maskBytes = Array(IPv4Address(mask).bytes.prefix(n))
        var e: [Expression] = [
            .meta(Meta(key: 15, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([2]))),
            .payload(Payload(base: .network, offset: 12, length: UInt32(n), dreg: 1)),
        ]
        if c.prefixLength % 8 != 0 {
            e.append(.bitwise(Bitwise(sreg: 1, dreg: 1, length: UInt32(n), mask: Bytes(maskBytes), xor: Bytes([UInt8](repeating: 0, count: n)))))
        }
        e.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes(Array(IPv4Address(a.value & mask).bytes.prefix(n))))))
        return Rule(handle: handle, expressions: e + ExampleRule.port(handle, proto, port, v).expressions)
    }

    /// `iifname "<name>" accept`
    public static func iifname(_ handle: UInt64, _ name: String, _ v: Verdict = .accept) -> Rule {
        var b = Array(name.utf8) + [0]
        while b.count < 16 { b.append(0) }
        return Rule(handle: handle, expressions: [.meta(Meta(key: 6, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes(b))), verdict(v)])
    }

    /// `ct state established,related accept`
    public static func established(_ handle: UInt64) -> Rule {
        Rule(handle: handle, expressions: [
            .ct(Ct(key: 0, dreg: 1)),
            .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes([6, 0, 0, 0]), xor: Bytes([0, 0, 0, 0]))),
            .cmp(Cmp(sreg: 1, op: .neq, data: Bytes([0, 0, 0, 0]))),
            verdict(.accept),
        ])
    }

    /// A readable firewall with one `inet filter input` chain holding `rules`.
    public static func firewall(policy: ChainPolicy = .drop, _ rules: [Rule]) -> Firewall {
        Firewall(status: .ok, generation: 1, tables: [
            Table(family: .inet, name: "filter", chains: [
                Chain(name: "input", base: BaseChain(type: "filter", hook: .input, priority: 0, policy: policy), rules: rules),
            ]),
        ])
    }
}
