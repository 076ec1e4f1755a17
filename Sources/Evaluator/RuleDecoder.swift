import HostModel

/// The one reader of rule expressions besides the machine itself (`execRule`): a single walk over a rule yields its
/// guard (necessary conditions for the machine's fast path) and, for rules of the input path, its `RuleMatch` with the
/// nft text, both from one reading of what each load puts in its register (`loaded`). Anything it does not understand
/// becomes `opaque` (and unprintable), never dropped.
struct RuleDecoder {
    /// What a register holds, as far as the decoder follows it. Other contents keep what named them, and are put
    /// into words only when a match on them is recorded as opaque.
    enum Loaded {
        case l4proto, nfproto, ipProto, dport, saddr, iifname, iif, ctState
        case meta(UInt32)
        case payload(PayloadBase, UInt32, UInt32)
        case ct(UInt32)
        case bitwise, immediate

        /// The name of an opaque match on this register.
        var text: String {
            switch self {
            case .meta(let key): "meta key \(key)"
            case .payload(let base, let offset, let length): "payload \(base.rawValue) +\(offset)/\(length)"
            case .ct(let key): "ct key \(key)"
            case .bitwise: "bitwise"
            case .immediate: "immediate"
            case .l4proto, .nfproto, .ipProto, .dport, .saddr, .iifname, .iif, .ctState: "cmp"
            }
        }
    }

    let t: Table
    var f: RuleMatch
    var regs: [UInt32: Loaded] = [:]
    var masks: [UInt32: Int] = [:]
    var lengths: [UInt32: Int] = [:]
    var ctMasks: [UInt32: UInt32] = [:]
    /// `tcp dport 6000-7000` is `cmp gte` then `cmp lte` on the same register.
    var lowerBound: (reg: UInt32, port: UInt16)?
    /// Registers holding an address under a mask that is not a prefix (no faithful nft text).
    var oddMask: Set<UInt32> = []
    var guardState = GuardState()

    /// The guard under construction: compares that directly follow a load of a guard field, up to the first
    /// expression with an effect (after it, a compare is no longer a condition on the packet as it arrived).
    struct GuardState {
        var result = RuleGuard()
        var open: (field: RuleGuard.Field, reg: UInt32, len: Int)?
        var stopped = false
    }

    /// A decoder for the rules of `t`; one is reused across them, so its tables are allocated once.
    init(table t: Table) {
        self.t = t
        f = RuleMatch(family: t.family, table: t.name, chain: "", handle: 0)
    }

    /// The guard of any rule, and the match of a rule of the input path (`describes`).
    mutating func decode(_ rule: Rule, chain c: Chain, index: Int, describes: Bool) -> (RuleGuard, RuleMatch?) {
        guardState = GuardState()
        guard describes else {
            // The guard alone reads each load where it stands: no register tables to reset.
            for e in rule.expressions { guardStep(e) }
            return (guardState.result, nil)
        }
        regs.removeAll(keepingCapacity: true)
        masks.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        ctMasks.removeAll(keepingCapacity: true)
        oddMask.removeAll(keepingCapacity: true)
        lowerBound = nil
        f = RuleMatch(
            family: t.family, table: t.name, chain: c.name, hook: c.base?.hook, chainPolicy: c.base?.policy,
            handle: rule.handle, index: index)
        for e in rule.expressions { take(e) }
        if let comment = rule.comment { f.printed.setComment(comment) }
        return (guardState.result, finish())
    }

    mutating func take(_ e: Expression) {
        guardStep(e)
        track(e)
        switch e {
        case .meta(let m) where m.dreg != nil: break
        case .payload(let p) where p.dreg != nil: break
        case .ct(let ct) where ct.dreg != nil: break
        case .bitwise: break
        case .cmp(let cmp): compare(cmp)
        case .range(let r): range(r)
        case .lookup(let l) where l.dreg == nil: lookup(l)
        default: statement(e)
        }
    }

    mutating func finish() -> RuleMatch {
        if lowerBound != nil { f.opaque.append("dport gte"); f.printed.cannotPrint("dport gte") }
        return f
    }

    // MARK: registers

    /// Register contents after `e`: loads, masks, and immediates written to a data register.
    mutating func track(_ e: Expression) {
        switch e {
        case .meta(let m) where m.dreg != nil: meta(m)
        case .payload(let p) where p.dreg != nil: payload(p)
        case .ct(let ct) where ct.dreg != nil:
            regs[ct.dreg ?? 0] = ct.key == 0 ? .ctState : .ct(ct.key)
        case .bitwise(let b): bitwise(b)
        case .immediate(let im) where im.dreg != 0: regs[im.dreg] = .immediate
        default: break
        }
    }

