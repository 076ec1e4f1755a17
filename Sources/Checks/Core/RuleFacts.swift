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

    public init(
        family: TableFamily, table: String, chain: String, hook: Hook? = nil, chainPolicy: ChainPolicy? = nil, handle: UInt64,
        index: Int = 0, proto: L4Proto? = nil, dports: [PortRange]? = nil, sources: [String]? = nil, iifname: String? = nil,
        iifNegated: Bool = false, nfproto: IPFamily? = nil, opaque: [String] = [], verdict: String? = nil
    ) {
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
        var d = FactsDecoder(
            table: t,
            facts: RuleFacts(
                family: t.family, table: t.name, chain: c.name, hook: c.base?.hook,
                chainPolicy: c.base?.policy, handle: rule.handle, index: index))
        for e in rule.expressions { d.take(e) }
        if let comment = rule.comment { d.f.printed.setComment(comment) }
        return d.finish()
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
        // The key must be exactly the loaded field (a concatenation spans several registers).
        let width: UInt32 = {
            if case .dport? = reg { return 2 }; return UInt32(length ?? 0)
        }()
        guard let set, !masked, set.concatLengths.isEmpty, set.keyLength == width else { f.printed.cannotPrint("lookup @\(l.set)"); return }
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
            if let key = addressKey(t.family, f.nfproto, length ?? 0) {
                f.printed.add(.plain("\(key) saddr \(neg)\(r)"))
            } else {
                f.printed.cannotPrint("saddr lookup")
            }
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
