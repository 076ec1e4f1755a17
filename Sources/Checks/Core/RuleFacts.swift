import HostModel

/// One nftables rule of the input path reduced to the matches ruleset checks reason about. Matches this decoder does not
/// understand are kept as `opaque` (never dropped), and a rule with opaque matches is never called broad, shadowing or stale.
public struct RuleFacts: Sendable, Equatable {
    public var family: TableFamily
    public var table: String
    public var chain: String
    /// nil for a regular (non-base) chain.
    public var hook: Hook?
    public var chainPolicy: ChainPolicy?
    public var handle: UInt64
    /// Position of the rule in its chain.
    public var index: Int
    public var proto: L4Proto?
    /// Destination ports matched; nil means any port.
    public var dports: [PortRange]?
    /// Source prefixes matched (text); nil means any source.
    public var sources: [String]?
    public var iifname: String?
    public var iifNegated: Bool
    /// `meta nfproto` in an inet table.
    public var nfproto: IPFamily?
    /// Matches not decoded (ct state, marks, limits, sets that are not port sets, …).
    public var opaque: [String]
    /// `accept`, `drop`, `reject`, `jump x`, `goto x`, `return`, or nil (no verdict: counters, logs).
    public var verdict: String?

    public init(family: TableFamily, table: String, chain: String, hook: Hook? = nil, chainPolicy: ChainPolicy? = nil, handle: UInt64,
                index: Int = 0, proto: L4Proto? = nil, dports: [PortRange]? = nil, sources: [String]? = nil, iifname: String? = nil,
                iifNegated: Bool = false, nfproto: IPFamily? = nil, opaque: [String] = [], verdict: String? = nil) {
        self.family = family
        self.table = table
        self.chain = chain
        self.hook = hook
        self.chainPolicy = chainPolicy
        self.handle = handle
        self.index = index
        self.proto = proto
        self.dports = dports
        self.sources = sources
        self.iifname = iifname
        self.iifNegated = iifNegated
        self.nfproto = nfproto
        self.opaque = opaque
        self.verdict = verdict
    }

    public var ref: FindingRule { FindingRule(family: family.rawValue, table: table, chain: chain, handle: handle) }
    public var subject: String { "rule/\(family.rawValue)/\(table)/\(chain)/\(handle)" }
    public var isTerminal: Bool { verdict == "accept" || verdict == "drop" || verdict == "reject" }
    /// Matches every new packet on the interfaces it names (no port, source, protocol or opaque match).
    public var matchesAnyTraffic: Bool { proto == nil && dports == nil && sources == nil && opaque.isEmpty && nfproto == nil }

