import HostModel

/// Rule execution: one rule's expressions in order on one branch, with the undecidable parts split off.

extension Walker {
    enum RuleOutcome {
        case next
        case stop
        case verdict(Verdict, UInt64)
        /// NAT bound the connection: the nat chain ends with accept.
        case natDone(String, UInt64)
    }

    /// Splits off a branch where the current rule does not match (it resumes at the next rule).
    mutating func forkNoMatch(_ t: EvalThread, region: AddressSet?, assumption: String?) {
        var other = t
        other.region = region
        other.pendingRegion = nil
        other.pendingLimits = []
        if let a = assumption, !other.assumptions.contains(a) { other.assumptions.append(a) }
        other.rule += 1
        other.expr = 0
        work.append(other)
    }

    mutating func unknown(_ t: inout EvalThread, _ reason: String) {
        forkNoMatch(t, region: t.region, assumption: reason)
        if !t.assumptions.contains(reason) { t.assumptions.append(reason) }
    }

    /// Applies a match condition: `m` is the matching part of the region (nil: decided concretely by `ok`).
    /// Returns false when the rule does not match on the current branch.
    mutating func condition(_ t: inout EvalThread, _ c: Cond) -> Bool {
        switch c {
        case .bool(let ok): return ok
        case .unknown(let reason): unknown(&t, reason); return true
        case .region(let m):
            // Deferred: the split happens only if the rule goes on to have an effect (see `commit`).
            guard let region = t.region else { return false }
            let p = t.pendingRegion.map { isect($0, m) } ?? m
            if !region.intersects(p) { return false }
            t.pendingRegion = p
            return true
        }
    }

    /// Applies the source-address conditions collected so far in this rule: the part outside them does not match
    /// the rule and continues at the next rule.
    mutating func commit(_ t: inout EvalThread) {
        guard let p = t.pendingRegion, let region = t.region else { t.pendingRegion = nil; return }
        t.pendingRegion = nil
        let yes = isect(region, p)
        let no = minus(region, p)
        if !no.isEmpty { forkNoMatch(t, region: no, assumption: nil) }
        t.region = yes
    }

    mutating func execRule(_ t: inout EvalThread, _ rule: Rule) -> RuleOutcome {
        let exprs = rule.expressions
        if t.expr == 0 { t.partialMark = nil }
        while t.expr < exprs.count {
            let e = exprs[t.expr]
            t.expr += 1
            if t.pendingRegion != nil && Walker.hasEffect(e) { commit(&t) }
            let outcome: RuleOutcome?
            switch e {
            case .payload, .meta, .ct, .bitwise, .byteorder, .immediate:
                outcome = execRegister(&t, e, rule: rule, exprs: exprs)
            case .cmp, .range, .lookup, .fib, .match:
                outcome = execMatch(&t, e, rule: rule)
            case .limit, .quota, .connlimit, .dynset, .objref:
                outcome = execLimit(&t, e)
            default:
                outcome = execStatement(&t, e, rule: rule)
            }
            if let outcome { return outcome }
        }
        return .next
    }

    /// Loads into and stores from registers (payload, meta, ct, bitwise, byteorder, immediate). Nil: go on with the
    /// rule's next expression.
    mutating func execRegister(_ t: inout EvalThread, _ e: Expression, rule: Rule, exprs: [Expression]) -> RuleOutcome? {
        switch e {
        case .payload(let p):
            guard let d = p.dreg else {
                if let sreg = p.sreg { mangle(&t, p, sreg) }
                return nil
            }
            return loadPayload(&t, p, d) ? nil : .next
        case .meta(let m):
            if let s = m.sreg {
                if m.key == 3 { setMark(&t, from: s) }
                return nil
            }
            guard let d = m.dreg else { return nil }
            if m.key == 3, t.pkt.markKnown != .max, partialMark(&t, d, exprs) { return nil }
            return loadMeta(&t, m.key, d) ? nil : .next
        case .ct(let c):
            if let s = c.sreg {
                if c.key == 3, let off = regOffset(s), off + 4 <= EvalThread.registerBytes {
                    t.pkt.ctMark = t.tags[off..<(off + 4)].allSatisfy({ $0.kind == 0 }) ? readU32Host(t.regs, off) : nil
                }
                return nil
            }
            guard let d = c.dreg else { return nil }
            return loadCt(&t, c, d) ? nil : .next
        case .bitwise(let b):
            bitwise(&t, b)
        case .byteorder(let b):
            byteorder(&t, b)
        case .immediate(let i):
            if i.dreg == 0 { return i.verdict.map { .verdict($0, rule.handle) } }
            if let data = i.data?.bytes { store(&t, i.dreg, data) }
        default:
            break
        }
        return nil
    }

    /// `meta mark set` from register `s`: known where the register is (bit by bit after a partly known mark).
    func setMark(_ t: inout EvalThread, from s: UInt32) {
        guard let off = regOffset(s), off + 4 <= EvalThread.registerBytes else { return }
        if let p = t.partialMark, p.reg == s {
            t.pkt.markBits = p.value; t.pkt.markKnown = p.known
        } else if t.tags[off..<(off + 4)].allSatisfy({ $0.kind == 0 }) {
            t.pkt.mark = readU32Host(t.regs, off)
        } else {
            t.pkt.mark = nil
        }
    }

