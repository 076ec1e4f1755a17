internal import CNetfilter
import HostModel

/// Builds `[Table]` from nf_tables reply messages (NEWGEN, NEWTABLE, NEWCHAIN, NEWSET, NEWSETELEM, NEWRULE).
///
/// The live reader feeds it what the kernel sends, and tests replay recorded captures through it, so the same
/// decoding runs in both: libnftnl parses each object (`NftnlObjects`, `NftnlSets`, `NftnlRules`) and this type
/// files it under its table, chain or set. It also checks consistency: every message's `nfgenmsg.res_id` must match the generation
/// seen in the first NEWGEN, and every later NEWGEN must carry the same generation. It never throws for an
/// inconsistency (the reader retries instead); it throws only for bytes that do not parse.
public struct RulesetAssembler {
    /// The generation from the first NEWGEN.
    public private(set) var generation: UInt32?
    /// A message's res_id or a later NEWGEN disagreed with `generation`: the pass saw two rulesets.
    public private(set) var generationChanged = false
    /// An object referred to a table, chain or set that this pass has not seen (a concurrent change).
    public private(set) var sawOrphan = false

    private var tables: [Table] = []
    private var tableIndex: [ObjectKey: Int] = [:]
    private var chainIndex: [ObjectKey: (table: Int, chain: Int)] = [:]
    private var setIndex: [ObjectKey: (table: Int, set: Int)] = [:]

    /// The chains and sets seen so far, in dump order: what the reader asks rules and elements for.
    public private(set) var chainRefs: [ObjectRef] = []
    public private(set) var setRefs: [ObjectRef] = []

    public init() {}

    /// A chain or set, named by its table's family and name.
    public struct ObjectRef: Hashable, Sendable {
        public var family: UInt8
        public var table: String
        public var name: String
    }

    private struct ObjectKey: Hashable {
        var family: UInt8
        var table: String
        var name: String
    }

    /// The tables in kernel dump order, each with its chains, rules, sets and elements in kernel order.
    public var result: [Table] { tables }

    /// Whether nothing seen so far contradicts a single generation.
    public var isConsistent: Bool { !generationChanged && !sawOrphan }

    /// Consumes one reply message. Control messages (DONE, ERROR/ACK) and other subsystems are ignored.
    public mutating func consume(_ message: Message) throws {
        guard message.type >> 8 == NFT.subsystem else { return }
        let payload = message.payload
        guard payload.count >= 4 else { throw NetlinkError.malformed("nf_tables message without nfgenmsg") }
        let family = payload[0]
        let resID = UInt16(payload[2]) << 8 | UInt16(payload[3])
        let kind = message.type & 0xff
        if kind == NFT.newGen {
            try consumeGeneration(message)
            return
        }
        if let generation, resID != UInt16(truncatingIfNeeded: generation) { generationChanged = true }
        switch kind {
        case NFT.newTable: try consumeTable(family: family, message)
        case NFT.newChain: try consumeChain(family: family, message)
        case NFT.newSet: try consumeSet(family: family, message)
        case NFT.newSetElem: try consumeElements(family: family, message)
        case NFT.newRule: try consumeRule(family: family, message)
        default: break  // objects, flowtables: not part of the model yet
        }
    }

    /// Replays recorded datagrams (see `NetlinkRecorder`) through a fresh assembler.
    /// - Throws: `NetlinkError.kernel` for an error reply in the capture, `.malformed` for bytes that do not parse.
    public static func replay(_ datagrams: [[UInt8]]) throws -> RulesetAssembler {
        var assembler = RulesetAssembler()
        for d in datagrams {
            try d.withUnsafeBytes { raw in
                try forEachMessage(in: raw) { m in
                    if m.type == MessageKind.error.rawValue, m.payload.count >= 4 {
                        let code = m.payload.loadUnaligned(as: Int32.self)
                        if let error = NetlinkError.reply(code: code, request: "a recorded request") { throw error }
                    }
                    try assembler.consume(m)
                }
            }
        }
        return assembler
    }

    /// Takes what `other` (a copy of this assembler made after the table, chain and set lists) read for `request`:
    /// a set's elements or a chain's rules, and whether it saw a changed generation or an orphan.
    mutating func adopt(_ request: NftablesRequest, from other: RulesetAssembler) {
        generationChanged = generationChanged || other.generationChanged
        sawOrphan = sawOrphan || other.sawOrphan
        switch request {
        case .setElements(let family, let table, let set):
            guard let (ti, si) = setIndex[ObjectKey(family: family, table: table, name: set)] else { return }
            tables[ti].sets[si].elements = other.tables[ti].sets[si].elements
        case .chainRules(let family, let table, let chain):
            guard let (ti, ci) = chainIndex[ObjectKey(family: family, table: table, name: chain)] else { return }
            tables[ti].chains[ci].rules = other.tables[ti].chains[ci].rules
        case .allRules:
            for (ti, table) in tables.enumerated() {
                for ci in table.chains.indices { tables[ti].chains[ci].rules = other.tables[ti].chains[ci].rules }
            }
        case .generation, .tables, .chains, .sets:
            break
        }
    }

