import HostModel

/// What one rule of the input path matches and decides, as the evaluator's compile step reads it: the typed facts
/// checks reason about (coverage, shadowing, what a deletion opens or closes), so no check decodes expressions. Matches
/// the decoder does not understand are kept in `opaque` (never dropped), and a rule with opaque matches is never called
/// broad, shadowing or stale.
public struct RuleMatch: Sendable, Equatable {
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
    /// Source prefixes matched; nil means any source. A named set is not expanded: it stays in `opaque` as `@name`.
    public var sources: [CIDR]?
    /// The input interface matched by name (`iifname`); nil means any interface.
    public var interface: InterfaceMatch?
    /// `meta nfproto` in an inet table.
    public var nfproto: IPFamily?
    /// Matches not decoded (ct state, marks, limits, sets that are not port sets, …), by name.
    public var opaque: [String]
    public var verdict: RuleVerdict
    /// A `ct state` match that excludes `new`: the rule never matches a new connection.
    public var excludesNew = false
    /// `iif "lo"`: the rule matches only traffic from the host itself.
    public var loopbackOnly = false
    /// The rule's nft text, built from every expression (see `nft`).
    public var printed = RuleText()

    public init(
        family: TableFamily, table: String, chain: String, hook: Hook? = nil, chainPolicy: ChainPolicy? = nil, handle: UInt64,
        index: Int = 0, proto: L4Proto? = nil, dports: [PortRange]? = nil, sources: [CIDR]? = nil,
        interface: InterfaceMatch? = nil, nfproto: IPFamily? = nil, opaque: [String] = [], verdict: RuleVerdict = .none
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
        self.interface = interface
        self.nfproto = nfproto
        self.opaque = opaque
        self.verdict = verdict
    }

    /// Whether the rule ends the packet's walk in its base chain for good or for the chain (accept, drop, reject).
    public var isTerminal: Bool { verdict == .accept || verdict == .drop || verdict == .reject }
    /// Matches every new packet on the interfaces it names (no port, source, protocol or opaque match).
    public var matchesAnyTraffic: Bool { proto == nil && dports == nil && sources == nil && opaque.isEmpty && nfproto == nil }
    /// `iifname "lo"`: only the host's own traffic.
    public var isLoopbackName: Bool { interface == InterfaceMatch(name: "lo", negated: false) }

    /// The source prefixes as text: a host prefix as its bare address (`192.0.2.7`), others as `a/len`.
    public var sourceTexts: [String]? { sources?.map(RuleMatch.text) }

    static func text(_ c: CIDR) -> String {
        c.prefixLength == (c.family == .ipv4 ? 32 : 128) ? c.address.description : c.description
    }

    /// The rule in nft syntax (`ip saddr @admins tcp dport 5432 accept`), valid after `nft add rule FAMILY TABLE CHAIN`;
    /// nil when some expression has no faithful nft form. Quote only this as nft.
    public var nft: String? { printed.nft(proto: proto) }

    /// For messages: the nft text in backquotes, or a description in words when the rule cannot be printed as nft.
    public var text: String { nft.map { "`\($0)`" } ?? printed.description(proto: proto) }

    /// Whether every packet this rule matches is also matched by `earlier` (both decoded fully).
    public func isCovered(by earlier: RuleMatch) -> Bool {
        guard earlier.opaque.isEmpty else { return false }
        if let p = earlier.proto, p != proto { return false }
        if let f = earlier.nfproto, f != nfproto { return false }
        if let i = earlier.interface, i != interface { return false }
        if let s = earlier.sources, s != sources ?? [] { return false }
        if let ed = earlier.dports {
            guard let d = dports else { return false }
            for r in d where !ed.contains(where: { $0.first <= r.first && r.last <= $0.last }) { return false }
        }
        return true
    }
}

/// A rule's verdict: what happens when every match holds. `none` is a rule without one (a counter, a log).
public enum RuleVerdict: Sendable, Equatable, CustomStringConvertible {
    case none, accept, drop, reject, `return`
    case jump(String)
    case goto(String)
    /// Whatever the verdict map (the set named) gives the packet: any verdict, accept included.
    case map(String)
    /// Any other verdict (`continue`, `queue`, …), by its nft name.
    case other(String)

    init(_ v: Verdict?) {
        switch v {
        case nil: self = RuleVerdict.none
        case .accept?: self = .accept
        case .drop?: self = .drop
        case .return?: self = .return
        case .jump(let c)?: self = .jump(c)
        case .goto(let c)?: self = .goto(c)
        case let other?: self = .other(other.description)
        }
    }

    /// The verdict of a chain policy.
    public init(_ p: ChainPolicy) { self = p == .accept ? .accept : .drop }

    /// The nft word(s): `accept`, `jump web`; empty for `none`.
    public var description: String {
        switch self {
        case .none: ""
        case .accept: "accept"
        case .drop: "drop"
        case .reject: "reject"
        case .return: "return"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        case .map(let set): "vmap @\(set)"
        case .other(let s): s
        }
    }
}

/// An `iifname` match: a name (with a trailing `*` for nft's prefix wildcard, `eth*`), possibly negated.
public struct InterfaceMatch: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var negated: Bool

    public init(name: String, negated: Bool) {
        self.name = name
        self.negated = negated
    }

    /// Whether the name is a prefix wildcard (`eth*`), as nft writes a name compared without its terminating zero.
    public var isPrefix: Bool { name.hasSuffix("*") }

    /// The interface name as nft prints it (`eth0`, `veth*`), without the negation.
    public var description: String { name }
}