    /// Matches: comparisons, ranges, set lookups, fib and xt matches. Nil: the rule goes on.
    mutating func execMatch(_ t: inout EvalThread, _ e: Expression, rule: Rule) -> RuleOutcome? {
        switch e {
        case .cmp(let c):
            if !condition(&t, compare(t, c)) { return .next }
        case .range(let r):
            if !condition(&t, rangeCond(t, r)) { return .next }
        case .lookup(let l):
            switch lookup(&t, l) {
            case .noMatch: return .next
            case .matched: break
            case .verdict(let v): return .verdict(v, rule.handle)
            case .stop: return .stop
            }
        case .fib(let f):
            if !fib(&t, f) { return .next }
        case .match(let x):
            let cond = x.name == "recent" ? xtRecent(&t, x) : xtMatch(t, x)
            if !condition(&t, cond) { return .next }
        default:
            break
        }
        return nil
    }

    /// Rate limits, quotas and stateful objects. Nil: the rule goes on.
    mutating func execLimit(_ t: inout EvalThread, _ e: Expression) -> RuleOutcome? {
        switch e {
        case .limit(let l):
            // A token bucket starts full and refills at its rate: a first new connection finds a token, so
            // `limit rate` matches it and `limit rate over` does not. Load changes that, so the limit is named.
            if l.inverted {
                if !t.limits.contains(l.nftText) { t.limits.append(l.nftText) }
                return .next
            }
            t.pendingLimits.append(l.nftText)
        case .quota(let q):
            return quota(&t, q)
        case .connlimit:
            unknown(&t, "connection limit")
        case .dynset(let d):
            // A meter's attached limit/quota/connlimit decides whether the rule goes on.
            if d.expressions.contains(where: { $0 != "counter" && $0 != "last" }) {
                unknown(&t, "per-key \(d.expressions.joined(separator: "/")) in set @\(d.set)")
            }
        case .objref(let o):
            let type = o.objectType ?? o.set.flatMap { rs.tables[t.table].sets[$0]?.set.objectType } ?? 0
            if type == 1 || type == 3 { return nil }
            unknown(&t, "named \(objectName(type)) \(o.name ?? o.set ?? "")")
        default:
            break
        }
        return nil
    }

    /// nft_overquota: over once consumed + the packet's length reaches the quota; `over` (inverted) matches then,
    /// `until` before. A first packet is far shorter than 64 KiB.
    mutating func quota(_ t: inout EvalThread, _ q: Quota) -> RuleOutcome? {
        guard let used = q.consumed else { unknown(&t, "quota (its usage was not recorded)"); return nil }
        let over: Bool
        if used >= q.bytes {
            over = true
        } else if q.bytes - used > 65535 {
            over = false
        } else {
            unknown(&t, "quota almost used up"); return nil
        }
        if q.inverted {
            // `quota over … drop`: named even when it lets this packet by, as `limit rate over` is.
            if !t.limits.contains(q.nftText) { t.limits.append(q.nftText) }
            return over ? nil : .next
        }
        t.pendingLimits.append(q.nftText)
        return over ? .next : nil
    }

    /// Statements: NAT, reject, queue, notrack, xt targets, and what taints a register. Nil: the rule goes on.
    mutating func execStatement(_ t: inout EvalThread, _ e: Expression, rule: Rule) -> RuleOutcome? {
        switch e {
        case .nat(let n):
            return nat(&t, n, rule.handle)
        case .redir(let r):
            return redirect(&t, r, rule.handle)
        case .masq:
            return masquerade(&t, kind: "masquerade", handle: rule.handle)
        case .reject:
            t.path.append(chainStep(t, .reject, handle: rule.handle))
            leaf(t, .reject)
            return .stop
        case .notrack:
            applyNotrack(&t, handle: rule.handle)
        case .numgen(let n):
            taint(&t, n.dreg, 4, "numgen (random/incremental number)")
        case .hash(let h):
            taint(&t, h.dreg, 4, "hash of packet fields")
        case .socket(let s):
            taint(&t, s.dreg, 4, "socket expression")
        case .queue:
            t.path.append(chainStep(t, .queue, handle: rule.handle))
            leaf(t, .undecidable("queued to userspace"))
            return .stop
        case .exthdr(let x):
            if let d = x.dreg { taint(&t, d, Int(max(x.length, 1)), "extension header / TCP option") }
        case .target(let x):
            return xtTarget(&t, x, rule.handle)
        case .unknown(let u):
            unknown(&t, "unknown expression \(u.name)")
        default:
            // counter, log: no effect on the packet's fate
            break
        }
        return nil
    }