    // MARK: - Objects

    private mutating func consumeGeneration(_ message: Message) throws {
        let id = try NftnlObjects.generation(message)
        if let generation {
            if generation != id { generationChanged = true }
        } else {
            generation = id
        }
    }

    private mutating func consumeTable(family: UInt8, _ message: Message) throws {
        let info = try NftnlObjects.table(message)
        guard let fam = TableFamily(nfproto: family) else {
            throw NetlinkError.malformed("table \(info.name) has unknown family \(family)")
        }
        let key = ObjectKey(family: family, table: info.name, name: "")
        if tableIndex[key] != nil { sawOrphan = true; return }  // the same table twice: two passes mixed
        tableIndex[key] = tables.count
        tables.append(Table(family: fam, name: info.name, handle: info.handle, flags: info.flags))
    }

    private mutating func consumeChain(family: UInt8, _ message: Message) throws {
        let info = try NftnlObjects.chain(message)
        let (table, name) = (info.table, info.name)
        guard let ti = tableIndex[ObjectKey(family: family, table: table, name: "")] else { sawOrphan = true; return }
        var base: BaseChain?
        if let hook = info.hook {
            guard let h = Self.hook(family: family, number: hook.number) else {
                throw NetlinkError.malformed("chain \(table)/\(name): hook \(hook.number) unknown in family \(family)")
            }
            let pol: ChainPolicy
            switch hook.policy.map(Int32.init(bitPattern:)) {
            case nil, NF_ACCEPT?: pol = .accept
            case NF_DROP?: pol = .drop
            case let p?: throw NetlinkError.malformed("chain \(table)/\(name): unknown policy \(p)")
            }
            base = BaseChain(type: hook.type ?? "filter", hook: h, priority: hook.priority, policy: pol, devices: hook.devices)
        }
        let key = ObjectKey(family: family, table: table, name: name)
        if chainIndex[key] != nil { sawOrphan = true; return }
        chainIndex[key] = (ti, tables[ti].chains.count)
        tables[ti].chains.append(Chain(name: name, handle: info.handle, flags: info.flags, base: base))
        chainRefs.append(ObjectRef(family: family, table: table, name: name))
    }

    /// Hook numbers are per family: NF_INET_* for inet/ip/ip6/bridge, NF_NETDEV_* for netdev, NF_ARP_* for arp.
    static func hook(family: UInt8, number: UInt32) -> Hook? {
        switch Int32(family) {
        case Int32(NFPROTO_NETDEV):
            switch number {
            case NF_NETDEV_INGRESS.rawValue: return .ingress
            case NF_NETDEV_EGRESS.rawValue: return .egress
            default: return nil
            }
        case Int32(NFPROTO_ARP):
            switch Int32(number) {
            case NF_ARP_IN: return .input
            case NF_ARP_OUT: return .output
            case NF_ARP_FORWARD: return .forward
            default: return nil
            }
        default:
            switch number {
            case NF_INET_PRE_ROUTING.rawValue: return .prerouting
            case NF_INET_LOCAL_IN.rawValue: return .input
            case NF_INET_FORWARD.rawValue: return .forward
            case NF_INET_LOCAL_OUT.rawValue: return .output
            case NF_INET_POST_ROUTING.rawValue: return .postrouting
            case NF_INET_INGRESS.rawValue: return .ingress
            default: return nil
            }
        }
    }

    private mutating func consumeSet(family: UInt8, _ message: Message) throws {
        let (table, set) = try NftnlSets.set(message)
        guard let ti = tableIndex[ObjectKey(family: family, table: table, name: "")] else { sawOrphan = true; return }
        let key = ObjectKey(family: family, table: table, name: set.name)
        if setIndex[key] != nil { sawOrphan = true; return }
        setIndex[key] = (ti, tables[ti].sets.count)
        tables[ti].sets.append(set)
        setRefs.append(ObjectRef(family: family, table: table, name: set.name))
    }

    private mutating func consumeElements(family: UInt8, _ message: Message) throws {
        try NftnlSets.elements(message) { table, setName, fill in
            guard let (ti, si) = setIndex[ObjectKey(family: family, table: table, name: setName)] else { sawOrphan = true; return }
            fill(&tables[ti].sets[si].elements)
        }
    }

    private mutating func consumeRule(family: UInt8, _ message: Message) throws {
        let info = try NftnlRules.rule(message)
        guard let (ti, ci) = chainIndex[ObjectKey(family: family, table: info.table, name: info.chain)] else { sawOrphan = true; return }
        tables[ti].chains[ci].rules.append(info.rule)
    }
}
