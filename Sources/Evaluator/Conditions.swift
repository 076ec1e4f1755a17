import HostModel

/// The result of a match: decided concretely, depending on the source address (the matching part of the space),
/// or undecidable from the snapshot.
enum Cond {
    case bool(Bool)
    case region(AddressSet)
    case unknown(String)
}

/// Memoized source-address partitions of set lookups, shared by all questions of one exposure run.
final class SymbolicCache {
    var lookups: [String: SymbolicPieces] = [:]

    /// Set operations already computed, keyed by the identity of their (interned) operands. Questions that differ
    /// only in port or destination repeat the same operations on the same large sets (a deny list against the
    /// region left after the martian drop): each is computed once and every later walk gets the same shared copy.
    struct OpKey: Hashable {
        var op: UInt8
        var family: IPFamily
        var a: SetIdentity
        var b: SetIdentity
    }
    /// Results by operand identities (which hold their operands' storage, so a key is never reused for other sets).
    var ops: [OpKey: AddressSet] = [:]
    let interner = SetInterner()

    /// The shared copy of a set equal to `s`.
    func intern(_ s: AddressSet) -> AddressSet { interner.intern(s) }

    func op(_ code: UInt8, _ a0: AddressSet, _ b0: AddressSet, _ f: (AddressSet, AddressSet) -> AddressSet) -> AddressSet {
        // Small operands (rule prefixes, martian ranges) are built anew by each walk: intern them so they match.
        let a = a0.rangeCount <= 64 ? intern(a0) : a0
        let b = b0.rangeCount <= 64 ? intern(b0) : b0
        let k = OpKey(op: code, family: a.family, a: SetIdentity(a), b: SetIdentity(b))
        if let hit = ops[k] { return hit }
        let r = intern(f(a, b))
        ops[k] = r
        return r
    }
}

/// A lookup's source-address partition: per element (or outcome group), and the union of all matches.
struct SymbolicPieces {
    var pieces: [(AddressSet, Int?)]
    var union: AddressSet
}

/// A test on the source address as the kernel computes it: `n` bytes starting at address byte `start`, under a
/// prefix mask of `bits` bits (iptables-nft and nft load whole or shortened addresses and mask the rest away).
struct SymField {
    var family: IPFamily
    var n: Int
    var bits: Int
    /// Address byte the load starts at: 0 for every load nft and iptables-nft emit; a later start repeats the
    /// tested pattern under each value of the leading bytes (bounded by `Walker.operand`).
    var start: Int = 0

    /// Width in bits of the address part from `start` on: the space the field's intervals are computed in.
    var width: Int { (family == .ipv4 ? 32 : 128) - 8 * start }

    static func lowMask(_ k: Int) -> UInt128 { k >= 128 ? .max : (k <= 0 ? 0 : (UInt128(1) << k) - 1) }

    /// The addresses whose part from `start` on lies in `r`; the leading bytes are free.
    func lift(_ r: ClosedRange<UInt128>?) -> AddressSet {
        guard let r else { return AddressSet(family: family) }
        if start == 0 { return AddressSet(family: family, sorted: [r]) }
        if r.lowerBound == 0 && r.upperBound == SymField.lowMask(width) { return AddressSet.full(family) }
        var out: [ClosedRange<UInt128>] = []
        let copies = 1 << (8 * start)
        out.reserveCapacity(copies)
        for h in 0..<copies {
            let base = UInt128(h) << width
            out.append((base + r.lowerBound)...(base + r.upperBound))
        }
        return AddressSet(family: family, sorted: out)
    }

    /// The range (within `width`) whose masked field is >= `d` (an n-byte big-endian constant).
    private func geRange(_ d: UInt128) -> ClosedRange<UInt128>? {
        let s = 8 * n - bits
        let maxQ = SymField.lowMask(bits)
        let (q, r) = s >= 128 ? (UInt128(0), d) : (d >> s, d & SymField.lowMask(s))
        if r != 0 && q == maxQ { return nil }
        let c = r == 0 ? q : q + 1
        if c > maxQ { return nil }
        let lo = width - bits >= 128 ? 0 : c << (width - bits)
        return lo...SymField.lowMask(width)
    }

    /// The range (within `width`) whose masked field is <= `d`.
    private func leRange(_ d: UInt128) -> ClosedRange<UInt128> {
        let s = 8 * n - bits
        let f = s >= 128 ? 0 : d >> s
        let q = min(f, SymField.lowMask(bits))
        let hi = (width - bits >= 128 ? 0 : q << (width - bits)) | SymField.lowMask(width - bits)
        return 0...min(hi, SymField.lowMask(width))
    }

