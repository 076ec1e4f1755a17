import HostModel

/// A stage of the packet path: a base chain, the routing decision between prerouting and input (or forward), or the
/// end of the local-delivery part (the forward hook and postrouting follow it, reached only through routing).
enum Stage: Sendable {
    case chain(CompiledRuleset.BaseRef)
    case routing
    case localDelivery
}

/// The final state of one branch of the walk.
struct Leaf: Sendable {
    enum Kind: Sendable, Equatable {
        /// `forwarded`: routed to another machine or namespace and let through the forward and postrouting hooks.
        case accept, drop, reject, forwarded
        case undecidable(String)
    }
    var region: AddressSet?
    var kind: Kind
    var packet: PacketState
    var path: [PathStep]
    var assumptions: [String]
    /// Rate limits and quotas the branch passed (nft syntax): they let a first connection through, so they decide
    /// nothing, but they are named wherever the outcome is shown (a limit is not access control).
    var limits: [String] = []
}

/// One branch of evaluation: the packet, the registers, and where in the chains it is.
struct EvalThread {
    var region: AddressSet?
    var pkt: PacketState
    var regs: [UInt8]
    var tags: [ByteTag]
    var stage: Int = 0
    var inChain = false
    var table = 0
    var chain = 0
    var rule = 0
    var expr = 0
    var stack: [(table: Int, chain: Int, rule: Int)] = []
    var path: [PathStep] = []
    var assumptions: [String] = []
    /// See `Leaf.limits`; `pendingLimits` are those of the current rule, kept only if the rule goes on to act.
    var limits: [String] = []
    var pendingLimits: [String] = []
    /// A verdict decided while splitting a map lookup, applied when this branch resumes.
    var pending: Verdict?
    /// Source-address conditions of the current rule not yet applied to `region`.
    var pendingRegion: AddressSet?
    /// Rules run on this branch; a bound against malformed snapshots with goto loops (the kernel rejects loops).
    var steps = 0
    /// xt `recent` lists this branch's own `--set` put its address into (one hit, now).
    var recentSet: [String] = []
    /// A register holding a mark known only in some bits (see `Walker.partialMark`).
    var partialMark: (reg: UInt32, value: UInt32, known: UInt32)?

    static let registerBytes = 80

    var allLimits: [String] { pendingLimits.isEmpty ? limits : limits + pendingLimits.filter { !limits.contains($0) } }
}

/// Register number → byte offset into the register file (verdict slots 0-3, data slots 4-19).
@inline(__always) func regOffset(_ r: UInt32) -> Int? {
    let slot: Int
    if r <= 4 { slot = Int(r) * 4 } else if r >= 8 && r <= 23 { slot = Int(r) - 4 } else { return nil }
    return slot * 4
}

/// Runs branches of the packet path to their leaves. One walker per (snapshot, question family).
struct Walker {
    let rs: CompiledRuleset
    let routing: HostRouting
    let sysctls: Sysctls
    let stages: [Stage]
    /// Where local delivery ends and the forward path begins in `stages`.
    let localDeliveryStage: Int?
    let symbolic: Bool
    var cache: SymbolicCache?
    var leaves: [Leaf] = []
    var work: [EvalThread] = []
    var budget = 20_000
    /// Exposure only: what the walk observed of its question (`RuleTouches` bits of every rule it ran), and the
    /// outcome of every guard that tested the input interface, so the walk can stand for other questions.
    var recordObservations = false
    var touched: UInt8 = 0
    var interfaceGuards: [GuardOutcome] = []

    struct GuardOutcome {
        var table: Int
        var chain: Int
        var rule: Int
        var passed: Bool
    }

    init(rs: CompiledRuleset, routing: HostRouting, sysctls: Sysctls, stages: [Stage], symbolic: Bool, cache: SymbolicCache?) {
        self.rs = rs
        self.routing = routing
        self.sysctls = sysctls
        self.stages = stages
        self.localDeliveryStage = stages.firstIndex { if case .localDelivery = $0 { true } else { false } }
        self.symbolic = symbolic
        self.cache = cache
    }

    /// The stages a packet meets, in order.
    static func stages(for pkt: PacketState, rs: CompiledRuleset) -> [Stage] {
        func familyOK(_ t: TableFamily) -> Bool {
            switch t {
            case .inet: true
            case .ip: pkt.family == .ipv4
            case .ip6: pkt.family == .ipv6
            default: false
            }
        }
        var out: [Stage] = []
        func add(_ hook: Hook, skipNat: Bool = false) {
            for b in rs.bases where b.hook == hook && familyOK(rs.tables[b.table].family) {
                if skipNat && b.isNat { continue }
                out.append(.chain(b))
            }
        }
        if pkt.local {
            add(.output)
            add(.postrouting, skipNat: true)
            // Looped back through lo: the connection is already tracked and NATed on output.
            add(.prerouting, skipNat: true)
        } else {
            for b in rs.bases where b.hook == .ingress && b.devices.contains(pkt.arrivalName) {
                let fam = rs.tables[b.table].family
                if fam == .netdev || fam == .inet { out.append(.chain(b)) }
            }
            add(.prerouting)
        }
        out.append(.routing)
        add(.input)
        out.append(.localDelivery)
        if !pkt.local {
            // Routed elsewhere: the forward hook, then postrouting. NAT in postrouting only rewrites the source
            // (masquerade, snat), which does not decide whether a new connection is delivered.
            add(.forward)
            add(.postrouting, skipNat: true)
        }
        return out
    }

