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
    /// A `ct state` match that excludes `new`: the rule never matches a new connection.
    public var excludesNew = false
    /// `iif "lo"`: the rule matches only traffic from the host itself.
    public var loopbackOnly = false
    /// The rule's nft text, built from every expression (see `nft`).
    public var printed = RuleText()

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

    /// The rule in nft syntax (`ip saddr @admins tcp dport 5432 accept`), valid after `nft add rule FAMILY TABLE CHAIN`;
    /// nil when some expression has no faithful nft form. Quote only this as nft.
    public var nft: String? { printed.nft(proto: proto) }

    /// For messages: the nft text in backquotes, or a description in words when the rule cannot be printed as nft.
    public var text: String { nft.map { "`\($0)`" } ?? printed.description(proto: proto) }

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

    enum Loaded { case l4proto, nfproto, ipProto, dport, saddr, iifname, iif, ctState, other(String) }

    static func decode(_ rule: Rule, table t: Table, chain c: Chain, index: Int) -> RuleFacts {
        var f = RuleFacts(family: t.family, table: t.name, chain: c.name, hook: c.base?.hook, chainPolicy: c.base?.policy,
                          handle: rule.handle, index: index)
        var regs: [UInt32: Loaded] = [:]
        var masks: [UInt32: Int] = [:]
        var lengths: [UInt32: Int] = [:]
        var ctMasks: [UInt32: UInt32] = [:]
        // `tcp dport 6000-7000` is `cmp gte` then `cmp lte` on the same register.
        var lowerBound: (reg: UInt32, port: UInt16)?
        var oddMask: Set<UInt32> = []
        for e in rule.expressions {
            switch e {
            case .meta(let m) where m.dreg != nil:
                let d = m.dreg ?? 0
                switch m.key {
                case 16: regs[d] = .l4proto
                case 15: regs[d] = .nfproto
                case 6: regs[d] = .iifname
                case 4: regs[d] = .iif
                default: regs[d] = .other("meta key \(m.key)")
                }
            case .payload(let p) where p.dreg != nil:
                let d = p.dreg ?? 0
                oddMask.remove(d)
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
                let plain = b.op == 0 && (b.xor?.bytes.allSatisfy { $0 == 0 } ?? true)
                if case .saddr = regs[b.sreg], let mask = b.mask {
                    regs[b.dreg] = .saddr
                    lengths[b.dreg] = lengths[b.sreg]
                    masks[b.dreg] = mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
                    if !plain || !RuleText.isPrefixMask(mask.bytes) { oddMask.insert(b.dreg) } else { oddMask.remove(b.dreg) }
                } else {
                    regs[b.dreg] = regs[b.sreg].map { l -> Loaded in if case .ctState = l { return .ctState }; return .other("bitwise") } ?? .other("bitwise")
                    if case .ctState? = regs[b.dreg], plain, let m = b.mask?.bytes, m.count == 4 {
                        ctMasks[b.dreg] = m.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
                    } else { ctMasks[b.dreg] = nil }
                }
            case .cmp(let cmp):
                let data = cmp.data.bytes
                switch regs[cmp.sreg] {
                case .l4proto?, .ipProto?:
                    if cmp.op == .eq, data.count == 1, let p = L4Proto.allCases.first(where: { $0.number == data[0] }) {
                        f.proto = p
                        let key = regs[cmp.sreg].map { if case .ipProto = $0 { return t.family == .ip6 ? "ip6 nexthdr" : "ip protocol" }; return "meta l4proto" } ?? "meta l4proto"
                        f.printed.add(.proto("\(key) \(p.rawValue)"))
                    } else { f.opaque.append("l4proto \(cmp.op.rawValue)"); f.printed.cannotPrint("l4proto \(cmp.op.rawValue)") }
                case .nfproto?:
                    if cmp.op == .eq, data.count == 1, data[0] == 2 || data[0] == 10 {
                        f.nfproto = data[0] == 2 ? .ipv4 : .ipv6
                        f.printed.add(.nfproto("meta nfproto \(data[0] == 2 ? "ipv4" : "ipv6")"))
                    } else { f.opaque.append("nfproto"); f.printed.cannotPrint("nfproto") }
                case .dport? where data.count == 2 && (cmp.op == .gte || (cmp.op == .lte && lowerBound?.reg == cmp.sreg)):
                    let port = UInt16(data[0]) << 8 | UInt16(data[1])
                    if cmp.op == .gte { lowerBound = (cmp.sreg, port); continue }
                    let low = lowerBound?.port ?? 0
                    lowerBound = nil
                    f.dports = [PortRange(first: low, last: port)]
                    f.printed.add(.dport(RuleText.ports([PortRange(first: low, last: port)])))
                case .dport?:
                    if cmp.op == .eq || cmp.op == .neq, data.count == 2 {
                        let port = UInt16(data[0]) << 8 | UInt16(data[1])
                        if cmp.op == .eq { f.dports = [PortRange(first: port, last: port)] } else { f.opaque.append("dport neq") }
                        f.printed.add(.dport((cmp.op == .neq ? "!= " : "") + "\(port)"))
                    } else { f.opaque.append("dport \(cmp.op.rawValue)"); f.printed.cannotPrint("dport \(cmp.op.rawValue)") }
                case .iifname?:
                    let end = data.firstIndex(of: 0) ?? data.count
                    let name = String(decoding: data[0..<end], as: UTF8.self) + (data.contains(0) ? "" : "*")
                    if cmp.op == .eq || cmp.op == .neq, !name.contains("\"") {
                        f.iifname = name; f.iifNegated = cmp.op == .neq
                        f.printed.add(.plain("iifname \(cmp.op == .neq ? "!= " : "")\"\(name)\""))
                    } else { f.opaque.append("iifname"); f.printed.cannotPrint("iifname \(cmp.op.rawValue)") }
                case .iif?:
                    // Index 1 is the loopback device in every network namespace; other indexes name interfaces this
                    // decoder cannot name.
                    f.opaque.append("iif")
                    if cmp.op == .eq, data == [1, 0, 0, 0] {
                        f.loopbackOnly = true
                        f.printed.add(.plain("iif \"lo\""))
                    } else { f.printed.cannotPrint("iif") }
                case .saddr?:
                    let full = lengths[cmp.sreg] ?? data.count
                    if cmp.op == .eq, data.count <= full, let a = IPAddress.fromBytes(data + [UInt8](repeating: 0, count: full - data.count)) {
                        let len = min(masks[cmp.sreg] ?? data.count * 8, data.count * 8)
                        f.sources = [len == full * 8 ? a.description : "\(a)/\(len)"]
                        if let key = addressKey(t.family, f.nfproto, full), !oddMask.contains(cmp.sreg) {
                            f.printed.add(.plain("\(key) saddr \(f.sources?[0] ?? "")"))
                        } else { f.printed.cannotPrint("saddr load") }
                    } else { f.opaque.append("saddr \(cmp.op.rawValue)"); f.printed.cannotPrint("saddr \(cmp.op.rawValue)") }
                case .ctState?:
                    f.opaque.append("ct state")
                    if cmp.op == .neq, data.allSatisfy({ $0 == 0 }), let m = ctMasks[cmp.sreg], let names = RuleText.ctStates(m) {
                        f.printed.add(.plain("ct state \(names)"))
                        if m & 8 == 0 && m & 64 == 0 { f.excludesNew = true }
                    } else { f.printed.cannotPrint("ct state \(cmp.op.rawValue)") }
                case .other(let what)?:
                    f.opaque.append(what); f.printed.cannotPrint(what)
                case nil:
                    f.opaque.append("cmp"); f.printed.cannotPrint("cmp")
                }
            case .range(let r):
                if case .dport? = regs[r.sreg], !r.inverted, r.from.bytes.count == 2, r.to.bytes.count == 2 {
                    let a = UInt16(r.from.bytes[0]) << 8 | UInt16(r.from.bytes[1])
                    let b = UInt16(r.to.bytes[0]) << 8 | UInt16(r.to.bytes[1])
                    f.dports = [PortRange(first: a, last: b)]
                    f.printed.add(.dport(RuleText.ports([PortRange(first: a, last: b)])))
                } else { f.opaque.append("range"); f.printed.cannotPrint("range") }
            case .lookup(let l) where l.dreg == nil:
                let set = t.set(named: l.set)
                if case .dport? = regs[l.sreg], !l.inverted, let set, !set.isDynamic, let ports = portRanges(set) {
                    f.dports = ports
                } else if case .saddr? = regs[l.sreg], !l.inverted, let set, set.isAnonymous, !set.isInterval {
                    f.sources = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes)?.description }
                } else { f.opaque.append("@\(l.set)") }
                printLookup(l, set, regs[l.sreg], lengths[l.sreg], masked: masks[l.sreg] != nil, table: t, into: &f)
            case .immediate(let im) where im.dreg == 0:
                f.verdict = im.verdict?.description
                switch im.verdict {
                case .accept?, .drop?, .return?, .continue?, .jump?, .goto?: f.printed.setVerdict(im.verdict?.description ?? "")
                default: f.printed.cannotPrint("verdict \(im.verdict?.description ?? "?")")
                }
            case .immediate(let im):
                regs[im.dreg] = .other("immediate")
            case .reject(let r):
                f.verdict = "reject"
                if let text = RuleText.reject(r, family: t.family) { f.printed.setVerdict(text) } else { f.printed.cannotPrint("reject type \(r.type)") }
            case .counter:
                f.printed.add(.plain("counter"))
            case .log(let l):
                if let text = RuleText.log(l) { f.printed.add(.plain(text)) } else { f.printed.cannotPrint("log") }
            default:
                f.opaque.append(e.name)
                f.printed.cannotPrint(e.name)
            }
        }
        if lowerBound != nil { f.opaque.append("dport gte"); f.printed.cannotPrint("dport gte") }
        return f
    }

    /// `ip`/`ip6` for a source address load, or nil when nft would add a family check the rule does not have.
    static func addressKey(_ family: TableFamily, _ nfproto: IPFamily?, _ length: Int) -> String? {
        switch (family, nfproto, length) {
        case (.ip, _, 4): "ip"
        case (.ip6, _, 16): "ip6"
        case (.inet, .ipv4?, 4): "ip"
        case (.inet, .ipv6?, 16): "ip6"
        default: nil
        }
    }

    /// nft text of a set lookup on a destination port or source address: `@name` for a named set (it stays live), the
    /// elements for a small anonymous one.
    static func printLookup(_ l: Lookup, _ set: NFTSet?, _ reg: Loaded?, _ length: Int?, masked: Bool, table t: Table, into f: inout RuleFacts) {
        let neg = l.inverted ? "!= " : ""
        guard let set, !masked else { f.printed.cannotPrint("lookup @\(l.set)"); return }
        var rhs: String?
        if !set.isAnonymous {
            rhs = RuleText.isPlainName(set.name) ? "@\(set.name)" : nil
        } else if case .dport? = reg, let ports = portRanges(set) {
            rhs = "{ " + ports.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }.joined(separator: ", ") + " }"
        } else if case .saddr? = reg, !set.isInterval {
            let addrs = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes)?.description }
            rhs = addrs.count == set.elements.count && !addrs.isEmpty ? "{ \(addrs.joined(separator: ", ")) }" : nil
        }
        switch (reg, rhs) {
        case (.dport?, let r?): f.printed.add(.dport(neg + r))
        case (.saddr?, let r?):
            if let key = addressKey(t.family, f.nfproto, length ?? 0) { f.printed.add(.plain("\(key) saddr \(neg)\(r)")) } else { f.printed.cannotPrint("saddr lookup") }
        default: f.printed.cannotPrint("lookup @\(l.set)")
        }
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