    /// Addresses whose masked field is >= `d`.
    func ge(_ d: UInt128) -> AddressSet { lift(geRange(d)) }

    /// Addresses whose masked field is <= `d`.
    func le(_ d: UInt128) -> AddressSet { lift(leRange(d)) }

    /// Addresses whose masked field is within [lo, hi].
    func within(_ lo: UInt128, _ hi: UInt128) -> AddressSet {
        guard let a = geRange(lo) else { return AddressSet(family: family) }
        let b = leRange(hi)
        let l = max(a.lowerBound, b.lowerBound), u = min(a.upperBound, b.upperBound)
        return l <= u ? lift(l...u) : AddressSet(family: family)
    }

    func eq(_ d: UInt128) -> AddressSet { within(d, d) }

    /// Matching addresses for `op` against the constant.
    func set(_ op: CmpOp, _ d: UInt128) -> AddressSet {
        switch op {
        case .eq: eq(d)
        case .neq: eq(d).complement()
        case .lt: ge(d).complement()
        case .lte: le(d)
        case .gt: le(d).complement()
        case .gte: ge(d)
        }
    }
}

/// A value, or why it could not be computed.
enum Outcome<T> {
    case success(T)
    case failure(String)
}

func bigEndianValue(_ b: ArraySlice<UInt8>) -> UInt128 { addressValue(b) }

/// memcmp of `a` against `b` over b.count bytes.
@inline(__always) func memcmpBytes(_ a: [UInt8], _ off: Int, _ b: [UInt8]) -> Int {
    for i in 0..<b.count {
        let x = a[off + i], y = b[i]
        if x != y { return x < y ? -1 : 1 }
    }
    return 0
}

extension Walker {
    /// Classifies the register bytes [off, off+n): concrete, a source-address field, or unknown.
    func operand(_ t: EvalThread, _ off: Int, _ n: Int) -> Outcome<SymField?> {
        var anySym = false
        for i in 0..<n {
            let tag = t.tags[off + i]
            if tag.kind == 2 { return .failure(Walker.reasonTable[Int(tag.index)]) }
            if tag.kind == 1 { anySym = true }
        }
        if !anySym { return .success(Optional<SymField>.none) }
        // The field must be consecutive source-address bytes (from any byte on) under a prefix mask: leading ones,
        // then zeros; bytes masked to zero keep their source tag (iptables-nft masks a full-length load).
        let first = t.tags[off]
        guard first.kind == 1 else { return .failure("unsupported test on the source address") }
        let start = Int(first.index)
        var bits = 0
        var ended = false
        for i in 0..<n {
            let tag = t.tags[off + i]
            guard tag.kind == 1, Int(tag.index) == start + i, tag.xor == 0 else {
                if tag.kind == 0 && ended && t.regs[off + i] == 0 { continue }
                return .failure("unsupported test on the source address")
            }
            let m = tag.mask
            if ended { if m != 0 { return .failure("non-prefix mask on the source address") }; continue }
            let ones = m.leadingZeroBitCount == 0 ? (~m).leadingZeroBitCount : 0
            if m != 0 && (m << ones) != 0 { return .failure("non-prefix mask on the source address") }
            bits += ones
            if ones < 8 { ended = true }
        }
        let fam = t.pkt.family
        if 8 * (start + n) > (fam == .ipv4 ? 32 : 128) { return .failure("unsupported test on the source address") }
        // A test on later bytes alone repeats for every value of the leading ones: keep that to 256 copies.
        if start > 1 && bits > 0 { return .failure("test on the middle of the source address") }
        return .success(SymField(family: fam, n: n, bits: bits, start: start))
    }

    func compare(_ t: EvalThread, _ c: Cmp) -> Cond {
        guard let off = regOffset(c.sreg) else { return .bool(false) }
        let data = c.data.bytes
        guard off + data.count <= EvalThread.registerBytes else { return .bool(false) }
        switch operand(t, off, data.count) {
        case .failure(let why): return .unknown(why)
        case .success(let sym?):
            return .region(sym.set(c.op, bigEndianValue(data[...])))
        case .success(nil):
            let r = memcmpBytes(t.regs, off, data)
            switch c.op {
            case .eq: return .bool(r == 0)
            case .neq: return .bool(r != 0)
            case .lt: return .bool(r < 0)
            case .lte: return .bool(r <= 0)
            case .gt: return .bool(r > 0)
            case .gte: return .bool(r >= 0)
            }
        }
    }

