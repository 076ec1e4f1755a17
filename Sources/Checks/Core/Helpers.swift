import HostModel
import Evaluator
import Policy

extension ListenerReach {
    /// Shorthand for examples and tests: `.example(.tcp, "0.0.0.0:6379", .public, process: "redis-server")`.
    /// Sources default to everything for `public` and nothing for local-only/blocked.
    public static func example(
        _ proto: L4Proto, _ endpoint: String, _ summary: ExposureSummary, process: String = "svc", pid: Int32 = 100,
        uid: UInt32 = 0, v6only: Bool = false, unit: String? = nil, exe: String? = nil,
        sources: [String]? = nil, interfaces: [String]? = nil, families: [IPFamily]? = nil,
        path: [PathStep] = [], reasons: [String] = []
    ) -> ListenerReach {
        var host = endpoint, port: UInt16 = 0
        if let colon = endpoint.lastIndex(of: ":") {
            host = String(endpoint[..<colon])
            port = UInt16(endpoint[endpoint.index(after: colon)...]) ?? 0
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let family: IPFamily = host.contains(":") ? .ipv6 : .ipv4
        let l = Listener(
            proto: proto, family: family, address: host, port: port, v6only: v6only, uid: uid,
            processes: [ProcessInfo(pid: pid, name: process, exe: exe, unit: unit)])
        let remote = summary == .public || summary == .restricted || summary == .conditional
        let defaultSources: [String] =
            summary == .public
            ? l.receivesFamilies.map { $0 == .ipv4 ? "0.0.0.0/0" : "::/0" } : []
        return ListenerReach(
            listener: l, summary: summary, interfaces: interfaces ?? (remote ? ["eth0"] : []),
            sources: sources ?? defaultSources, reachedFamilies: families, path: path, reasons: reasons)
    }
}

/// The concrete change that closes a listener's remote reach, plus the bind alternative. Every command quoted is valid
/// nft with the snapshot's own names and handles, and does what its sentence says:
/// - delete the accepting rule when it opens exactly this port in a base input chain with policy drop and no later
///   rule of that chain can accept the port (so the deletion closes it);
/// - otherwise put a drop for the listener's remote traffic (`iifname != "lo"`, its family and address, its port) at
///   the top of the base input chain that accepts it (or jumps to the regular chain that does: a regular chain may
///   also serve forward); with no input chain at all, a new table holding one.
/// `lead` goes before the sentence (a check's own advice).
public func closeRemedy(_ r: ListenerReach, rules: [RuleMatch], bindHint: Bool = true, lead: String = "") -> Remedy {
    let l = r.listener
    let bind = l.family == .ipv6 ? "::1" : "127.0.0.1"
    let bindText = lead + (bindHint ? "Bind the service to \(bind) if only this host uses it, or close" : "Close")
    guard let step = r.path.last(where: { $0.action == .accept || $0.action == .policy(.accept) }), !step.table.isEmpty else {
        if r.path.isEmpty {
            let drop = dropRule(l, family: .inet)
            let script =
                "add table inet portwarden; add chain inet portwarden input { type filter hook input priority filter; policy accept; }; add rule inet portwarden input \(drop)"
            return Remedy(
                "\(bindText) the port in the firewall: `nft \(shellQuoted(script))` creates table inet portwarden, whose input chain drops it (no input chain decides it today).",
                RulesetFix(lead: "\(bindText) the port in the firewall:", edit: .newInputChain(rule: drop)))
        }
        return Remedy(
            "\(bindText) the port in the firewall with a drop rule for \(l.proto.rawValue) dport \(l.port) in front of the rule that accepts it.")
    }
    var chain = ChainRef(family: step.family.description, table: step.table, chain: step.chain)
    guard step.hook == .hook(.input), case .table(let family) = step.family else {
        return Remedy(
            "\(bindText) the port in the firewall: \(chain) (\(step.hookText)) accepts it; drop \(l.proto.rawValue) dport \(l.port) there before the accepting rule."
        )
    }
    let drop = dropRule(l, family: family)
    if let h = step.handle {
        let ref = FindingRule(family: family.rawValue, table: step.table, chain: step.chain, handle: h)
        let facts = rules.first { $0.family == family && $0.table == step.table && $0.chain == step.chain && $0.handle == h }
        if let facts, deletionCloses(facts, l, rules) {
            return Remedy(
                "\(bindText) it: `\(ref.deleteCommand)` removes the rule that opens it (\(facts.text)).",
                RulesetFix(lead: "\(bindText) it:", edit: .delete(ref, text: facts.text)))
        }
        if facts?.hook == nil, let base = baseChain(jumpingTo: step, in: r.path, rules: rules) {
            // A regular chain may be jumped to from other hooks too (forward): the drop goes on top of the input chain.
            chain = base
        } else if facts?.hook == nil {
            // No input chain on the path jumps here: no command is quoted for a chain other hooks may share.
            return Remedy(
                "\(bindText) it: a drop for it (`\(drop)`) in front of the accepting rule #\(h) of \(chain), or on top of the input chain that leads there.",
                RulesetFix(lead: "\(bindText) it:", edit: .insertBefore(ref, rule: drop)))
        }
    }
    return Remedy(
        "\(bindText) it: `nft insert rule \(chain) \(shellQuoted(drop))` puts a drop for it at the top of \(chain), before every rule that accepts it.",
        RulesetFix(lead: "\(bindText) it:", edit: .insertFirst(chain, rule: drop)))
}

/// The base input chain of `step`'s table that the path jumped from on its way to `step`.
func baseChain(jumpingTo step: PathStep, in path: [PathStep], rules: [RuleMatch]) -> ChainRef? {
    for s in path.reversed() {
        guard s.family == step.family, s.table == step.table, s.action.entersChain,
            let h = s.handle
        else { continue }
        if rules.contains(where: {
            .table($0.family) == s.family && $0.table == s.table && $0.chain == s.chain && $0.handle == h && $0.hook == .input
        }) {
            return ChainRef(family: s.family.description, table: s.table, chain: s.chain)
        }
    }
    return nil
}

/// The text of `closeRemedy` alone.
public func closeRemediation(_ r: ListenerReach, rules: [RuleMatch], bindHint: Bool = true) -> String {
    closeRemedy(r, rules: rules, bindHint: bindHint).text
}

/// nft for "drop new remote traffic to this listener": not from loopback, only its family (in an inet table) and its
/// address (when bound to one), its protocol and port.
func dropRule(_ l: Listener, family: TableFamily) -> String {
    var parts = ["iifname != \"lo\""]
    let families = l.receivesFamilies
    let mapped = IPv6Address(l.address)?.mappedIPv4 != nil
    if l.bindScope == .specific, !mapped {
        parts.append("\(l.family == .ipv4 ? "ip" : "ip6") daddr \(l.address)")
    } else if family == .inet, families.count == 1 {
        parts.append("meta nfproto \(families[0].rawValue)")
    }
    parts.append("\(l.proto.rawValue) dport \(l.port) drop")
    return parts.joined(separator: " ")
}

/// Whether deleting `rule` closes `l`: the rule accepts exactly this port in a base input chain with policy drop, and
/// no other rule of that chain can accept (or jump) for this protocol and port.
func deletionCloses(_ rule: RuleMatch, _ l: Listener, _ rules: [RuleMatch]) -> Bool {
    guard rule.verdict == .accept, rule.hook == .input, rule.chainPolicy == .drop,
        rule.proto == nil || rule.proto == l.proto,
        let ports = rule.dports, ports.count == 1, ports[0].first == l.port, ports[0].last == l.port
    else { return false }
    let others = rules.filter { $0.family == rule.family && $0.table == rule.table && $0.chain == rule.chain && $0.index != rule.index }
    return others.allSatisfy { r in
        guard r.verdict != .none, r.verdict != .drop, r.verdict != .reject, !r.excludesNew, !r.loopbackOnly, !r.isLoopbackName
        else { return true }
        if let p = r.proto, p != l.proto { return true }
        if let d = r.dports, r.opaque.isEmpty || !r.opaque.contains(where: { $0.hasPrefix("dport") }) {
            return !d.contains { $0.contains(l.port) }
        }
        return false
    }
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
            e += [
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([UInt8(port >> 8), UInt8(port & 0xff)])))
            ]
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
            .payload(Payload(base: .network, offset: 12, length: UInt32(n), dreg: 1))
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
        Rule(
            handle: handle,
            expressions: [
                .ct(Ct(key: 0, dreg: 1)),
                .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes([6, 0, 0, 0]), xor: Bytes([0, 0, 0, 0]))),
                .cmp(Cmp(sreg: 1, op: .neq, data: Bytes([0, 0, 0, 0]))),
                verdict(.accept)
            ])
    }

    /// A readable firewall with one `inet filter input` chain holding `rules`.
    public static func firewall(policy: ChainPolicy = .drop, _ rules: [Rule]) -> Firewall {
        Firewall(
            status: .ok, generation: 1,
            tables: [
                Table(
                    family: .inet, name: "filter",
                    chains: [
                        Chain(name: "input", base: BaseChain(type: "filter", hook: .input, priority: 0, policy: policy), rules: rules)
                    ])
            ])
    }
}