    /// Sources the kernel drops as martians on a non-loopback device: 0/8, 127/8 (unless route_localnet), multicast
    /// and limited broadcast for IPv4; ::1, v4-mapped and multicast for IPv6.
    static func martianSources(_ fam: IPFamily, routeLocalnet: Bool) -> AddressSet {
        fam == .ipv6 ? martians6 : (routeLocalnet ? martians4Localnet : martians4)
    }
    private static let martians4 = buildMartians(.ipv4, routeLocalnet: false)
    private static let martians4Localnet = buildMartians(.ipv4, routeLocalnet: true)
    private static let martians6 = buildMartians(.ipv6, routeLocalnet: false)

    private static func buildMartians(_ fam: IPFamily, routeLocalnet: Bool) -> AddressSet {
        if fam == .ipv4 {
            var r: [ClosedRange<UInt128>] = [0...((UInt128(1) << 24) - 1), (UInt128(0xe) << 28)...((UInt128(0xf) << 28) - 1), UInt128(UInt32.max)...UInt128(UInt32.max)]
            if !routeLocalnet { r.append((UInt128(127) << 24)...((UInt128(128) << 24) - 1)) }
            return AddressSet(family: .ipv4, ranges: r)
        }
        return AddressSet(family: .ipv6, ranges: [1...1, (UInt128(0xffff) << 32)...((UInt128(0xffff) << 32) | UInt128(UInt32.max)),
                                                  (UInt128(0xff) << 120)...UInt128.max])
    }

    mutating func run(_ initial: EvalThread) -> [Leaf] {
        leaves = []
        work = [initial]
        while var t = work.popLast() {
            budget -= 1
            if budget < 0 {
                leaves.append(Leaf(region: t.region, kind: .undecidable("too many undecidable branches"), packet: t.pkt, path: t.path, assumptions: t.assumptions, limits: t.allLimits))
                continue
            }
            step(&t)
        }
        return leaves
    }

    // MARK: chain walk

    func chainStep(_ t: EvalThread, _ action: String, handle: UInt64?) -> PathStep {
        let b = currentBase(t)
        return PathStep(table: rs.tables[t.table].name, family: rs.tables[t.table].family.rawValue, chain: rs.tables[t.table].chains[t.chain].name,
                        hook: b?.hook.rawValue ?? "", priority: b?.priority ?? 0, handle: handle, action: action)
    }

    private func currentBase(_ t: EvalThread) -> CompiledRuleset.BaseRef? {
        guard t.stage < stages.count, case .chain(let b) = stages[t.stage] else { return nil }
        return b
    }

    private mutating func leaf(_ t: EvalThread, _ kind: Leaf.Kind) {
        leaves.append(Leaf(region: t.region, kind: kind, packet: t.pkt, path: t.path, assumptions: t.assumptions, limits: t.allLimits))
    }

    private mutating func step(_ t: inout EvalThread) {
        // The current chain's rules and guards, refreshed only when the chain changes.
        var cachedTable = -1, cachedChain = -1
        var rules: [Rule] = []
        var guards: [RuleGuard] = []
        var bounds: [UInt32] = []
        while true {
            if !t.inChain {
                if t.stage >= stages.count { leaf(t, t.pkt.notModelled.map { .undecidable($0) } ?? .forwarded); return }
                switch stages[t.stage] {
                case .localDelivery:
                    leaf(t, t.pkt.notModelled.map { .undecidable($0) } ?? .accept)
                    return
                case .routing:
                    if !route(&t) { return }
                    t.stage += 1
                    continue
                case .chain(let b):
                    if b.isNat && (t.pkt.natBound.contains(b.hook) || t.pkt.notrack) { t.stage += 1; continue }
                    enterBase(&t, b)
                }
            }
            if t.table != cachedTable || t.chain != cachedChain {
                cachedTable = t.table; cachedChain = t.chain
                rules = rs.tables[t.table].chains[t.chain].rules
                guards = rs.tables[t.table].guards[t.chain]
                bounds = rs.tables[t.table].portBounds[t.chain]
            }
            if t.rule >= rules.count {
                if let top = t.stack.popLast() {
                    t.table = top.table; t.chain = top.chain; t.rule = top.rule; t.expr = 0
                    continue
                }
                if !endBase(&t) { return }
                continue
            }
            if let v = t.pending {
                t.pending = nil
                if !applyVerdict(&t, v, handle: rules[t.rule].handle) { return }
                continue
            }
            if t.expr == 0 {
                // Rules for other destination ports fail their guard anyway: step over them without loading it.
                let port = UInt32(t.pkt.dport)
                while t.rule < bounds.count, port < bounds[t.rule] >> 16 || port > bounds[t.rule] & 0xffff { t.rule += 1 }
                if t.rule >= rules.count { continue }
            }
            t.steps += 1
            if t.steps > 200_000 {
                leaf(t, .undecidable("chain loop (more than 200000 rules on one path)"))
                return
            }
            if t.expr == 0 {
                let g = guards[t.rule]
                let passed = Walker.guardPasses(t.pkt, g)
                if recordObservations {
                    if g.readsInterface { interfaceGuards.append(GuardOutcome(table: t.table, chain: t.chain, rule: t.rule, passed: passed)) }
                    if g.readsDestination { touched |= RuleTouches.destination }
                    if passed { touched |= rs.tables[t.table].touches[t.chain][t.rule] }
                }
                if !passed {
                    t.rule += 1
                    continue
                }
            }
            let outcome = execRule(&t, rules[t.rule])
            t.pendingRegion = nil
            if !t.pendingLimits.isEmpty {
                if case .next = outcome {} else { t.limits = t.allLimits }
                t.pendingLimits = []
            }
            switch outcome {
            case .natDone(let text, let handle):
                t.path.append(chainStep(t, text, handle: handle))
                t.inChain = false
                t.stage += 1
            case .next:
                t.rule += 1
                t.expr = 0
            case .stop:
                return
            case .verdict(let v, let handle):
                if !applyVerdict(&t, v, handle: handle) { return }
            }
        }
    }