    func rangeCond(_ t: EvalThread, _ r: RangeExpr) -> Cond {
        guard let off = regOffset(r.sreg) else { return .bool(false) }
        let from = r.from.bytes, to = r.to.bytes
        guard off + from.count <= EvalThread.registerBytes, from.count == to.count else { return .bool(false) }
        switch operand(t, off, from.count) {
        case .failure(let why): return .unknown(why)
        case .success(let sym?):
            let m = sym.within(bigEndianValue(from[...]), bigEndianValue(to[...]))
            return .region(r.inverted ? m.complement() : m)
        case .success(nil):
            let inside = memcmpBytes(t.regs, off, from) >= 0 && memcmpBytes(t.regs, off, to) <= 0
            return .bool(inside != r.inverted)
        }
    }

    enum LookupOutcome {
        case noMatch, matched, verdict(Verdict), stop
    }

    /// Applies a found (or missing) element of a lookup on the current branch.
    private func applyElement(_ t: inout EvalThread, _ set: CompiledSet, _ l: Lookup, _ element: Int?) -> LookupOutcome {
        if l.dreg == nil {
            return (element != nil) != l.inverted ? .matched : .noMatch
        }
        guard let e = element else { return .noMatch }
        let el = set.set.elements[e]
        if l.dreg == 0 {
            guard let v = el.verdict else { return .noMatch }
            return .verdict(v)
        }
        if let d = l.dreg, let data = el.data?.bytes { store(&t, d, data) }
        return .matched
    }

    mutating func lookup(_ t: inout EvalThread, _ l: Lookup) -> LookupOutcome {
        guard let set = rs.tables[t.table].sets[l.set], let off = regOffset(l.sreg) else {
            let why = "lookup in missing set \(l.set)"
            leafUndecidable(t, why)
            return .stop
        }
        let klen = set.keyLength
        guard off + klen <= EvalThread.registerBytes else { return .noMatch }
        let isPlain = l.dreg == nil
        if set.dynamic {
            let why = "dynamic set @\(l.set)"
            if isPlain { forkUnknown(&t, why); return .matched }
            leafUndecidable(t, why)
            return .stop
        }
        var symStart = -1, symLen = 0
        for i in 0..<klen {
            let tag = t.tags[off + i]
            if tag.kind == 2 {
                let why = Walker.reasonTable[Int(tag.index)]
                if isPlain { forkUnknown(&t, why); return .matched }
                leafUndecidable(t, why)
                return .stop
            }
            if tag.kind == 1 {
                if symStart < 0 { symStart = i }
                symLen = i - symStart + 1
            }
        }
        let key = Array(t.regs[off..<(off + klen)])
        if symStart < 0 {
            return applyElement(&t, set, l, set.find(key))
        }
        // Source-address dependent: partition the branch's region by element.
        guard let region = t.region else { return .noMatch }
        let pieces: [(AddressSet, Int?)]
        let matched: AddressSet
        switch symbolicPieces(t, set, l.set, key, off: off, symStart: symStart, symLen: symLen) {
        case .failure(let why):
            if isPlain { forkUnknown(&t, why); return .matched }
            leafUndecidable(t, why)
            return .stop
        case .success(let p): pieces = p.pieces; matched = p.union
        }
        if isPlain {
            let m = l.inverted ? compl(matched) : matched
            let p = t.pendingRegion.map { isect($0, m) } ?? m
            if !region.intersects(p) { return .noMatch }
            t.pendingRegion = p
            return .matched
        }
        // Maps: one branch per element group, the rest misses.
        let covered = matched
        var mine: (AddressSet, Int?)?
        for (s, e) in pieces {
            let part = isect(region, s)
            if part.isEmpty { continue }
            if mine == nil { mine = (part, e); continue }
            var o = t
            o.region = part
            let oc = applyElement(&o, set, l, e)
            switch oc {
            case .noMatch: o.rule += 1; o.expr = 0; work.append(o)
            case .matched: work.append(o)
            case .verdict(let v): o.pendingVerdict(v); work.append(o)
            case .stop: break
            }
        }
        let miss = minus(region, covered)
        if !miss.isEmpty { var o = t; o.region = miss; o.pendingRegion = nil; o.rule += 1; o.expr = 0; work.append(o) }
        guard let (part, e) = mine else { return .noMatch }
        t.region = part
        return applyElement(&t, set, l, e)
    }