    /// nft-like text: `tcp dport { 22, 80 } ip saddr 10.0.0.0/8 accept`.
    public var text: String {
        var parts: [String] = []
        if let i = iifname { parts.append("iifname \(iifNegated ? "!= " : "")\"\(i)\"") }
        if let f = nfproto { parts.append("meta nfproto \(f.rawValue)") }
        if let s = sources { parts.append("saddr { \(s.joined(separator: ", ")) }") }
        if let p = proto { parts.append(dports == nil ? "meta l4proto \(p.rawValue)" : "\(p.rawValue)") }
        if let d = dports {
            let ports = d.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }
            parts.append((proto == nil ? "th " : "") + "dport { \(ports.joined(separator: ", ")) }")
        }
        parts += opaque.map { "<\($0)>" }
        parts.append(verdict ?? "continue")
        return parts.joined(separator: " ")
    }

    /// Whether every packet this rule matches is also matched by `earlier` (both decoded fully).
    public func isCovered(by earlier: RuleFacts) -> Bool {
        guard earlier.opaque.isEmpty else { return false }
        if let p = earlier.proto, p != proto { return false }
        if let f = earlier.nfproto, f != nfproto { return false }
        if let i = earlier.iifname, i != iifname || earlier.iifNegated != iifNegated { return false }
        if let s = earlier.sources, s != sources ?? [] { return false }
        if let ed = earlier.dports {
            guard let d = dports else { return false }
            for r in d where !ed.contains(where: { $0.first <= r.first && r.last <= $0.last }) { return false }
        }
        return true
    }

    /// The input-path rules of a firewall: every rule of input base chains and of regular chains in tables that have one.
    public static func decode(_ fw: Firewall) -> [RuleFacts] {
        guard fw.status == .ok else { return [] }
        var out: [RuleFacts] = []
        for t in fw.tables where !t.dormant && [.inet, .ip, .ip6].contains(t.family) {
            let hasInput = t.chains.contains { $0.base?.hook == .input }
            guard hasInput else { continue }
            for c in t.chains where c.base == nil || c.base?.hook == .input {
                for (i, r) in c.rules.enumerated() {
                    out.append(decode(r, table: t, chain: c, index: i))
                }
            }
        }
        return out
    }

    enum Loaded { case l4proto, nfproto, ipProto, dport, saddr, iifname, ctState, other(String) }

    static func decode(_ rule: Rule, table t: Table, chain c: Chain, index: Int) -> RuleFacts {
        var f = RuleFacts(family: t.family, table: t.name, chain: c.name, hook: c.base?.hook, chainPolicy: c.base?.policy,
                          handle: rule.handle, index: index)
        var regs: [UInt32: Loaded] = [:]
        var masks: [UInt32: Int] = [:]
        var lengths: [UInt32: Int] = [:]
        for e in rule.expressions {
            switch e {
            case .meta(let m) where m.dreg != nil:
                let d = m.dreg ?? 0
                switch m.key {
                case 16: regs[d] = .l4proto
                case 15: regs[d] = .nfproto
                case 6: regs[d] = .iifname
                default: regs[d] = .other("meta key \(m.key)")
                }
            case .payload(let p) where p.dreg != nil:
                let d = p.dreg ?? 0
                switch (p.base, p.offset, p.length) {
                case (.transport, 2, 2): regs[d] = .dport
                case (.network, 9, 1) where t.family == .ip: regs[d] = .ipProto
                case (.network, 6, 1) where t.family == .ip6: regs[d] = .ipProto
                case (.network, 12, 1...4) where t.family == .ip || (t.family == .inet && f.nfproto != .ipv6):
                    regs[d] = .saddr; lengths[d] = 4
                case (.network, 8, 1...16) where t.family == .ip6 || (t.family == .inet && f.nfproto == .ipv6):
                    regs[d] = .saddr; lengths[d] = 16
                default: regs[d] = .other("payload \(p.base.rawValue) +\(p.offset)/\(p.length)")
                }
                masks[d] = nil
            case .ct(let ct) where ct.dreg != nil:
                regs[ct.dreg ?? 0] = ct.key == 0 ? .ctState : .other("ct key \(ct.key)")
            case .bitwise(let b):
                if case .saddr = regs[b.sreg], let mask = b.mask {
                    regs[b.dreg] = .saddr
                    lengths[b.dreg] = lengths[b.sreg]
                    masks[b.dreg] = mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
                } else {
                    regs[b.dreg] = regs[b.sreg].map { l -> Loaded in if case .ctState = l { return .ctState }; return .other("bitwise") } ?? .other("bitwise")
                }
            case .cmp(let cmp):
                let data = cmp.data.bytes
                switch regs[cmp.sreg] {
                case .l4proto?, .ipProto?:
                    if cmp.op == .eq, data.count == 1, let p = L4Proto.allCases.first(where: { $0.number == data[0] }) { f.proto = p } else { f.opaque.append("l4proto \(cmp.op.rawValue)") }
                case .nfproto?:
                    if cmp.op == .eq, data.count == 1 { f.nfproto = data[0] == 2 ? .ipv4 : data[0] == 10 ? .ipv6 : nil } else { f.opaque.append("nfproto") }
                case .dport?:
                    if cmp.op == .eq, data.count == 2 {
                        let port = UInt16(data[0]) << 8 | UInt16(data[1])
                        f.dports = [PortRange(first: port, last: port)]
                    } else { f.opaque.append("dport \(cmp.op.rawValue)") }
                case .iifname?:
                    let end = data.firstIndex(of: 0) ?? data.count
                    let name = String(decoding: data[0..<end], as: UTF8.self) + (data.contains(0) ? "" : "*")
                    if cmp.op == .eq || cmp.op == .neq { f.iifname = name; f.iifNegated = cmp.op == .neq } else { f.opaque.append("iifname") }
                case .saddr?:
                    let full = lengths[cmp.sreg] ?? data.count
                    if cmp.op == .eq, data.count <= full, let a = IPAddress.fromBytes(data + [UInt8](repeating: 0, count: full - data.count)) {
                        let len = min(masks[cmp.sreg] ?? data.count * 8, data.count * 8)
                        f.sources = [len == full * 8 ? a.description : "\(a)/\(len)"]
                    } else { f.opaque.append("saddr \(cmp.op.rawValue)") }
                case .ctState?:
                    f.opaque.append("ct state")
                case .other(let what)?:
                    f.opaque.append(what)
                case nil:
                    f.opaque.append("cmp")
                }
            case .range(let r):
                if case .dport? = regs[r.sreg], !r.inverted, r.from.bytes.count == 2, r.to.bytes.count == 2 {
                    let a = UInt16(r.from.bytes[0]) << 8 | UInt16(r.from.bytes[1])
                    let b = UInt16(r.to.bytes[0]) << 8 | UInt16(r.to.bytes[1])
                    f.dports = [PortRange(first: a, last: b)]
                } else { f.opaque.append("range") }
            case .lookup(let l) where l.dreg == nil:
                if case .dport? = regs[l.sreg], !l.inverted, let set = t.set(named: l.set), !set.isDynamic, let ports = portRanges(set) {
                    f.dports = ports
                } else if case .saddr? = regs[l.sreg], !l.inverted, let set = t.set(named: l.set), set.isAnonymous, !set.isInterval {
                    f.sources = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes)?.description }
                } else { f.opaque.append("@\(l.set)") }
            case .immediate(let im) where im.dreg == 0:
                f.verdict = im.verdict?.description
            case .immediate(let im):
                regs[im.dreg] = .other("immediate")
            case .reject:
                f.verdict = "reject"
            case .counter, .log:
                break
            default:
                f.opaque.append(e.name)
            }
        }
        return f
    }

    /// Port ranges of a port set (plain or interval), or nil when the keys are not 2-byte ports.
    static func portRanges(_ set: NFTSet) -> [PortRange]? {
        var out: [PortRange] = []
        let els = set.elements.filter { !$0.isCatchAll }.sorted { $0.key < $1.key }
        guard els.allSatisfy({ $0.key.bytes.count == 2 }) else { return nil }
        func port(_ b: [UInt8]) -> UInt16 { UInt16(b[0]) << 8 | UInt16(b[1]) }
        if set.isInterval {
            var i = 0
            while i < els.count {
                let e = els[i]
                if e.isIntervalEnd { i += 1; continue }
                let start = port(e.key.bytes)
                if let end = e.keyEnd, end.bytes.count == 2 {
                    out.append(PortRange(first: start, last: port(end.bytes)))
                } else if i + 1 < els.count, els[i + 1].isIntervalEnd {
                    let stop = port(els[i + 1].key.bytes)
                    out.append(PortRange(first: start, last: stop == 0 ? start : stop - 1))
                } else {
                    out.append(PortRange(first: start, last: 65535))
                }
                i += 1
            }
        } else {
            out = els.map { PortRange(first: port($0.key.bytes), last: port($0.key.bytes)) }
        }
        return out
    }
}

extension IPAddress {
    /// An address from 4 or 16 network-order bytes.
    static func fromBytes(_ b: [UInt8]) -> IPAddress? {
        if b.count == 4 { return .v4(IPv4Address(bytes: b)) }
        if b.count == 16 { return .v6(IPv6Address(bytes: b)) }
        return nil
    }
}
