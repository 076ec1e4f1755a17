import HostModel

/// Builds `[Table]` from nf_tables reply messages (NEWGEN, NEWTABLE, NEWCHAIN, NEWSET, NEWSETELEM, NEWRULE).
///
/// The live reader feeds it what the kernel sends, and tests replay recorded captures through it, so the same
/// decoding runs in both. It also checks consistency: every message's `nfgenmsg.res_id` must match the generation
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
        let attrs = UnsafeRawBufferPointer(rebasing: payload[4...])
        let kind = message.type & 0xff
        if kind == NFT.newGen {
            try consumeGeneration(attrs)
            return
        }
        if let generation, resID != UInt16(truncatingIfNeeded: generation) { generationChanged = true }
        switch kind {
        case NFT.newTable: try consumeTable(family: family, attrs)
        case NFT.newChain: try consumeChain(family: family, attrs)
        case NFT.newSet: try consumeSet(family: family, attrs)
        case NFT.newSetElem: try consumeElements(family: family, attrs)
        case NFT.newRule: try consumeRule(family: family, attrs)
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

    // MARK: - Objects

    private mutating func consumeGeneration(_ attrs: UnsafeRawBufferPointer) throws {
        var id: UInt32?
        try forEachAttribute(attrs) { t, v in if t == NFTA.genID { id = try Wire.be32(v) } }
        guard let id else { throw NetlinkError.malformed("NEWGEN without NFTA_GEN_ID") }
        if let generation {
            if generation != id { generationChanged = true }
        } else {
            generation = id
        }
    }

    private mutating func consumeTable(family: UInt8, _ attrs: UnsafeRawBufferPointer) throws {
        var name: String?, flags: UInt32 = 0, handle: UInt64 = 0
        try forEachAttribute(attrs) { t, v in
            switch t {
            case NFTA.Table.name: name = Wire.string(v)
            case NFTA.Table.flags: flags = try Wire.be32(v)
            case NFTA.Table.handle: handle = try Wire.be64(v)
            default: break
            }
        }
        guard let name else { throw NetlinkError.malformed("table without a name") }
        guard let fam = TableFamily(nfproto: family) else {
            throw NetlinkError.malformed("table \(name) has unknown family \(family)")
        }
        let key = ObjectKey(family: family, table: name, name: "")
        if tableIndex[key] != nil { sawOrphan = true; return }  // the same table twice: two passes mixed
        tableIndex[key] = tables.count
        tables.append(Table(family: fam, name: name, handle: handle, flags: flags))
    }

    private mutating func consumeChain(family: UInt8, _ attrs: UnsafeRawBufferPointer) throws {
        var table: String?, name: String?, handle: UInt64 = 0, flags: UInt32 = 0, policy: UInt32?, type: String?
        var hook: (num: UInt32, prio: Int32, devices: [String])?
        try forEachAttribute(attrs) { t, v in
            switch t {
            case NFTA.Chain.table: table = Wire.string(v)
            case NFTA.Chain.name: name = Wire.string(v)
            case NFTA.Chain.handle: handle = try Wire.be64(v)
            case NFTA.Chain.flags: flags = try Wire.be32(v)
            case NFTA.Chain.policy: policy = try Wire.be32(v)
            case NFTA.Chain.type: type = Wire.string(v)
            case NFTA.Chain.hook: hook = try Self.decodeHook(v)
            default: break
            }
        }
        guard let table, let name else { throw NetlinkError.malformed("chain without table or name") }
        guard let ti = tableIndex[ObjectKey(family: family, table: table, name: "")] else { sawOrphan = true; return }
        var base: BaseChain?
        if let hook {
            guard let h = Self.hook(family: family, number: hook.num) else {
                throw NetlinkError.malformed("chain \(table)/\(name): hook \(hook.num) unknown in family \(family)")
            }
            let pol: ChainPolicy
            switch policy {
            case nil, 1: pol = .accept
            case 0: pol = .drop
            case let p?: throw NetlinkError.malformed("chain \(table)/\(name): unknown policy \(p)")
            }
            base = BaseChain(type: type ?? "filter", hook: h, priority: hook.prio, policy: pol, devices: hook.devices)
        }
        let key = ObjectKey(family: family, table: table, name: name)
        if chainIndex[key] != nil { sawOrphan = true; return }
        chainIndex[key] = (ti, tables[ti].chains.count)
        tables[ti].chains.append(Chain(name: name, handle: handle, flags: flags, base: base))
        chainRefs.append(ObjectRef(family: family, table: table, name: name))
    }

    private static func decodeHook(_ v: UnsafeRawBufferPointer) throws -> (num: UInt32, prio: Int32, devices: [String]) {
        var num: UInt32?, prio: Int32 = 0, single: String?, devices: [String] = []
        try forEachAttribute(v) { t, inner in
            switch t {
            case NFTA.Hook.hooknum: num = try Wire.be32(inner)
            case NFTA.Hook.priority: prio = Int32(bitPattern: try Wire.be32(inner))
            case NFTA.Hook.dev: single = Wire.string(inner)
            case NFTA.Hook.devs:
                try forEachAttribute(inner) { dt, dv in if dt == NFTA.deviceName { devices.append(Wire.string(dv)) } }
            default: break
            }
        }
        guard let num else { throw NetlinkError.malformed("chain hook without a hook number") }
        if let single, !devices.contains(single) { devices.insert(single, at: 0) }
        return (num, prio, devices)
    }

    /// Hook numbers are per family: NF_INET_* for inet/ip/ip6/bridge, NF_NETDEV_* for netdev, NF_ARP_* for arp.
    static func hook(family: UInt8, number: UInt32) -> Hook? {
        switch family {
        case 5:  // netdev
            switch number {
            case 0: return .ingress;
            case 1: return .egress;
            default: return nil
            }
        case 3:  // arp: NF_ARP_IN, NF_ARP_OUT, NF_ARP_FORWARD
            switch number {
            case 0: return .input;
            case 1: return .output;
            case 2: return .forward;
            default: return nil
            }
        default:
            switch number {
            case 0: return .prerouting
            case 1: return .input
            case 2: return .forward
            case 3: return .output
            case 4: return .postrouting
            case 5: return .ingress
            default: return nil
            }
        }
    }

    private mutating func consumeSet(family: UInt8, _ attrs: UnsafeRawBufferPointer) throws {
        var table: String?, name: String?
        var set = NFTSet(name: "")
        try forEachAttribute(attrs) { t, v in
            switch t {
            case NFTA.Set.table: table = Wire.string(v)
            case NFTA.Set.name: name = Wire.string(v)
            case NFTA.Set.handle: set.handle = try Wire.be64(v)
            case NFTA.Set.flags: set.flags = try Wire.be32(v)
            case NFTA.Set.keyType: set.keyType = try Wire.be32(v)
            case NFTA.Set.keyLen: set.keyLength = try Wire.be32(v)
            case NFTA.Set.dataType: set.dataType = try Wire.be32(v)
            case NFTA.Set.dataLen: set.dataLength = try Wire.be32(v)
            case NFTA.Set.objType: set.objectType = try Wire.be32(v)
            case NFTA.Set.desc:
                try forEachAttribute(v) { dt, dv in
                    guard dt == NFTA.SetDesc.concat else { return }
                    try forEachAttribute(dv) { _, field in
                        try forEachAttribute(field) { ft, fv in
                            if ft == NFTA.setFieldLen { set.concatLengths.append(try Wire.be32(fv)) }
                        }
                    }
                }
            case NFTA.Set.userdata: set.keyByteOrder = Self.keyByteOrder(v)
            default: break
            }
        }
        guard let table, let name else { throw NetlinkError.malformed("set without table or name") }
        set.name = name
        guard let ti = tableIndex[ObjectKey(family: family, table: table, name: "")] else { sawOrphan = true; return }
        let key = ObjectKey(family: family, table: table, name: name)
        if setIndex[key] != nil { sawOrphan = true; return }
        setIndex[key] = (ti, tables[ti].sets.count)
        tables[ti].sets.append(set)
        setRefs.append(ObjectRef(family: family, table: table, name: name))
    }

    /// libnftnl set user data: TLVs `{u8 type, u8 len, value}`; type 0 (KEYBYTEORDER) is a host-order u32, 1 host, 2 big.
    static func keyByteOrder(_ v: UnsafeRawBufferPointer) -> String? {
        var i = 0
        while i + 2 <= v.count {
            let type = v[i], len = Int(v[i + 1])
            guard i + 2 + len <= v.count else { return nil }
            if type == 0, len == 4 {
                switch v.loadUnaligned(fromByteOffset: i + 2, as: UInt32.self) {
                case 1: return "host"
                case 2: return "big"
                default: return nil
                }
            }
            i += 2 + len
        }
        return nil
    }

    /// libnftnl rule user data: TLVs; type 0 (NFTNL_UDATA_RULE_COMMENT) is a NUL-terminated string.
    static func ruleComment(_ v: UnsafeRawBufferPointer) -> String? {
        var i = 0
        while i + 2 <= v.count {
            let type = v[i], len = Int(v[i + 1])
            guard i + 2 + len <= v.count else { return nil }
            if type == 0 { return Wire.string(UnsafeRawBufferPointer(rebasing: v[(i + 2)..<(i + 2 + len)])) }
            i += 2 + len
        }
        return nil
    }

    private mutating func consumeElements(family: UInt8, _ attrs: UnsafeRawBufferPointer) throws {
        var table: String?, setName: String?
        var list: UnsafeRawBufferPointer?
        try forEachAttribute(attrs) { t, v in
            switch t {
            case NFTA.SetElemList.table: table = Wire.string(v)
            case NFTA.SetElemList.set: setName = Wire.string(v)
            case NFTA.SetElemList.elements: list = v
            default: break
            }
        }
        guard let table, let setName else { throw NetlinkError.malformed("set element message without table or set") }
        guard let (ti, si) = setIndex[ObjectKey(family: family, table: table, name: setName)] else { sawOrphan = true; return }
        guard let list else { return }
        try forEachAttribute(list) { _, elem in
            var key: [UInt8]?, keyEnd: [UInt8]?, flags: UInt32 = 0, verdict: Verdict?, data: [UInt8]?, objref: String?
            try forEachAttribute(elem) { t, v in
                switch t {
                case NFTA.SetElem.key: key = try Wire.dataBytes(v)
                case NFTA.SetElem.keyEnd: keyEnd = try Wire.dataBytes(v)
                case NFTA.SetElem.flags: flags = try Wire.be32(v)
                case NFTA.SetElem.objref: objref = Wire.string(v)
                case NFTA.SetElem.data:
                    switch try Wire.data(v) {
                    case .value(let b): data = b
                    case .verdict(let vd): verdict = vd
                    }
                default: break  // timeouts, expiration, per-element expressions and user data
                }
            }
            // A catch-all element (flag 2) has no key.
            let element = SetElement(
                key: Bytes(key ?? []), keyEnd: keyEnd.map(Bytes.init), flags: flags,
                verdict: verdict, data: data.map(Bytes.init), objref: objref)
            tables[ti].sets[si].elements.append(element)
        }
    }

    private mutating func consumeRule(family: UInt8, _ attrs: UnsafeRawBufferPointer) throws {
        var table: String?, chain: String?, handle: UInt64?, comment: String?
        var expressions: [Expression] = []
        try forEachAttribute(attrs) { t, v in
            switch t {
            case NFTA.Rule.table: table = Wire.string(v)
            case NFTA.Rule.chain: chain = Wire.string(v)
            case NFTA.Rule.handle: handle = try Wire.be64(v)
            case NFTA.Rule.userdata: comment = Self.ruleComment(v)
            case NFTA.Rule.expressions:
                try forEachAttribute(v) { _, e in
                    var name: String?, data: UnsafeRawBufferPointer?
                    try forEachAttribute(e) { et, ev in
                        switch et {
                        case NFTA.Expr.name: name = Wire.string(ev)
                        case NFTA.Expr.data: data = ev
                        default: break
                        }
                    }
                    guard let name else { throw NetlinkError.malformed("expression without a name") }
                    expressions.append(try ExpressionDecoder.decode(name: name, data: data ?? UnsafeRawBufferPointer(start: nil, count: 0)))
                }
            default: break
            }
        }
        guard let table, let chain, let handle else { throw NetlinkError.malformed("rule without table, chain or handle") }
        guard let (ti, ci) = chainIndex[ObjectKey(family: family, table: table, name: chain)] else { sawOrphan = true; return }
        tables[ti].chains[ci].rules.append(Rule(handle: handle, expressions: expressions, comment: comment))
    }
}
