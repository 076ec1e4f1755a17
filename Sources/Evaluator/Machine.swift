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
        /// The destination the guard saw (after any DNAT on the way), to test it again on another device.
        var dport: UInt16
        var daddr: [UInt8]
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

    static func buildMartians(_ fam: IPFamily, routeLocalnet: Bool) -> AddressSet {
        if fam == .ipv4 {
            var r: [ClosedRange<UInt128>] = [
                0...((UInt128(1) << 24) - 1), (UInt128(0xe) << 28)...((UInt128(0xf) << 28) - 1), UInt128(UInt32.max)...UInt128(UInt32.max)
            ]
            if !routeLocalnet { r.append((UInt128(127) << 24)...((UInt128(128) << 24) - 1)) }
            return AddressSet(family: .ipv4, ranges: r)
        }
        return AddressSet(
            family: .ipv6,
            ranges: [
                1...1, (UInt128(0xffff) << 32)...((UInt128(0xffff) << 32) | UInt128(UInt32.max)),
                (UInt128(0xff) << 120)...UInt128.max
            ])
    }

    mutating func run(_ initial: EvalThread) -> [Leaf] {
        leaves = []
        work = [initial]
        while var t = work.popLast() {
            budget -= 1
            if budget < 0 {
                leaves.append(
                    Leaf(
                        region: t.region, kind: .undecidable("too many undecidable branches"), packet: t.pkt, path: t.path,
                        assumptions: t.assumptions, limits: t.allLimits))
                continue
            }
            step(&t)
        }
        return leaves
    }

    // MARK: chain walk

    func chainStep(_ t: EvalThread, _ action: StepAction, handle: UInt64?) -> PathStep {
        let b = currentBase(t)
        return PathStep(
            table: rs.tables[t.table].name, family: .table(rs.tables[t.table].family), chain: rs.tables[t.table].chains[t.chain].name,
            hook: b.map { .hook($0.hook) }, priority: b?.priority ?? 0, handle: handle, action: action)
    }

    func currentBase(_ t: EvalThread) -> CompiledRuleset.BaseRef? {
        guard t.stage < stages.count, case .chain(let b) = stages[t.stage] else { return nil }
        return b
    }

    mutating func leaf(_ t: EvalThread, _ kind: Leaf.Kind) {
        leaves.append(Leaf(region: t.region, kind: kind, packet: t.pkt, path: t.path, assumptions: t.assumptions, limits: t.allLimits))
    }

    mutating func step(_ t: inout EvalThread) {
        // The current chain's rules and guards, refreshed only when the chain changes.
        var cachedTable = -1, cachedChain = -1
        var rules: [Rule] = []
        var guards: [RuleGuard] = []
        var bounds: [UInt32] = []
        var destinations: [UInt64] = []
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
                destinations = rs.tables[t.table].destinationKeys[t.chain]
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
                skipOtherDestinations(&t, bounds: bounds, destinations: destinations)
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
                if recordObservations { observe(g, passed: passed, t) }
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
                t.path.append(chainStep(t, .note(text), handle: handle))
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

    /// Records what a guard's test observed of the question (exposure reuses the walk where it would read the same).
    mutating func observe(_ g: RuleGuard, passed: Bool, _ t: EvalThread) {
        if g.readsInterface {
            interfaceGuards.append(
                GuardOutcome(table: t.table, chain: t.chain, rule: t.rule, passed: passed, dport: t.pkt.dport, daddr: t.pkt.daddr))
        }
        if g.readsDestination { touched |= RuleTouches.destination }
        if passed { touched |= rs.tables[t.table].touches[t.chain][t.rule] }
    }

    /// Rules for other destination ports fail their guard anyway: steps over them without loading it. So do rules
    /// for another IPv4 destination (those read it, which is recorded: a reused walk must not skip them elsewhere).
    mutating func skipOtherDestinations(_ t: inout EvalThread, bounds: [UInt32], destinations: [UInt64]) {
        let port = UInt32(t.pkt.dport)
        let daddr = Walker.destinationKey(t.pkt)
        while t.rule < bounds.count {
            if port < bounds[t.rule] >> 16 || port > bounds[t.rule] & 0xffff {
                t.rule += 1
            } else if destinations[t.rule] != 0 && destinations[t.rule] != daddr {
                if recordObservations { touched |= RuleTouches.destination }
                t.rule += 1
            } else {
                return
            }
        }
    }

    func setIfaceForHook(_ t: inout EvalThread, _ hook: Hook) {
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

    func enterBase(_ t: inout EvalThread, _ b: CompiledRuleset.BaseRef) {
        setIfaceForHook(&t, b.hook)
        t.inChain = true
        t.table = b.table
        t.chain = b.chain
        t.rule = 0
        t.expr = 0
        t.stack = []
    }

    /// End of a base chain (or `return` in it): its policy decides. Returns false when the branch ended.
    mutating func endBase(_ t: inout EvalThread) -> Bool {
        guard let b = currentBase(t) else { return false }
        let step = PathStep(
            table: rs.tables[b.table].name, family: .table(rs.tables[b.table].family),
            chain: rs.tables[b.table].chains[b.chain].name, hook: .hook(b.hook),
            priority: b.priority, handle: nil, action: .policy(b.policy))
        t.path.append(step)
        if b.policy == .drop { leaf(t, .drop); return false }
        t.inChain = false
        t.stage += 1
        return true
    }

    /// Applies a verdict. Returns false when the branch ended.
    mutating func applyVerdict(_ t: inout EvalThread, _ v: Verdict, handle: UInt64?) -> Bool {
        switch v {
        case .accept:
            t.path.append(chainStep(t, .accept, handle: handle))
            t.inChain = false
            t.stage += 1
            return true
        case .drop:
            t.path.append(chainStep(t, .drop, handle: handle))
            leaf(t, .drop)
            return false
        case .continue, .break:
            t.rule += 1; t.expr = 0
            return true
        case .return:
            t.path.append(chainStep(t, .return, handle: handle))
            if let top = t.stack.popLast() {
                t.table = top.table; t.chain = top.chain; t.rule = top.rule; t.expr = 0
                return true
            }
            return endBase(&t)
        case .jump(let name), .goto(let name):
            let isJump: Bool
            if case .jump = v { isJump = true } else { isJump = false }
            t.path.append(chainStep(t, isJump ? .jump(name) : .goto(name), handle: handle))
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
            t.path.append(chainStep(t, .queue, handle: handle))
            leaf(t, .undecidable("queued to userspace"))
            return false
        case .stolen, .repeatVerdict, .other:
            t.path.append(chainStep(t, StepAction(v.description), handle: handle))
            leaf(t, .undecidable("verdict \(v.description)"))
            return false
        }
    }

    /// The routing decision after prerouting. Returns false when the branch ended.
    mutating func route(_ t: inout EvalThread) -> Bool {
        let fam = t.pkt.family
        func routingStep(_ note: String) -> PathStep { .routing(fam, .note(note)) }
        if !t.pkt.local {
            // Martian sources: loopback addresses never arrive from outside.
            let loopSrc = Walker.martianSources(
                fam, routeLocalnet: sysctls.routeLocalnet["all"] == true || sysctls.routeLocalnet[t.pkt.arrivalName] == true)
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
            let loopDst = isLoopback(fam, d)
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
    mutating func forward(_ t: inout EvalThread, _ d: UInt128) -> Bool {
        let fam = t.pkt.family
        func drop(_ why: String) -> Bool {
            t.path.append(.routing(fam, .note("drop (\(why))")))
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
