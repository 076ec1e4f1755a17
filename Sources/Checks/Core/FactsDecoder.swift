import HostModel

/// Walks one rule's expressions for `RuleFacts.decode`: what each register holds, and the matches and nft text that
/// follow from it. Anything it does not understand becomes `opaque` (and unprintable), never dropped.
struct FactsDecoder {
    typealias Loaded = RuleFacts.Loaded
    let t: Table
    var f: RuleFacts
    var regs: [UInt32: Loaded] = [:]
    var masks: [UInt32: Int] = [:]
    var lengths: [UInt32: Int] = [:]
    var ctMasks: [UInt32: UInt32] = [:]
    /// `tcp dport 6000-7000` is `cmp gte` then `cmp lte` on the same register.
    var lowerBound: (reg: UInt32, port: UInt16)?
    /// Registers holding an address under a mask that is not a prefix (no faithful nft text).
    var oddMask: Set<UInt32> = []

    init(table: Table, facts: RuleFacts) { t = table; f = facts }

    mutating func take(_ e: Expression) {
        switch e {
        case .meta(let m) where m.dreg != nil: meta(m)
        case .payload(let p) where p.dreg != nil: payload(p)
        case .ct(let ct) where ct.dreg != nil:
            regs[ct.dreg ?? 0] = ct.key == 0 ? .ctState : .other("ct key \(ct.key)")
        case .bitwise(let b): bitwise(b)
        case .cmp(let cmp): compare(cmp)
        case .range(let r):
            if case .dport? = regs[r.sreg], !r.inverted, r.from.bytes.count == 2, r.to.bytes.count == 2 {
                let a = UInt16(r.from.bytes[0]) << 8 | UInt16(r.from.bytes[1])
                let b = UInt16(r.to.bytes[0]) << 8 | UInt16(r.to.bytes[1])
                f.dports = [PortRange(first: a, last: b)]
                f.printed.add(.dport(RuleText.ports([PortRange(first: a, last: b)])))
            } else {
                f.opaque.append("range"); f.printed.cannotPrint("range")
            }
        case .lookup(let l) where l.dreg == nil: lookup(l)
        default: statement(e)
        }
    }

    mutating func finish() -> RuleFacts {
        if lowerBound != nil { f.opaque.append("dport gte"); f.printed.cannotPrint("dport gte") }
        return f
    }

    mutating func meta(_ m: Meta) {
        let d = m.dreg ?? 0
        switch m.key {
        case 16: regs[d] = .l4proto
        case 15: regs[d] = .nfproto
        case 6: regs[d] = .iifname
        case 4: regs[d] = .iif
        default: regs[d] = .other("meta key \(m.key)")
        }
    }

    mutating func payload(_ p: Payload) {
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
    }

    mutating func bitwise(_ b: Bitwise) {
        let plain = b.op == 0 && (b.xor?.bytes.allSatisfy { $0 == 0 } ?? true)
        if case .saddr = regs[b.sreg], let mask = b.mask {
            regs[b.dreg] = .saddr
            lengths[b.dreg] = lengths[b.sreg]
            masks[b.dreg] = mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
            if !plain || !RuleText.isPrefixMask(mask.bytes) { oddMask.insert(b.dreg) } else { oddMask.remove(b.dreg) }
        } else {
            regs[b.dreg] =
                regs[b.sreg].map { l -> Loaded in
                    if case .ctState = l { return .ctState }; return .other("bitwise")
                } ?? .other("bitwise")
            if case .ctState? = regs[b.dreg], plain, let m = b.mask?.bytes, m.count == 4 {
                ctMasks[b.dreg] = m.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            } else {
                ctMasks[b.dreg] = nil
            }
        }
    }

    mutating func compare(_ cmp: Cmp) {
        let data = cmp.data.bytes
        switch regs[cmp.sreg] {
        case .l4proto?, .ipProto?:
            if cmp.op == .eq, data.count == 1, let p = L4Proto.allCases.first(where: { $0.number == data[0] }) {
                f.proto = p
                let key =
                    regs[cmp.sreg].map {
                        if case .ipProto = $0 { return t.family == .ip6 ? "ip6 nexthdr" : "ip protocol" }; return "meta l4proto"
                    } ?? "meta l4proto"
                f.printed.add(.proto("\(key) \(p.rawValue)"))
            } else {
                f.opaque.append("l4proto \(cmp.op.rawValue)"); f.printed.cannotPrint("l4proto \(cmp.op.rawValue)")
            }
        case .nfproto?:
            if cmp.op == .eq, data.count == 1, data[0] == 2 || data[0] == 10 {
                f.nfproto = data[0] == 2 ? .ipv4 : .ipv6
                f.printed.add(.nfproto("meta nfproto \(data[0] == 2 ? "ipv4" : "ipv6")"))
            } else {
                f.opaque.append("nfproto"); f.printed.cannotPrint("nfproto")
            }
        case .dport?: comparePort(cmp, data)
        case .iifname?: compareInterfaceName(cmp, data)
        case .iif?: compareInterfaceIndex(cmp, data)
        case .saddr?: compareSource(cmp, data)
        case .ctState?: compareCtState(cmp, data)
        case .other(let what)?:
            f.opaque.append(what); f.printed.cannotPrint(what)
        case nil:
            f.opaque.append("cmp"); f.printed.cannotPrint("cmp")
        }
    }