    /// What a meta load puts in its register.
    func loaded(_ m: Meta) -> Loaded {
        switch m.key {
        case 16: .l4proto
        case 15: .nfproto
        case 6: .iifname
        case 4: .iif
        default: .meta(m.key)
        }
    }

    /// What a payload load puts in its register (a source address: 4 or 16 bytes from the IPv4 or IPv6 offset).
    func loaded(_ p: Payload) -> Loaded {
        switch (p.base, p.offset, p.length) {
        case (.transport, 2, 2): .dport
        case (.network, 9, 1) where t.family == .ip: .ipProto
        case (.network, 6, 1) where t.family == .ip6: .ipProto
        case (.network, 12, 1...4) where t.family == .ip || (t.family == .inet && f.nfproto != .ipv6): .saddr
        case (.network, 8, 1...16) where t.family == .ip6 || (t.family == .inet && f.nfproto == .ipv6): .saddr
        default: .payload(p.base, p.offset, p.length)
        }
    }

    mutating func meta(_ m: Meta) { regs[m.dreg ?? 0] = loaded(m) }

    mutating func payload(_ p: Payload) {
        let d = p.dreg ?? 0
        oddMask.remove(d)
        let l = loaded(p)
        regs[d] = l
        if case .saddr = l { lengths[d] = p.offset == 12 ? 4 : 16 }
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
                    if case .ctState = l { return .ctState }; return .bitwise
                } ?? .bitwise
            if case .ctState? = regs[b.dreg], plain, let m = b.mask?.bytes, m.count == 4 {
                ctMasks[b.dreg] = m.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            } else {
                ctMasks[b.dreg] = nil
            }
        }
    }

    // MARK: guard

    /// The guard field a load fills, by the same reading of loads as the rule's match (`loaded`).
    func guardField(_ e: Expression) -> (field: RuleGuard.Field, reg: UInt32, len: Int)? {
        switch e {
        case .meta(let m) where m.dreg != nil:
            let d = m.dreg ?? 0
            switch loaded(m) {
            case .l4proto: return (.l4proto, d, 1)
            case .nfproto where t.family != .netdev: return (.nfproto, d, 1)
            case .iifname: return (.iifname, d, 16)
            case .iif: return (.iif, d, 4)
            default: return nil
            }
        case .payload(let p) where p.dreg != nil:
            let d = p.dreg ?? 0
            if case .dport = loaded(p) { return (.dport, d, 2) }
            // The IPv4 destination, only where the packet is known to be IPv4 (an `ip` table, or after `meta nfproto ipv4`).
            let ipv4 = t.family == .ip || guardState.result.tests.contains { $0.field == .nfproto && $0.op == 0 && $0.len == 1 && $0.a == 2 << 56 }
            if p.base == .network && p.offset == 16 && p.length == 4 && ipv4 { return (.daddr4, d, 4) }
            return nil
        default:
            return nil
        }
    }

    mutating func guardStep(_ e: Expression) {
        guard !guardState.stopped else { return }
        if let o = guardState.open {
            if case .cmp(let c) = e, c.sreg == o.reg, c.data.bytes.count <= o.len, !c.data.bytes.isEmpty {
                if o.field == .iifname {
                    guardState.result.names.append(RuleGuard.NameTest(op: c.op, data: c.data.bytes))
                } else {
                    let b = c.data.bytes
                    guardState.result.tests.append(
                        RuleGuard.Test(field: o.field, op: RuleGuard.opCode(c.op), len: UInt8(b.count), a: RuleGuard.pack(b), b: 0))
                }
                return
            }
            if case .range(let rg) = e, rg.sreg == o.reg, rg.from.bytes.count <= o.len, rg.from.bytes.count == rg.to.bytes.count,
                !rg.from.bytes.isEmpty, o.field != .iifname
            {
                guardState.result.tests.append(
                    RuleGuard.Test(
                        field: o.field, op: rg.inverted ? 7 : 6, len: UInt8(rg.from.bytes.count),
                        a: RuleGuard.pack(rg.from.bytes), b: RuleGuard.pack(rg.to.bytes)))
                return
            }
            guardState.open = nil
        }
        if let g = guardField(e) {
            guardState.open = g
        } else if Walker.hasEffect(e) {
            // Any other pure match can be stepped over: a guard is one conjunct of the rule, wherever it sits.
            guardState.stopped = true
        }
    }
}