    private func setIfaceForHook(_ t: inout EvalThread, _ hook: Hook) {
        if t.pkt.local {
            if hook == .output || hook == .postrouting {
                t.pkt.iifIndex = 0; t.pkt.iifName = ""; t.pkt.iifType = 0; t.pkt.iifKind = nil
                t.pkt.oifIndex = t.pkt.arrivalIndex; t.pkt.oifName = t.pkt.arrivalName
            } else {
                t.pkt.iifIndex = t.pkt.arrivalIndex; t.pkt.iifName = t.pkt.arrivalName; t.pkt.iifType = 772
                t.pkt.oifIndex = 0; t.pkt.oifName = ""
            }
        }
    }

    private func enterBase(_ t: inout EvalThread, _ b: CompiledRuleset.BaseRef) {
        setIfaceForHook(&t, b.hook)
        t.inChain = true
        t.table = b.table
        t.chain = b.chain
        t.rule = 0
        t.expr = 0
        t.stack = []
    }

    /// End of a base chain (or `return` in it): its policy decides. Returns false when the branch ended.
    private mutating func endBase(_ t: inout EvalThread) -> Bool {
        guard let b = currentBase(t) else { return false }
        let step = PathStep(table: rs.tables[b.table].name, family: rs.tables[b.table].family.rawValue,
                            chain: rs.tables[b.table].chains[b.chain].name, hook: b.hook.rawValue,
                            priority: b.priority, handle: nil, action: "policy \(b.policy.rawValue)")
        t.path.append(step)
        if b.policy == .drop { leaf(t, .drop); return false }
        t.inChain = false
        t.stage += 1
        return true
    }

    /// Applies a verdict. Returns false when the branch ended.
    private mutating func applyVerdict(_ t: inout EvalThread, _ v: Verdict, handle: UInt64?) -> Bool {
        switch v {
        case .accept:
            t.path.append(chainStep(t, "accept", handle: handle))
            t.inChain = false
            t.stage += 1
            return true
        case .drop:
            t.path.append(chainStep(t, "drop", handle: handle))
            leaf(t, .drop)
            return false
        case .continue, .break:
            t.rule += 1; t.expr = 0
            return true
        case .return:
            t.path.append(chainStep(t, "return", handle: handle))
            if let top = t.stack.popLast() {
                t.table = top.table; t.chain = top.chain; t.rule = top.rule; t.expr = 0
                return true
            }
            return endBase(&t)
        case .jump(let name), .goto(let name):
            let isJump: Bool
            if case .jump = v { isJump = true } else { isJump = false }
            t.path.append(chainStep(t, "\(isJump ? "jump" : "goto") \(name)", handle: handle))
            guard let target = rs.tables[t.table].chainIndex[name] else {
                leaf(t, .undecidable("\(isJump ? "jump" : "goto") to missing chain \(name)"))
                return false
            }
            if isJump {
                if t.stack.count >= 16 { leaf(t, .undecidable("jump stack deeper than 16")); return false }
                t.stack.append((t.table, t.chain, t.rule + 1))
            }
            t.chain = target
            t.rule = 0
            t.expr = 0
            return true
        case .queue:
            t.path.append(chainStep(t, "queue", handle: handle))
            leaf(t, .undecidable("queued to userspace"))
            return false
        case .stolen, .repeatVerdict, .other:
            t.path.append(chainStep(t, v.description, handle: handle))
            leaf(t, .undecidable("verdict \(v.description)"))
            return false
        }
    }