    /// For each element, the source addresses for which the key matches it (concrete parts must match exactly).
    private func symbolicPieces(_ t: EvalThread, _ set: CompiledSet, _ name: String, _ key: [UInt8], off: Int, symStart: Int, symLen: Int) -> Outcome<
        SymbolicPieces
    > {
        let field: SymField
        switch operand(t, off + symStart, symLen) {
        case .failure(let why): return .failure(why)
        case .success(let f?): field = f
        case .success(nil): return .failure("unsupported test on the source address")
        }
        var masked = key
        for i in symStart..<(symStart + symLen) { masked[i] = 0 }
        let cacheKey = "\(t.table)/\(name)/\(symStart)/\(symLen)/\(field.bits)/" + Bytes(masked).description
        if let c = cache?.lookups[cacheKey] { return .success(c) }
        let fam = field.family
        func concreteEqual(_ other: [UInt8]) -> Bool {
            for i in 0..<min(key.count, other.count) where i < symStart || i >= symStart + symLen {
                if key[i] != other[i] { return false }
            }
            return true
        }
        var out: [(AddressSet, Int?)] = []
        let symRange = symStart..<(symStart + symLen)
        for (k, i) in set.hash {
            guard concreteEqual(k) else { continue }
            let s = field.eq(bigEndianValue(k[symRange]))
            if !s.isEmpty { out.append((s, i)) }
        }
        if !set.intervals.isEmpty {
            guard symStart == 0 else { return .failure("interval set @\(name) keyed by more than the source address") }
            for r in set.intervals {
                var s = field.ge(bigEndianValue(r.start[symRange]))
                if let end = r.end { s = s.intersection(field.ge(bigEndianValue(end[symRange])).complement()) }
                if !s.isEmpty { out.append((s, r.element)) }
            }
        }
        for i in set.ranged {
            let el = set.set.elements[i]
            guard let end = el.keyEnd?.bytes else { continue }
            // Every concrete field in its range; the source-address field gives the interval.
            var ok = true
            var fieldOff = 0
            var symSet: AddressSet?
            for (f, raw) in zip(set.fields, set.rawFields) {
                let r = fieldOff..<min(fieldOff + raw, key.count)
                if r.contains(symStart) {
                    guard el.key.bytes.count >= r.upperBound, end.count >= r.upperBound else { ok = false; break }
                    symSet = field.ge(bigEndianValue(el.key.bytes[r])).intersection(field.le(bigEndianValue(end[r])))
                } else if !r.isEmpty {
                    let k = key[r]
                    if el.key.bytes.count < r.upperBound || end.count < r.upperBound { ok = false; break }
                    if k.lexicographicallyPrecedes(el.key.bytes[r]) || end[r].lexicographicallyPrecedes(k) { ok = false; break }
                }
                fieldOff += f
            }
            if ok, let s = symSet, !s.isEmpty { out.append((s, i)) }
        }
        let all = AddressSet(family: fam, ranges: out.flatMap { $0.0.ranges })
        if let c = set.catchAll {
            let rest = all.complement()
            if !rest.isEmpty { out.append((rest, c)) }
        }
        if set.set.isMap && out.count > 1 {
            // Group elements with the same outcome so a large map does not fan out per element.
            var groups: [String: Int] = [:]
            var parts: [([ClosedRange<UInt128>], Int)] = []
            for (s, e) in out {
                guard let e else { continue }
                let el = set.set.elements[e]
                let k = "\(el.verdict?.description ?? "")|\(el.data?.description ?? "")"
                if let g = groups[k] { parts[g].0.append(contentsOf: s.ranges) } else { groups[k] = parts.count; parts.append((Array(s.ranges), e)) }
            }
            out = parts.map { (AddressSet(family: fam, ranges: $0.0), Optional($0.1)) }
        }
        let result = SymbolicPieces(pieces: out, union: set.catchAll != nil ? AddressSet.full(fam) : all)
        cache?.lookups[cacheKey] = result
        return .success(result)
    }

    mutating func forkUnknown(_ t: inout EvalThread, _ reason: String) {
        var other = t
        other.pendingRegion = nil
        if !other.assumptions.contains(reason) { other.assumptions.append(reason) }
        other.rule += 1
        other.expr = 0
        work.append(other)
        if !t.assumptions.contains(reason) { t.assumptions.append(reason) }
    }

    mutating func leafUndecidable(_ t: EvalThread, _ reason: String) {
        var l = t
        if !l.assumptions.contains(reason) { l.assumptions.append(reason) }
        leaves.append(
            Leaf(region: l.region, kind: .undecidable(reason), packet: l.pkt, path: l.path, assumptions: l.assumptions, limits: l.allLimits))
    }