    /// `dport N`, `dport != N`, and `dport A-B` (a `gte` then an `lte`).
    mutating func comparePort(_ cmp: Cmp, _ data: [UInt8]) {
        if data.count == 2 && (cmp.op == .gte || (cmp.op == .lte && lowerBound?.reg == cmp.sreg)) {
            let port = UInt16(data[0]) << 8 | UInt16(data[1])
            if cmp.op == .gte { lowerBound = (cmp.sreg, port); return }
            let low = lowerBound?.port ?? 0
            lowerBound = nil
            f.dports = [PortRange(first: low, last: port)]
            f.printed.add(.dport(RuleText.ports([PortRange(first: low, last: port)])))
            return
        }
        if cmp.op == .eq || cmp.op == .neq, data.count == 2 {
            let port = UInt16(data[0]) << 8 | UInt16(data[1])
            if cmp.op == .eq { f.dports = [PortRange(first: port, last: port)] } else { f.opaque.append("dport neq") }
            f.printed.add(.dport((cmp.op == .neq ? "!= " : "") + "\(port)"))
        } else {
            f.opaque.append("dport \(cmp.op.rawValue)"); f.printed.cannotPrint("dport \(cmp.op.rawValue)")
        }
    }

    mutating func compareInterfaceName(_ cmp: Cmp, _ data: [UInt8]) {
        let end = data.firstIndex(of: 0) ?? data.count
        let name = String(decoding: data[0..<end], as: UTF8.self) + (data.contains(0) ? "" : "*")
        if cmp.op == .eq || cmp.op == .neq, !name.contains("\"") {
            f.iifname = name; f.iifNegated = cmp.op == .neq
            f.printed.add(.plain("iifname \(cmp.op == .neq ? "!= " : "")\"\(name)\""))
        } else {
            f.opaque.append("iifname"); f.printed.cannotPrint("iifname \(cmp.op.rawValue)")
        }
    }

    mutating func compareInterfaceIndex(_ cmp: Cmp, _ data: [UInt8]) {
        // Index 1 is the loopback device in every network namespace; other indexes name interfaces this
        // decoder cannot name.
        f.opaque.append("iif")
        if cmp.op == .eq, data == [1, 0, 0, 0] {
            f.loopbackOnly = true
            f.printed.add(.plain("iif \"lo\""))
        } else {
            f.printed.cannotPrint("iif")
        }
    }

    mutating func compareSource(_ cmp: Cmp, _ data: [UInt8]) {
        let full = lengths[cmp.sreg] ?? data.count
        if cmp.op == .eq, data.count <= full, let a = IPAddress.fromBytes(data + [UInt8](repeating: 0, count: full - data.count)) {
            let len = min(masks[cmp.sreg] ?? data.count * 8, data.count * 8)
            f.sources = [len == full * 8 ? a.description : "\(a)/\(len)"]
            if let key = RuleFacts.addressKey(t.family, f.nfproto, full), !oddMask.contains(cmp.sreg) {
                f.printed.add(.plain("\(key) saddr \(f.sources?[0] ?? "")"))
            } else {
                f.printed.cannotPrint("saddr load")
            }
        } else {
            f.opaque.append("saddr \(cmp.op.rawValue)"); f.printed.cannotPrint("saddr \(cmp.op.rawValue)")
        }
    }

    mutating func compareCtState(_ cmp: Cmp, _ data: [UInt8]) {
        f.opaque.append("ct state")
        if cmp.op == .neq, data.allSatisfy({ $0 == 0 }), let m = ctMasks[cmp.sreg], let names = RuleText.ctStates(m) {
            f.printed.add(.plain("ct state \(names)"))
            if m & 8 == 0 && m & 64 == 0 { f.excludesNew = true }
        } else {
            f.printed.cannotPrint("ct state \(cmp.op.rawValue)")
        }
    }

    mutating func lookup(_ l: Lookup) {
        let set = t.set(named: l.set)
        if case .dport? = regs[l.sreg], !l.inverted, let set, !set.isDynamic, let ports = RuleFacts.portRanges(set) {
            f.dports = ports
        } else if case .saddr? = regs[l.sreg], !l.inverted, let set, set.isAnonymous, !set.isInterval {
            f.sources = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes)?.description }
        } else {
            f.opaque.append("@\(l.set)")
        }
        RuleFacts.printLookup(l, set, regs[l.sreg], lengths[l.sreg], masked: masks[l.sreg] != nil, table: t, into: &f)
    }

    /// Verdicts and statements.
    mutating func statement(_ e: Expression) {
        switch e {
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
            if let text = RuleText.reject(r, family: t.family) {
                f.printed.setVerdict(text)
            } else {
                f.printed.cannotPrint("reject type \(r.type) code \(r.code.map(String.init) ?? "-")")
                f.printed.setVerdict("reject")
            }
        case .counter:
            f.printed.add(.plain("counter"))
        case .log(let l):
            if let text = RuleText.log(l) { f.printed.add(.plain(text)) } else { f.printed.cannotPrint("log") }
        case .limit(let l):
            // Printable, but still opaque: a rule behind a limit is never called broad, shadowing or stale.
            f.opaque.append(e.name)
            f.printed.add(.plain(l.nftText))
        case .quota(let q):
            f.opaque.append(e.name)
            f.printed.add(.plain(q.nftText))
        default:
            f.opaque.append(e.name)
            f.printed.cannotPrint(e.name)
        }
    }
}