    /// The routing decision after prerouting. Returns false when the branch ended.
    private mutating func route(_ t: inout EvalThread) -> Bool {
        let fam = t.pkt.family
        func routingStep(_ action: String) -> PathStep {
            PathStep(table: "", family: fam.rawValue, chain: "", hook: "routing", priority: 0, handle: nil, action: action)
        }
        if !t.pkt.local {
            // Martian sources: loopback addresses never arrive from outside.
            let loopSrc = Walker.martianSources(fam, routeLocalnet: sysctls.routeLocalnet["all"] == true || sysctls.routeLocalnet[t.pkt.arrivalName] == true)
            if let region = t.region {
                let bad = isect(region, loopSrc)
                if !bad.isEmpty {
                    var dropped = t
                    dropped.region = bad
                    dropped.path.append(routingStep("drop (martian source)"))
                    leaf(dropped, .drop)
                    t.region = minus(region, loopSrc)
                    if t.region!.isEmpty { return false }
                }
            } else if loopSrc.contains(addressValue(t.pkt.saddr)) {
                t.path.append(routingStep("drop (martian source)"))
                leaf(t, .drop)
                return false
            }
            let d = addressValue(t.pkt.daddr)
            let loopDst = fam == .ipv4 ? (d >> 24 == 127) : (d == 1)
            if loopDst {
                let localnet = fam == .ipv4 && (sysctls.routeLocalnet["all"] == true || sysctls.routeLocalnet[t.pkt.arrivalName] == true)
                if !localnet {
                    t.path.append(routingStep("drop (martian destination \(addressText(d, fam)))"))
                    leaf(t, .drop)
                    return false
                }
            }
        }
        let d = addressValue(t.pkt.daddr)
        if !routing.isLocal(fam, d) {
            t.path.append(routingStep("forward to \(addressText(d, fam))"))
            return forward(&t, d)
        }
        return true
    }

    /// A packet routed to another machine or namespace: the forwarding sysctl and the route decide whether it goes on
    /// to the forward hook, with the route's device as output interface. Returns false when the branch ended.
    private mutating func forward(_ t: inout EvalThread, _ d: UInt128) -> Bool {
        let fam = t.pkt.family
        func drop(_ why: String) -> Bool {
            t.path.append(PathStep(table: "", family: fam.rawValue, chain: "", hook: "routing", priority: 0, handle: nil, action: "drop (\(why))"))
            leaf(t, .drop)
            return false
        }
        // Host-originated traffic to another machine leaves through output; that path is not followed here.
        if t.pkt.local { leaf(t, .forwarded); return false }
        let sysctl = fam == .ipv4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding"
        switch fam == .ipv4 ? sysctls.ipForward : sysctls.ipv6Forwarding {
        case .some(false): return drop("forwarding disabled: \(sysctl) = 0")
        case .none:
            leaf(t, .undecidable("\(sysctl) was not recorded"))
            return false
        case .some(true): break
        }
        guard let r = routing.lookup(fam, d) else { return drop("no route to \(addressText(d, fam))") }
        guard r.type == RTN.unicast else { return drop("route type \(r.type) to \(addressText(d, fam))") }
        t.pkt.oifIndex = r.device
        t.pkt.oifName = routing.iface(index: r.device)?.name ?? ""
        guard let end = localDeliveryStage else {
            leaf(t, .forwarded)
            return false
        }
        // The caller steps past `end` to the first forward stage.
        t.stage = end
        return true
    }

    // MARK: rule execution

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

    private mutating func unknown(_ t: inout EvalThread, _ reason: String) {
        forkNoMatch(t, region: t.region, assumption: reason)
        if !t.assumptions.contains(reason) { t.assumptions.append(reason) }
    }