    // MARK: fib

    mutating func fib(_ t: inout EvalThread, _ f: Fib) -> Bool {
        let saddrF = f.flags & 1 != 0, iifF = f.flags & 8 != 0, oifF = f.flags & 16 != 0, present = f.flags & 32 != 0
        let fam = t.pkt.family
        if f.flags & 4 != 0 && routing.rulesUseMark {
            taint(&t, f.dreg, f.result == 2 ? 16 : 4, "routing by packet mark")
            return true
        }
        let hook = currentBaseHook(t)
        let devIdx: UInt32? = iifF ? t.pkt.iifIndex : (oifF ? t.pkt.oifIndex : nil)
        func storeResult(_ t: inout EvalThread, _ value: UInt32) {
            if f.result == 3 { store(&t, f.dreg, hostU32(value)); return }
            if present { store(&t, f.dreg, [value != 0 ? 1 : 0]); return }
            if f.result == 2 {
                store(&t, f.dreg, Walker.ifname(value == 0 ? "" : (routing.iface(index: value)?.name ?? "")))
            } else {
                store(&t, f.dreg, hostU32(value))
            }
        }
        if f.result != 3, hook == .prerouting, routing.iface(index: t.pkt.iifIndex)?.loopback == true || t.pkt.iifName == "lo" {
            storeResult(&t, t.pkt.iifIndex)
            return true
        }
        let compute: (UInt128) -> UInt32 = { [routing] v in
            if f.result == 3 { return routing.addressType(fam, v, device: devIdx) }
            if saddrF { return routing.reversePathOif(fam, v, iif: devIdx) }
            guard let r = routing.lookup(fam, v), r.type == RTN.unicast else { return 0 }
            if let d = devIdx { return r.device == d ? d : 0 }
            return r.device
        }
        if saddrF, symbolic, let region = t.region {
            let parts = routing.partition(region, compute)
            guard let first = parts.first else { return false }
            for (value, piece) in parts.dropFirst() {
                var o = t
                o.region = piece
                storeResult(&o, value)
                work.append(o)
            }
            t.region = first.1
            storeResult(&t, first.0)
            return true
        }
        let addr = addressValue(saddrF ? t.pkt.saddr : t.pkt.daddr)
        storeResult(&t, compute(addr))
        return true
    }

    func currentBaseHook(_ t: EvalThread) -> Hook? {
        guard t.stage < stages.count, case .chain(let b) = stages[t.stage] else { return nil }
        return b.hook
    }

    // MARK: NAT

    /// Reads a concrete register value, or nil if it is unknown or symbolic.
    func concreteBytes(_ t: EvalThread, _ reg: UInt32, _ n: Int) -> [UInt8]? {
        guard let off = regOffset(reg), off + n <= EvalThread.registerBytes else { return nil }
        guard t.tags[off..<(off + n)].allSatisfy({ $0.kind == 0 }) else { return nil }
        return Array(t.regs[off..<(off + n)])
    }

    mutating func applyDNAT(_ t: inout EvalThread, addr: [UInt8]?, port: UInt16?, kind: String, handle: UInt64) -> Walker.RuleOutcome {
        let hook = currentBaseHook(t) ?? .prerouting
        if let a = addr { t.pkt.daddr = a }
        if let p = port { t.pkt.dport = p }
        t.pkt.dnat = true
        t.pkt.natBound.insert(hook)
        let text = (addr.map { addressText(addressValue($0), t.pkt.family) } ?? "") + (port.map { ":\($0)" } ?? "")
        return .natDone("\(kind) to \(text)", handle)
    }

    /// Source NAT to `low`…`high` (nil: the source address is kept, only ports change). One address is followed; a
    /// range, or an address from packet data (`unknown`), is recorded as an unknown source for the next namespace.
    mutating func applySNAT(_ t: inout EvalThread, low: [UInt8]?, high: [UInt8]?, unknown: Bool, handle: UInt64) -> Walker.RuleOutcome {
        t.pkt.natBound.insert(currentBaseHook(t) ?? .postrouting)
        if unknown {
            t.pkt.sourceNat = .unknown("SNAT address from packet data")
            return .natDone("snat", handle)
        }
        guard let low else { return .natDone("snat", handle) }
        if let high, high != low {
            t.pkt.sourceNat = .unknown("SNAT to an address range")
            let fam = t.pkt.family
            return .natDone("snat to \(addressText(addressValue(low), fam))-\(addressText(addressValue(high), fam))", handle)
        }
        t.pkt.sourceNat = .to(low)
        return .natDone("snat to \(addressText(addressValue(low), t.pkt.family))", handle)
    }