    /// `meta mark` of a partly known mark followed by `& mask ^ xor` on the same register (kube-proxy's mark tests
    /// and `--set-xmark`): when the mask keeps only known bits the result is a constant; otherwise the result is
    /// remembered bit by bit for a following `meta mark set`. Consumes the bitwise; false when the pattern is absent.
    func partialMark(_ t: inout EvalThread, _ d: UInt32, _ exprs: [Expression]) -> Bool {
        guard t.expr < exprs.count, case .bitwise(let b) = exprs[t.expr], b.op == 0, b.sreg == d, b.length == 4,
            let off = regOffset(b.dreg), off + 4 <= EvalThread.registerBytes
        else { return false }
        func host32(_ x: Bytes?, _ dflt: UInt32) -> UInt32 {
            guard let x = x?.bytes, x.count >= 4 else { return dflt }
            return readU32Host(x, 0)
        }
        let mask = host32(b.mask, .max), xor = host32(b.xor, 0)
        let value = (t.pkt.markBits & mask) ^ xor
        let known = ~mask | (t.pkt.markKnown & mask)
        t.expr += 1
        if known == .max {
            store(&t, b.dreg, hostU32(value))
        } else {
            taint(&t, b.dreg, 4, "packet mark")
            t.partialMark = (b.dreg, value, known)
        }
        return true
    }

    /// `payload set` (mangling): rewrites of the destination port or address change what later chains and the
    /// socket lookup see; other rewrites (DSCP, TTL, MSS) do not matter for delivery.
    func mangle(_ t: inout EvalThread, _ p: Payload, _ sreg: UInt32) {
        let n = Int(p.length)
        let fam = t.pkt.family
        guard let off = regOffset(sreg), off + n <= EvalThread.registerBytes else { return }
        let bytes = Array(t.regs[off..<(off + n)])
        let known = t.tags[off..<(off + n)].allSatisfy { $0.kind == 0 }
        let o = Int(p.offset)
        if p.base == .transport, o <= 3, o + n > 2 {
            var port = [UInt8(t.pkt.dport >> 8), UInt8(t.pkt.dport & 0xff)]
            for i in 0..<n where o + i == 2 || o + i == 3 { port[o + i - 2] = bytes[i] }
            if known {
                t.pkt.dport = UInt16(port[0]) << 8 | UInt16(port[1])
            } else {
                t.pkt.notModelled = "destination port rewritten from packet data"
            }
        }
        let (start, len) = fam == .ipv4 ? (16, 4) : (24, 16)
        if p.base == .network, o < start + len, o + n > start {
            var addr = t.pkt.daddr
            for i in 0..<n where o + i >= start && o + i < start + len { addr[o + i - start] = bytes[i] }
            if known { t.pkt.daddr = addr } else { t.pkt.notModelled = "destination address rewritten from packet data" }
        }
    }

    /// The fast path: a failed guard means the rule cannot match this packet.
    static func guardPasses(_ pkt: PacketState, _ g: RuleGuard) -> Bool {
        let tests = g.tests
        for k in tests.indices {
            let test = tests[k]
            let v: UInt64
            switch test.field {
            case .l4proto: v = UInt64(pkt.l4) << 56
            case .nfproto: v = UInt64(pkt.nfproto) << 56
            case .dport: v = UInt64(pkt.dport) << 48
            case .iif: v = UInt64(pkt.iifIndex.byteSwapped) << 32
            case .iifname: continue
            case .daddr4:
                guard pkt.daddr.count == 4 else { return false }
                v = UInt64(pkt.daddr[0]) << 56 | UInt64(pkt.daddr[1]) << 48 | UInt64(pkt.daddr[2]) << 40 | UInt64(pkt.daddr[3]) << 32
            }
            let shift = 64 - 8 * UInt64(test.len)
            let x = v >> shift, a = test.a >> shift
            let ok: Bool
            switch test.op {
            case 0: ok = x == a
            case 1: ok = x != a
            case 2: ok = x < a
            case 3: ok = x <= a
            case 4: ok = x > a
            case 5: ok = x >= a
            case 6: ok = x >= a && x <= test.b >> shift
            default: ok = !(x >= a && x <= test.b >> shift)
            }
            if !ok { return false }
        }
        if !g.names.isEmpty {
            let name = Walker.ifname(pkt.iifName)
            for n in g.names {
                let r = memcmpBytes(name, 0, n.data)
                let ok: Bool
                switch n.op {
                case .eq: ok = r == 0
                case .neq: ok = r != 0
                case .lt: ok = r < 0
                case .lte: ok = r <= 0
                case .gt: ok = r > 0
                case .gte: ok = r >= 0
                }
                if !ok { return false }
            }
        }
        return true
    }

    /// Whether an expression changes the verdict or the packet state (then pending source conditions must apply).
    static func hasEffect(_ e: Expression) -> Bool {
        switch e {
        case .immediate(let i): return i.dreg == 0
        case .meta(let m): return m.sreg != nil
        case .ct(let c): return c.sreg != nil
        case .lookup(let l): return l.dreg != nil
        case .payload(let p): return p.sreg != nil
        case .nat, .redir, .reject, .notrack, .queue, .target, .fib: return true
        default: return false
        }
    }

    func objectName(_ type: UInt32) -> String {
        switch type {
        case 2: "quota"
        case 4: "limit"
        case 5: "connlimit"
        default: "object type \(type)"
        }
    }
}