    /// Applies a match condition: `m` is the matching part of the region (nil: decided concretely by `ok`).
    /// Returns false when the rule does not match on the current branch.
    private mutating func condition(_ t: inout EvalThread, _ c: Cond) -> Bool {
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

    private mutating func execRule(_ t: inout EvalThread, _ rule: Rule) -> RuleOutcome {
        let exprs = rule.expressions
        if t.expr == 0 { t.partialMark = nil }
        while t.expr < exprs.count {
            let e = exprs[t.expr]
            t.expr += 1
            if t.pendingRegion != nil && Walker.hasEffect(e) { commit(&t) }
            switch e {
            case .payload(let p):
                guard let d = p.dreg else {
                    if let sreg = p.sreg { mangle(&t, p, sreg) }
                    continue
                }
                guard loadPayload(&t, p, d) else { return .next }
            case .meta(let m):
                if let s = m.sreg {
                    if m.key == 3, let off = regOffset(s), off + 4 <= EvalThread.registerBytes {
                        if let p = t.partialMark, p.reg == s {
                            t.pkt.markBits = p.value; t.pkt.markKnown = p.known
                        } else if t.tags[off..<(off + 4)].allSatisfy({ $0.kind == 0 }) {
                            t.pkt.mark = readU32Host(t.regs, off)
                        } else { t.pkt.mark = nil }
                    }
                    continue
                }
                guard let d = m.dreg else { continue }
                if m.key == 3, t.pkt.markKnown != .max, partialMark(&t, d, exprs) { continue }
                guard loadMeta(&t, m.key, d) else { return .next }
            case .ct(let c):
                if let s = c.sreg {
                    if c.key == 3, let off = regOffset(s), off + 4 <= EvalThread.registerBytes {
                        t.pkt.ctMark = t.tags[off..<(off + 4)].allSatisfy({ $0.kind == 0 }) ? readU32Host(t.regs, off) : nil
                    }
                    continue
                }
                guard let d = c.dreg else { continue }
                guard loadCt(&t, c, d) else { return .next }
            case .cmp(let c):
                let cond = compare(t, c)
                if !condition(&t, cond) { return .next }
            case .range(let r):
                let cond = rangeCond(t, r)
                if !condition(&t, cond) { return .next }
            case .bitwise(let b):
                bitwise(&t, b)
            case .byteorder(let b):
                byteorder(&t, b)
            case .immediate(let i):
                if i.dreg == 0 {
                    if let v = i.verdict { return .verdict(v, rule.handle) }
                    continue
                }
                if let data = i.data?.bytes { store(&t, i.dreg, data) }
            case .lookup(let l):
                switch lookup(&t, l) {
                case .noMatch: return .next
                case .matched: break
                case .verdict(let v): return .verdict(v, rule.handle)
                case .stop: return .stop
                }
            case .fib(let f):
                guard fib(&t, f) else { return .next }
            case .nat(let n):
                if let out = nat(&t, n, rule.handle) { return out }
            case .redir(let r):
                if let out = redirect(&t, r, rule.handle) { return out }
            case .masq:
                continue
            case .reject:
                t.path.append(chainStep(t, "reject", handle: rule.handle))
                leaf(t, .reject)
                return .stop
            case .counter, .log:
                continue
            case .notrack:
                applyNotrack(&t, handle: rule.handle)
            case .limit(let l):
                // A token bucket starts full and refills at its rate: a first new connection finds a token, so
                // `limit rate` matches it and `limit rate over` does not. Load changes that, so the limit is named.
                if l.inverted {
                    if !t.limits.contains(l.nftText) { t.limits.append(l.nftText) }
                    return .next
                }
                t.pendingLimits.append(l.nftText)
            case .quota(let q):
                // nft_overquota: over once consumed + the packet's length reaches the quota; `over` (inverted)
                // matches then, `until` before. A first packet is far shorter than 64 KiB.
                guard let used = q.consumed else { unknown(&t, "quota (its usage was not recorded)"); continue }
                let over: Bool
                if used >= q.bytes { over = true } else if q.bytes - used > 65535 { over = false } else {
                    unknown(&t, "quota almost used up"); continue
                }
                if q.inverted {
                    // `quota over … drop`: named even when it lets this packet by, as `limit rate over` is.
                    if !t.limits.contains(q.nftText) { t.limits.append(q.nftText) }
                    if !over { return .next }
                } else {
                    t.pendingLimits.append(q.nftText)
                    if over { return .next }
                }
            case .connlimit:
                unknown(&t, "connection limit")
            case .numgen(let n):
                taint(&t, n.dreg, 4, "numgen (random/incremental number)")
            case .hash(let h):
                taint(&t, h.dreg, 4, "hash of packet fields")
            case .socket(let s):
                taint(&t, s.dreg, 4, "socket expression")
            case .dynset(let d):
                // A meter's attached limit/quota/connlimit decides whether the rule goes on.
                if d.expressions.contains(where: { $0 != "counter" && $0 != "last" }) {
                    unknown(&t, "per-key \(d.expressions.joined(separator: "/")) in set @\(d.set)")
                }
            case .objref(let o):
                let type = o.objectType ?? o.set.flatMap { rs.tables[t.table].sets[$0]?.set.objectType } ?? 0
                if type == 1 || type == 3 { continue }
                unknown(&t, "named \(objectName(type)) \(o.name ?? o.set ?? "")")
            case .queue:
                t.path.append(chainStep(t, "queue", handle: rule.handle))
                leaf(t, .undecidable("queued to userspace"))
                return .stop
            case .exthdr(let x):
                if let d = x.dreg { taint(&t, d, Int(max(x.length, 1)), "extension header / TCP option") } else { continue }
            case .match(let x):
                let cond = x.name == "recent" ? xtRecent(&t, x) : xtMatch(t, x)
                if !condition(&t, cond) { return .next }
            case .target(let x):
                if let out = xtTarget(&t, x, rule.handle) { return out }
            case .unknown(let u):
                unknown(&t, "unknown expression \(u.name)")
            }
        }
        return .next
    }

    /// `meta mark` of a partly known mark followed by `& mask ^ xor` on the same register (kube-proxy's mark tests
    /// and `--set-xmark`): when the mask keeps only known bits the result is a constant; otherwise the result is
    /// remembered bit by bit for a following `meta mark set`. Consumes the bitwise; false when the pattern is absent.
    func partialMark(_ t: inout EvalThread, _ d: UInt32, _ exprs: [Expression]) -> Bool {
        guard t.expr < exprs.count, case .bitwise(let b) = exprs[t.expr], b.op == 0, b.sreg == d, b.length == 4,
              let off = regOffset(b.dreg), off + 4 <= EvalThread.registerBytes else { return false }
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
            if known { t.pkt.dport = UInt16(port[0]) << 8 | UInt16(port[1]) } else { t.pkt.notModelled = "destination port rewritten from packet data" }
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

    private func objectName(_ type: UInt32) -> String {
        switch type {
        case 2: "quota"
        case 4: "limit"
        case 5: "connlimit"
        default: "object type \(type)"
        }
    }

    // MARK: registers

    func store(_ t: inout EvalThread, _ reg: UInt32, _ data: [UInt8]) {
        if t.partialMark?.reg == reg { t.partialMark = nil }
        guard let off = regOffset(reg) else { return }
        let padded = (data.count + 3) / 4 * 4
        for i in 0..<padded where off + i < EvalThread.registerBytes {
            t.regs[off + i] = i < data.count ? data[i] : 0
            t.tags[off + i] = .concrete
        }
    }

    func taint(_ t: inout EvalThread, _ reg: UInt32, _ len: Int, _ reason: String) {
        guard let off = regOffset(reg) else { return }
        let idx = reasonIndex(&t, reason)
        let padded = (len + 3) / 4 * 4
        for i in 0..<padded where off + i < EvalThread.registerBytes {
            t.regs[off + i] = 0
            t.tags[off + i] = ByteTag(kind: 2, index: idx, mask: 0, xor: 0)
        }
    }

    /// Reasons are interned in the thread's assumption table through a stable small index.
    func reasonIndex(_ t: inout EvalThread, _ reason: String) -> UInt8 {
        if let i = Walker.reasonTable.firstIndex(of: reason) { return UInt8(i) }
        return UInt8(Walker.reasonTable.count - 1)
    }

    static let reasonTable: [String] = [
        "source port", "packet mark", "conntrack mark", "socket owner (uid/gid/cgroup)", "time of day", "random number",
        "packet length", "security mark", "numgen (random/incremental number)", "hash of packet fields", "socket expression",
        "extension header / TCP option", "link-layer addresses", "IPv4 length/id field", "IPv4 ttl", "IPv4 checksum",
        "IPv6 traffic class/flow label", "IPv6 payload length", "IPv6 hop limit", "TCP sequence number", "TCP data offset",
        "TCP window/checksum", "TCP options", "UDP length/checksum", "UDP payload", "transport header", "inner header payload",
        "dynamic set data", "conntrack field", "interface group", "cpu", "routing by packet mark", "byte order conversion of source address",
        "unmodelled meta key",
    ]

    func readU32Host(_ regs: [UInt8], _ off: Int) -> UInt32 {
        UInt32(regs[off]) | UInt32(regs[off + 1]) << 8 | UInt32(regs[off + 2]) << 16 | UInt32(regs[off + 3]) << 24
    }

    func hostU32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
    func hostU16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

    static func ifname(_ s: String) -> [UInt8] {
        var b = Array(s.utf8.prefix(16))
        while b.count < 16 { b.append(0) }
        return b
    }

    private func loadPayload(_ t: inout EvalThread, _ p: Payload, _ dreg: UInt32) -> Bool {
        guard let off = regOffset(dreg) else { return false }
        let len = Int(p.length)
        let padded = (len + 3) / 4 * 4
        guard off + padded <= EvalThread.registerBytes else { return false }
        for i in 0..<padded {
            if i >= len { t.regs[off + i] = 0; t.tags[off + i] = .concrete; continue }
            switch t.pkt.byte(base: p.base, offset: Int(p.offset) + i, symbolic: symbolic && t.region != nil) {
            case .value(let v): t.regs[off + i] = v; t.tags[off + i] = .concrete
            case .saddr(let j, let v): t.regs[off + i] = v; t.tags[off + i] = ByteTag(kind: 1, index: UInt8(j), mask: 0xff, xor: 0)
            case .unknown(let why):
                t.regs[off + i] = 0
                t.tags[off + i] = ByteTag(kind: 2, index: reasonIndex(&t, why), mask: 0, xor: 0)
            case .beyond: return false
            }
        }
        return true
    }

    private func loadMeta(_ t: inout EvalThread, _ key: UInt32, _ d: UInt32) -> Bool {
        let p = t.pkt
        switch key {
        case 1: store(&t, d, be16(p.family == .ipv4 ? 0x0800 : 0x86dd))
        case 3:
            if let m = p.mark { store(&t, d, hostU32(m)) } else { taint(&t, d, 4, "packet mark") }
        case 4: store(&t, d, hostU32(p.iifIndex))
        case 5: store(&t, d, hostU32(p.oifIndex))
        case 6: store(&t, d, Walker.ifname(p.iifName))
        case 7: store(&t, d, Walker.ifname(p.oifName))
        case 8:
            if p.iifIndex == 0 { return false }
            store(&t, d, hostU16(p.iifType))
        case 9:
            if p.oifIndex == 0 { return false }
            store(&t, d, hostU16(772))
        case 10, 11, 23: taint(&t, d, key == 23 ? 8 : 4, "socket owner (uid/gid/cgroup)")
        case 15: store(&t, d, [stageNfproto(t)])
        case 16: store(&t, d, [p.l4])
        case 19:
            let daddr = addressValue(p.daddr)
            let pt: UInt8 = HostRouting.isMulticast(p.family, daddr) ? 2 : (p.family == .ipv4 && routing.addressType(.ipv4, daddr, device: nil) == RTN.broadcast ? 1 : 0)
            store(&t, d, [pt])
        case 0: taint(&t, d, 4, "packet length")
        case 2: store(&t, d, hostU32(0))
        case 20: taint(&t, d, 4, "cpu")
        case 21: taint(&t, d, 4, "interface group")
        case 24: taint(&t, d, 4, "random number")
        case 25: store(&t, d, [0])
        case 26:
            guard let kind = p.iifKind, p.iifIndex != 0 else { return false }
            store(&t, d, Walker.ifname(kind))
        case 18: taint(&t, d, 4, "security mark")
        case 30, 31, 32: taint(&t, d, 8, "time of day")
        case 33: store(&t, d, hostU32(0))
        case 34: store(&t, d, Walker.ifname(""))
        default: taint(&t, d, 16, "unmodelled meta key")
        }
        return true
    }

    private func stageNfproto(_ t: EvalThread) -> UInt8 {
        if let b = currentBase(t), rs.tables[b.table].family == .netdev { return 5 }
        return t.pkt.nfproto
    }

    func ctState(_ t: EvalThread) -> UInt32? {
        // nil: no conntrack entry attached (the kernel reads `invalid` for the state and fails other keys).
        if t.pkt.notrack { return nil }
        guard let b = currentBase(t) else { return 8 }
        if t.pkt.local { return b.hook == .output && b.effectivePriority < -200 ? nil : 8 }
        if b.hook == .ingress { return nil }
        if b.hook == .prerouting && b.effectivePriority < -200 { return nil }
        return 8
    }

    /// `notrack` / `-j CT --notrack` only mark a packet that has no conntrack entry yet (nft_notrack_eval,
    /// xt_ct_target: "previously seen? ignore"). Host-local traffic was tracked on output at -200, so a notrack in
    /// prerouting/input (or late in output) leaves it `new`.
    func applyNotrack(_ t: inout EvalThread, handle: UInt64) {
        if t.pkt.notrack { return }
        if ctState(t) != nil {
            t.path.append(chainStep(t, "notrack (ignored: already tracked)", handle: handle))
            return
        }
        t.pkt.notrack = true
        t.path.append(chainStep(t, "notrack", handle: handle))
    }

    private func loadCt(_ t: inout EvalThread, _ c: Ct, _ d: UInt32) -> Bool {
        let state = ctState(t)
        if c.key == 0 {
            store(&t, d, hostU32(state ?? (t.pkt.notrack ? 0x40 : 0x01)))
            return true
        }
        guard state != nil else { return false }
        let p = t.pkt
        let reply = (c.direction ?? 0) == 1
        let famLen = p.family == .ipv4 ? 4 : 16
        func loadSaddr(_ t: inout EvalThread) {
            guard let off = regOffset(d) else { return }
            for i in 0..<((famLen + 3) / 4 * 4) where off + i < EvalThread.registerBytes {
                if i < famLen, symbolic && t.region != nil {
                    t.regs[off + i] = p.saddr[i]; t.tags[off + i] = ByteTag(kind: 1, index: UInt8(i), mask: 0xff, xor: 0)
                } else {
                    t.regs[off + i] = i < famLen ? p.saddr[i] : 0; t.tags[off + i] = .concrete
                }
            }
        }
        switch c.key {
        case 1: store(&t, d, [0])
        case 2: store(&t, d, hostU32(p.dnat ? 0x120 : 0))
        case 3:
            if let m = p.ctMark { store(&t, d, hostU32(m)) } else { taint(&t, d, 4, "conntrack mark") }
        case 7: store(&t, d, [p.nfproto])
        case 10: store(&t, d, [p.l4])
        case 8, 19, 21:
            if (c.key == 19 && p.family != .ipv4) || (c.key == 21 && p.family != .ipv6) { return false }
            if reply { store(&t, d, p.daddr) } else { loadSaddr(&t) }
        case 9, 20, 22:
            if (c.key == 20 && p.family != .ipv4) || (c.key == 22 && p.family != .ipv6) { return false }
            if reply { loadSaddr(&t) } else { store(&t, d, p.origDaddr) }
        case 11:
            if reply { store(&t, d, be16(p.dport)) } else if p.sportKnown { store(&t, d, be16(p.sport)) } else { taint(&t, d, 2, "source port") }
        case 12:
            if reply { if p.sportKnown { store(&t, d, be16(p.sport)) } else { taint(&t, d, 2, "source port") } } else { store(&t, d, be16(p.origDport)) }
        default:
            taint(&t, d, 16, "conntrack field")
        }
        return true
    }

    private func bitwise(_ t: inout EvalThread, _ b: Bitwise) {
        guard let s = regOffset(b.sreg), let d = regOffset(b.dreg) else { return }
        let len = Int(b.length)
        guard s + len <= EvalThread.registerBytes, d + len <= EvalThread.registerBytes else { return }
        let src = Array(t.regs[s..<(s + len)]), stag = Array(t.tags[s..<(s + len)])
        switch b.op {
        case 0:
            let mask = b.mask?.bytes ?? [], xor = b.xor?.bytes ?? []
            for i in 0..<len {
                let m = i < mask.count ? mask[i] : 0xff, x = i < xor.count ? xor[i] : 0
                t.regs[d + i] = (src[i] & m) ^ x
                var tag = stag[i]
                switch tag.kind {
                case 1:
                    tag.mask &= m
                    tag.xor = (tag.xor & m) ^ x
                    // A byte masked to zero stays tagged, so the prefix test it belongs to is still recognised;
                    // one set to a non-zero constant is just that constant.
                    if tag.mask == 0 && tag.xor != 0 { tag = .concrete }
                case 2:
                    if m == 0 { tag = .concrete }
                default: break
                }
                t.tags[d + i] = tag
            }
        case 1, 2:
            // Shifts work on 32-bit host-order words.
            let shift = UInt32(b.data?.bytes.first ?? 0)
            let anyTag = stag.contains { $0.kind != 0 }
            var words: [UInt32] = stride(from: 0, to: len, by: 4).map { i in
                var w: UInt32 = 0
                for k in 0..<4 where i + k < len { w |= UInt32(src[i + k]) << (8 * UInt32(k)) }
                return w
            }
            if b.op == 1 {
                var carry: UInt32 = 0
                for i in stride(from: words.count - 1, through: 0, by: -1) {
                    let w = words[i]
                    words[i] = (w << shift) | carry
                    carry = shift == 0 ? 0 : w >> (32 - shift)
                }
            } else {
                var carry: UInt32 = 0
                for i in 0..<words.count {
                    let w = words[i]
                    words[i] = carry | (w >> shift)
                    carry = shift == 0 ? 0 : w << (32 - shift)
                }
            }
            for i in 0..<len {
                t.regs[d + i] = UInt8(truncatingIfNeeded: words[i / 4] >> (8 * UInt32(i % 4)))
                t.tags[d + i] = anyTag ? ByteTag(kind: 2, index: reasonIndex(&t, "byte order conversion of source address"), mask: 0, xor: 0) : .concrete
            }
        default:
            taint(&t, b.dreg, len, "unmodelled meta key")
        }
    }

    private func byteorder(_ t: inout EvalThread, _ b: Byteorder) {
        guard let s = regOffset(b.sreg), let d = regOffset(b.dreg) else { return }
        let len = Int(b.length), size = max(Int(b.size), 1)
        guard s + len <= EvalThread.registerBytes, d + len <= EvalThread.registerBytes else { return }
        let src = Array(t.regs[s..<(s + len)]), stag = Array(t.tags[s..<(s + len)])
        var i = 0
        while i < len {
            let n = min(size, len - i)
            for k in 0..<n {
                t.regs[d + i + k] = src[i + n - 1 - k]
                let tag = stag[i + n - 1 - k]
                t.tags[d + i + k] = tag.kind == 1 ? ByteTag(kind: 2, index: reasonIndex(&t, "byte order conversion of source address"), mask: 0, xor: 0) : tag
            }
            i += n
        }
    }
}

extension Walker {
    /// Set operations of a symbolic walk, shared through the exposure run's cache (see `SymbolicCache.op`).
    func isect(_ a: AddressSet, _ b: AddressSet) -> AddressSet {
        guard let c = cache, !(a.isEmpty || b.isEmpty || a.isFull || b.isFull) else { return a.intersection(b) }
        return c.op(0, a, b) { $0.intersection($1) }
    }

    func minus(_ a: AddressSet, _ b: AddressSet) -> AddressSet {
        guard let c = cache, !(a.isEmpty || b.isEmpty || b.isFull) else { return a.subtracting(b) }
        return c.op(1, a, b) { $0.subtracting($1) }
    }

    func compl(_ a: AddressSet) -> AddressSet {
        guard let c = cache, !(a.isEmpty || a.isFull) else { return a.complement() }
        return c.op(2, a, a) { x, _ in x.complement() }
    }
}