    /// Masquerade: the source becomes the output device's address, as the kernel picks it (`inet_select_addr`: the
    /// first address of the device whose subnet holds the next hop, else its first address; for IPv6 the same rule
    /// stands in for source address selection). Only forwarded packets meet it here (the output path skips
    /// postrouting NAT), and they have an output device.
    mutating func masquerade(_ t: inout EvalThread, kind: String, handle: UInt64) -> Walker.RuleOutcome {
        t.pkt.natBound.insert(currentBaseHook(t) ?? .postrouting)
        let fam = t.pkt.family
        guard let a = routing.masqueradeSource(fam, device: t.pkt.oifIndex, toward: addressValue(t.pkt.daddr)) else {
            t.pkt.sourceNat = .unknown("\(kind) on \(t.pkt.oifName.isEmpty ? "an unknown device" : t.pkt.oifName), which has no address")
            return .natDone(kind, handle)
        }
        t.pkt.sourceNat = .to(a)
        return .natDone("\(kind) to \(addressText(addressValue(a), fam))", handle)
    }

    mutating func nat(_ t: inout EvalThread, _ n: Nat, _ handle: UInt64) -> Walker.RuleOutcome? {
        let hook = currentBaseHook(t) ?? .prerouting
        if n.family != 0 && n.family != 1 && UInt8(truncatingIfNeeded: n.family) != t.pkt.nfproto { return nil }
        let alen = t.pkt.family == .ipv4 ? 4 : 16
        if n.type == 0 {
            let low = n.regAddrMin.flatMap { concreteBytes(t, $0, alen) }
            let high = n.regAddrMax.flatMap { concreteBytes(t, $0, alen) }
            return applySNAT(&t, low: low, high: high, unknown: n.regAddrMin != nil && low == nil, handle: handle)
        }
        var addr: [UInt8]?
        if let r = n.regAddrMin {
            guard let a = concreteBytes(t, r, alen) else { leafUndecidable(t, "DNAT address from packet data"); return .stop }
            addr = a
        }
        var port: UInt16?
        if let r = n.regProtoMin {
            guard let p = concreteBytes(t, r, 2) else { leafUndecidable(t, "DNAT port from packet data"); return .stop }
            port = UInt16(p[0]) << 8 | UInt16(p[1])
        }
        return applyDNAT(&t, addr: addr, port: port, kind: "dnat", handle: handle)
    }

    /// The address `redirect` uses: loopback on output, otherwise the first address of the input device.
    func redirectAddress(_ t: EvalThread) -> [UInt8]? {
        let hook = currentBaseHook(t)
        if hook == .output || t.pkt.arrivalName == "lo" {
            return t.pkt.family == .ipv4 ? [127, 0, 0, 1] : IPv6Address("::1")?.bytes
        }
        let i = routing.iface(named: t.pkt.arrivalName)
        return t.pkt.family == .ipv4 ? i?.primaryV4 : i?.primaryV6
    }

    mutating func redirect(_ t: inout EvalThread, _ r: Redir, _ handle: UInt64) -> Walker.RuleOutcome? {
        guard let addr = redirectAddress(t) else {
            t.path.append(
                PathStep(
                    table: rs.tables[t.table].name, family: .table(rs.tables[t.table].family),
                    chain: rs.tables[t.table].chains[t.chain].name, hook: currentBaseHook(t).map { .hook($0) },
                    priority: 0, handle: handle, action: .note("redirect (no address on \(t.pkt.arrivalName): drop)")))
            leaves.append(Leaf(region: t.region, kind: .drop, packet: t.pkt, path: t.path, assumptions: t.assumptions, limits: t.allLimits))
            return .stop
        }
        var port: UInt16?
        if let reg = r.regProtoMin {
            guard let p = concreteBytes(t, reg, 2) else { leafUndecidable(t, "redirect port from packet data"); return .stop }
            port = UInt16(p[0]) << 8 | UInt16(p[1])
        }
        return applyDNAT(&t, addr: addr, port: port, kind: "redirect", handle: handle)
    }
}

extension EvalThread {
    /// A vmap hit found while splitting: the verdict is applied when the branch resumes.
    mutating func pendingVerdict(_ v: Verdict) {
        pending = v
    }
}
