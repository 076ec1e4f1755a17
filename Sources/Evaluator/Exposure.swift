import Dispatch
import HostModel
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// Symbolic exposure: every distinct question (family, protocol, destination, port) is walked once per input
/// interface with the whole source-address space as one region; rules split the region, never packets.
extension Evaluator {
    /// An input interface of the exposure grid.
    struct GridInterface: Sendable {
        var name: String
        var exists: Bool
        var local: Bool
    }

    struct Question: Hashable, Sendable {
        var family: IPFamily
        var proto: L4Proto
        var daddr: [UInt8]
        var dport: UInt16
    }

    /// Which interfaces to ask about: every real one, `lo`, names the rules mention that do not exist, and one more.
    func gridInterfaces() -> [GridInterface] {
        var out: [GridInterface] = []
        var seen = Set<String>()
        for i in routing.interfaces where !i.loopback {
            // A bridge or bond port hands its packets to its master: IP never sees them arrive on the port itself.
            if i.portOfBridgeOrBond { continue }
            out.append(GridInterface(name: i.name, exists: true, local: false)); seen.insert(i.name)
        }
        for name in ruleInterfaceNames() where !seen.contains(name) && name != "lo" {
            out.append(GridInterface(name: name, exists: false, local: false)); seen.insert(name)
        }
        out.append(GridInterface(name: InterfaceScope.standIn, exists: false, local: false))
        out.append(GridInterface(name: "lo", exists: true, local: true))
        return out
    }

    /// Interface names compared by `meta iifname` in any rule (a prefix match gets a made-up full name).
    func ruleInterfaceNames() -> [String] {
        var names: [String] = []
        for t in rs.tables {
            for c in t.chains {
                for r in c.rules {
                    var ifnameRegs = Set<UInt32>()
                    for e in r.expressions {
                        switch e {
                        case .meta(let m) where m.key == 6: if let d = m.dreg { ifnameRegs.insert(d) }
                        case .meta(let m): if let d = m.dreg { ifnameRegs.remove(d) }
                        case .payload(let p): if let d = p.dreg { ifnameRegs.remove(d) }
                        case .ct(let c): if let d = c.dreg { ifnameRegs.remove(d) }
                        case .immediate(let i): ifnameRegs.remove(i.dreg)
                        case .bitwise(let b): ifnameRegs.remove(b.dreg)
                        case .byteorder(let b): ifnameRegs.remove(b.dreg)
                        case .fib(let f): ifnameRegs.remove(f.dreg)
                        case .lookup(let l):
                            if ifnameRegs.contains(l.sreg), let set = t.sets[l.set] {
                                for el in set.set.elements where !el.isIntervalEnd && !el.isCatchAll {
                                    let b = el.key.bytes.prefix(16)
                                    let n = b.firstIndex(of: 0) ?? b.endIndex
                                    if n > 0, b[..<n].allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
                                        names.append(String(decoding: b[..<n], as: UTF8.self))
                                    }
                                }
                            }
                            if let d = l.dreg { ifnameRegs.remove(d) }
                        case .cmp(let cmp) where ifnameRegs.contains(cmp.sreg):
                            let b = cmp.data.bytes
                            guard cmp.op == .eq || cmp.op == .neq, b.allSatisfy({ $0 == 0 || ($0 >= 0x20 && $0 < 0x7f) }) else { break }
                            if let nul = b.firstIndex(of: 0) {
                                if nul > 0 { names.append(String(decoding: b[0..<nul], as: UTF8.self)) }
                            } else if !b.isEmpty {
                                names.append(String(decoding: b, as: UTF8.self) + "+")
                            }
                        default: break
                        }
                    }
                }
            }
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    func localAddresses(_ fam: IPFamily, skippingPorts: Bool = false) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in routing.interfaces where !(skippingPorts && i.portOfBridgeOrBond) {
            for v in fam == .ipv4 ? i.v4 : i.v6 { out.append(addressBytes(v, fam)) }
        }
        return out
    }

    /// Destinations a listener answers on for `fam`: its bind address, or every local address for a wildcard.
    func destinations(_ l: Listener, _ fam: IPFamily) -> [[UInt8]] {
        if l.bindScope == .wildcard { return localAddresses(fam) }
        if fam == .ipv4 {
            if let a = IPv4Address(l.address) { return [a.bytes] }
            if let a = IPv6Address(l.address)?.mappedIPv4 { return [a.bytes] }
            return []
        }
        if let a = IPv6Address(l.address) { return [a.bytes] }
        return []
    }

    /// Every listener with the partition of (family, interface, destination, source range) that reaches it.
    public func exposure() -> [ListenerExposure] { fullExposure().listeners }

    /// Listeners as `exposure()` gives them, plus the host's ports that DNAT sends to another machine.
    /// `reuseWalks: false` walks every (question, interface) afresh: the reference the reuse is tested against.
    /// `workers` walks and summarizes on that many threads (the result does not depend on it).
    public func fullExposure(reuseWalks: Bool = true, workers: Int = Evaluator.defaultWorkers) -> ExposureResult {
        let grid = gridInterfaces()
        var questions: [Question] = []
        var seenQ = Set<Question>()
        func add(_ q: Question) { if seenQ.insert(q).inserted { questions.append(q) } }
        for l in snapshot.listeners {
            for fam in l.receivesFamilies {
                for d in destinations(l, fam) { add(Question(family: fam, proto: l.proto, daddr: d, dport: l.port)) }
            }
        }
        if rs.hasNat {
            // A forwarded port needs no local socket: every port a translating rule compares, under its protocol
            // (both when it names none), on the host's own addresses; another compared address with its own rule's
            // ports. Not the addresses of bridge and bond ports: a packet arriving there is the master's.
            for fam in IPFamily.allCases {
                let own = localAddresses(fam, skippingPorts: true)
                let others = (rs.natAddresses[fam] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }
                for p in L4Proto.allCases {
                    let ports = (rs.natPorts[fam]?[p] ?? []).sorted()
                    for d in own { for port in ports { add(Question(family: fam, proto: p, daddr: d, dport: port)) } }
                    for (d, dports) in others {
                        for port in (dports[p] ?? []).sorted() { add(Question(family: fam, proto: p, daddr: d, dport: port)) }
                    }
                }
            }
        }

        let workers = max(1, min(workers, questions.count))
        let cells = walkAll(questions, grid: grid, reuseWalks: reuseWalks, workers: workers)

        // In question order, so parts, paths and reasons accumulate exactly as a sequential run would.
        var acc: [Int: [RegionKey: Accum]] = [:]
        let memo = SetMemo(routeLocalnet: snapshot.sysctls.routeLocalnet["all"] == true, interner: SetInterner())
        var fwdKeys: [ForwardKey] = []
        var fwdCells: [Accum] = []
        for (qi, q) in questions.enumerated() {
            for (gi, g) in grid.enumerated() {
                guard let cell = cells[qi][gi] else { continue }
                fwdKeys += cell.forwarded.keys
                fwdCells += cell.forwarded.cells
                for seg in cell.segments {
                    // One shared copy per distinct set: listeners and ports under the same rules get equal sets.
                    let region = memo.intern(seg.region)
                    for li in seg.listeners {
                        let key = RegionKey(
                            family: q.family, interface: g.name, exists: g.exists, local: g.local,
                            daddr: q.daddr, dport: q.dport, verdict: seg.verdict, leaf: seg.leafPathKey)
                        acc[li, default: [:]][key, default: Accum(sets: [], path: seg.path, reasons: seg.reasons)]
                            .add(region, seg.reasons, limits: seg.limits)
                    }
                }
            }
        }
        let result = summarizeAll(acc, workers: workers)
        let listeners = result.enumerated().sorted { a, b in
            if a.element.summary != b.element.summary { return a.element.summary < b.element.summary }
            return a.offset < b.offset
        }.map(\.element)
        return ExposureResult(listeners: listeners, forwarded: summarizeForwarded(fwdKeys, fwdCells, workers: workers))
    }

    /// What one (question, interface) walk contributes: disjoint segments, and the branches DNAT sent elsewhere
    /// (merged by outcome; no other cell has the same keys, since every key names the question and the interface).
    struct Cell: Sendable {
        var segments: [Segment]
        var forwarded: ForwardCells
    }

    /// Walks every question on every interface of the grid. Workers take units of work as they finish the last
    /// one: all the local questions of one (family, protocol, port) together, since those reuse each other's walks
    /// (see `walkUnits`), and every other question alone. Each unit starts with empty walk records, so which worker
    /// takes it changes the speed, never the answer; a worker keeps its symbolic cache (pure results) across units.
    func walkAll(_ questions: [Question], grid: [GridInterface], reuseWalks: Bool, workers: Int) -> [[Cell?]] {
        let units = walkUnits(questions)
        let slots = Slots<[Cell?]>(count: questions.count, empty: [])
        let next = WorkCounter()
        let run: @Sendable (Int) -> Void = { _ in
            let cache = SymbolicCache()
            while true {
                let u = next.take()
                if u >= units.count { return }
                var walks: [WalkKey: [WalkRecord]] = [:]
                for qi in units[u] {
                    slots[qi] = self.walk(questions[qi], grid: grid, reuseWalks: reuseWalks, cache: cache, walks: &walks)
                }
            }
        }
        if workers == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: run) }
        return slots.values
    }

    /// Question indices grouped into units of work, in question order: a walk is reused only for a question of the
    /// same family, protocol and port with a local destination, so those stay in one unit; the rest (a ClusterIP,
    /// a loopback address) are units of one. Without this a container host's 2,000 ClusterIP questions, all on
    /// port 80, fell to one worker.
    func walkUnits(_ questions: [Question]) -> [[Int]] {
        struct UnitKey: Hashable {
            var family: IPFamily
            var proto: L4Proto
            var dport: UInt16
        }
        var units: [[Int]] = []
        var shared: [UnitKey: Int] = [:]
        for (i, q) in questions.enumerated() {
            let v = addressValue(q.daddr)
            let loopDst = isLoopback(q.family, v)
            guard !loopDst, routing.isLocal(q.family, v) else {
                units.append([i])
                continue
            }
            let k = UnitKey(family: q.family, proto: q.proto, dport: q.dport)
            if let u = shared[k] {
                units[u].append(i)
            } else {
                shared[k] = units.count
                units.append([i])
            }
        }
        return units
    }

    func walk(_ q: Question, grid: [GridInterface], reuseWalks: Bool, cache: SymbolicCache, walks: inout [WalkKey: [WalkRecord]]) -> [Cell?] {
        let dValue = addressValue(q.daddr)
        let loopDst = isLoopback(q.family, dValue)
        let isLocal = routing.isLocal(q.family, dValue)
        var out: [Cell?] = []
        out.reserveCapacity(grid.count)
        for g in grid {
            if loopDst && !g.local && snapshot.sysctls.routeLocalnet["all"] != true { out.append(nil); continue }
            let pkt = makePacket(
                family: q.family, proto: q.proto, saddr: addressBytes(0, q.family), daddr: q.daddr,
                sport: nil, dport: q.dport, iif: g.name)
            let start = initialThread(pkt, region: AddressSet.full(q.family))
            let stages = stages(for: pkt)
            let tied = Evaluator.tiedGroups(stages)
            // Another local, non-loopback destination or another device often takes the very same path: reuse
            // a walk when nothing it ran could tell the two questions apart (see `reusable`). A destination that is
            // not local is routed by its address, so its walks stand only for other devices. Walks with tied base
            // chains are walked in several orders, which the record would not describe: never reused.
            let memoizable = reuseWalks && !loopDst && tied.isEmpty
            let wk = WalkKey(family: q.family, proto: q.proto, dport: q.dport, local: g.local, daddr: isLocal ? nil : q.daddr)
            let leaves: [Leaf]
            let keys: LeafKeys
            var forwarded: [ForwardPiece]?
            if memoizable, let rec = walks[wk]?.first(where: { reusable($0, start.pkt, g) }) {
                leaves = rec.leaves.map { rebase($0, onto: start.pkt) }
                keys = rec.keys
                // The same destination: the translated branches are the record's, whatever the device.
                if rec.daddr == q.daddr { forwarded = rec.forwarded }
            } else {
                var walker = Walker(
                    rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: stages,
                    symbolic: true, cache: cache)
                walker.recordObservations = memoizable
                leaves = walker.run(start)
                keys = LeafKeys(leaves)
                if !g.local && isLocal { forwarded = forwardPieces(leaves, keys: keys, proto: q.proto) }
                if memoizable && (walks[wk]?.count ?? 0) < 8 {
                    walks[wk, default: []].append(
                        WalkRecord(
                            leaves: leaves, keys: keys, daddr: q.daddr, interface: g.name,
                            touched: walker.touched, interfaceGuards: walker.interfaceGuards,
                            forwarded: forwardedReadsDevice(leaves) ? nil : forwarded))
                }
            }
            if forwarded == nil && !g.local && isLocal { forwarded = forwardPieces(leaves, keys: keys, proto: q.proto) }
            var segments = overlay(leaves, keys: keys, proto: q.proto)
            if !tied.isEmpty { segments = orderAmbiguity(segments, stages: stages, groups: tied, start: start, cache: cache, proto: q.proto) }
            out.append(Cell(segments: segments, forwarded: forwardCells(forwarded ?? [], q, g)))
        }
        return out
    }

    /// Tied base chains (one hook, one priority) run in registration order, which no snapshot records. As `trace`
    /// does for one packet, every other order is walked too (a bounded number); the sources whose delivery differs
    /// between orders (accepted or not, by which listener) become conditional, with the reason. A difference that
    /// delivers in no order (drop in one, reject in another, DNAT to another host) keeps the first order's verdict:
    /// it changes no listener's exposure.
    func orderAmbiguity(
        _ base: [Segment], stages: [Stage], groups: [Range<Int>], start: EvalThread, cache: SymbolicCache,
        proto: L4Proto
    ) -> [Segment] {
        guard let family = start.region?.family else { return base }
        /// Delivery outcomes only: a drop, a reject and no local outcome at all (DNAT to another host) are alike.
        func byKey(_ segs: [Segment]) -> [String: AddressSet] {
            var parts: [String: [AddressSet]] = [:]
            for s in segs {
                switch s.verdict {
                case .accept: parts["a\(s.listeners.sorted())", default: []].append(s.region)
                case .conditional: parts["c\(s.listeners.sorted())", default: []].append(s.region)
                case .drop, .reject: continue
                }
            }
            return parts.mapValues { AddressSet.unionAll(family, $0) }
        }
        var segments = base
        var budget = 16
        for g in groups {
            let members = Array(stages[g])
            let reason = ambiguityReason(members)
            for order in Evaluator.otherOrders(members) {
                budget -= 1
                if budget < 0 { return segments }
                var alt = stages
                alt.replaceSubrange(g, with: order)
                var walker = Walker(rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: alt, symbolic: true, cache: cache)
                let leaves = walker.run(start)
                let other = overlay(leaves, keys: LeafKeys(leaves), proto: proto)
                // Where the two orders disagree: the symmetric difference of each delivery outcome's sources.
                let mine = byKey(segments), theirs = byKey(other)
                var differ: [AddressSet] = []
                for k in Set(mine.keys).union(theirs.keys) {
                    let a = mine[k] ?? AddressSet(family: family), b = theirs[k] ?? AddressSet(family: family)
                    differ.append(a.subtracting(b))
                    differ.append(b.subtracting(a))
                }
                let d = AddressSet.unionAll(family, differ)
                if d.isEmpty { continue }
                segments = Self.markAmbiguous(segments, other: other, where: d, reason: reason, family: family)
            }
        }
        return segments
    }

    /// The segments with the sources `d`, where another order of equal-priority chains decides differently, made
    /// conditional (with both orders' listeners and reasons), plus the sources only the other order lets through.
    static func markAmbiguous(_ segments: [Segment], other: [Segment], where d: AddressSet, reason: String, family: IPFamily) -> [Segment] {
        var next: [Segment] = []
        for s in segments {
            let keep = s.region.subtracting(d)
            if !keep.isEmpty {
                var k = s
                k.region = keep
                next.append(k)
            }
            let amb = s.region.intersection(d)
            if amb.isEmpty { continue }
            var ls = s.listeners
            var reasons = s.reasons
            for t in other where t.region.intersects(amb) {
                for li in t.listeners where !ls.contains(li) { ls.append(li) }
                for r in t.reasons where !reasons.contains(r) { reasons.append(r) }
            }
            if !reasons.contains(reason) { reasons.append(reason) }
            next.append(
                Segment(
                    region: amb, verdict: .conditional, listeners: ls, path: s.path, reasons: reasons,
                    leafPathKey: "?" + s.leafPathKey + reasons.joined()))
        }
        // Sources only the other order delivers (or lets reach a listener at all).
        let rest = d.subtracting(AddressSet.unionAll(family, segments.map(\.region)))
        if !rest.isEmpty {
            for t in other {
                let r = t.region.intersection(rest)
                if r.isEmpty { continue }
                var reasons = t.reasons
                if !reasons.contains(reason) { reasons.append(reason) }
                next.append(
                    Segment(
                        region: r, verdict: .conditional, listeners: t.listeners, path: t.path, reasons: reasons,
                        leafPathKey: "?" + t.leafPathKey + reasons.joined()))
            }
        }
        return next
    }

    /// Every listener's summary; workers take interleaved listeners, each with its own memo (pure functions of the
    /// sets, so only the speed depends on the split).
    func summarizeAll(_ acc: [Int: [RegionKey: Accum]], workers: Int) -> [ListenerExposure] {
        let listeners = snapshot.listeners
        let slots = Slots<ListenerExposure?>(count: listeners.count, empty: nil)
        let localnet = snapshot.sysctls.routeLocalnet["all"] == true
        let n = min(workers, max(1, listeners.count))
        let run: @Sendable (Int) -> Void = { w in
            let memo = SetMemo(routeLocalnet: localnet, interner: SetInterner())
            var i = w
            while i < listeners.count {
                slots[i] = self.summarizeExposure(listeners[i], acc[i] ?? [:], memo: memo)
                i += n
            }
        }
        if n == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: n, execute: run) }
        return slots.values.compactMap { $0 }
    }

    /// Threads available to exposure: the online CPUs, at most 8.
    public static var defaultWorkers: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? min(Int(n), 8) : 1
    }

    struct WalkKey: Hashable {
        var family: IPFamily
        var proto: L4Proto
        var dport: UInt16
        var local: Bool
        /// A destination that is not local (routed by its address); nil for local ones.
        var daddr: [UInt8]?
    }

    /// A finished walk and what it observed of its question.
    struct WalkRecord {
        var leaves: [Leaf]
        var keys: LeafKeys
        var daddr: [UInt8]
        var interface: String
        var touched: UInt8
        var interfaceGuards: [Walker.GuardOutcome]
        /// The translated branches followed on (`forwardPieces`), when they do not depend on the input device.
        var forwarded: [ForwardPiece]?
    }

    /// Whether `rec` is exactly the walk a packet `pkt` arriving on `g` would take (same family, protocol, port and
    /// locality by construction). The walk is a function of what it reads: a destination nothing read may differ;
    /// a device may differ when no rule it ran read the device, every guard that tested the device answers the
    /// same, and the device-specific parts of the path (ingress chains, per-device `route_localnet`) are equal.
    func reusable(_ rec: WalkRecord, _ pkt: PacketState, _ g: GridInterface) -> Bool {
        if rec.daddr != pkt.daddr && rec.touched & RuleTouches.destination != 0 { return false }
        if rec.interface == g.name { return true }
        if rec.touched & RuleTouches.interface != 0 || g.local { return false }
        if ingressDevices.contains(rec.interface) || ingressDevices.contains(g.name) { return false }
        // As routing reads it: an interface without the sysctl (the stand-in, a name only rules mention) is off.
        if (snapshot.sysctls.routeLocalnet[rec.interface] == true) != (snapshot.sysctls.routeLocalnet[g.name] == true) { return false }
        // Each guard is tested on the packet as it saw it: a DNAT before it changed the destination it compares.
        for o in rec.interfaceGuards {
            var seen = pkt
            seen.dport = o.dport
            seen.daddr = o.daddr
            if Walker.guardPasses(seen, rs.tables[o.table].guards[o.chain][o.rule]) != o.passed { return false }
        }
        return true
    }

    /// A leaf of a reused walk, carried over to the question's destination and device. A translated leaf keeps its
    /// translated destination: NAT counts as reading the destination, so such a walk is only reused for the same one.
    func rebase(_ leaf: Leaf, onto pkt: PacketState) -> Leaf {
        var l = leaf
        if !l.packet.dnat { l.packet.daddr = pkt.daddr }
        l.packet.origDaddr = pkt.origDaddr
        if !pkt.local {
            l.packet.iifIndex = pkt.iifIndex
            l.packet.iifName = pkt.iifName
            l.packet.iifType = pkt.iifType
            l.packet.iifKind = pkt.iifKind
            l.packet.arrivalIndex = pkt.arrivalIndex
            l.packet.arrivalName = pkt.arrivalName
        }
        return l
    }

    /// A path as one key: the steps' keys joined. Leaves, regions and forwarded cells are grouped by it.
    /// Built by appending into one buffer: keys are made for every leaf of every walk (a tenth of a container host's
    /// exposure went to interpolating and joining them).
    static func pathKey(_ path: [PathStep]) -> String {
        var out = ""
        out.reserveCapacity(path.count * 40)
        for (i, s) in path.enumerated() {
            if i > 0 { out.append(">") }
            appendStepKey(&out, s)
        }
        return out
    }

    /// One step of a path as text: table, chain, rule handle and action.
    static func stepKey(_ s: PathStep) -> String {
        var out = ""
        appendStepKey(&out, s)
        return out
    }

    static func appendStepKey(_ out: inout String, _ s: PathStep) {
        out.append(s.table)
        out.append("/")
        out.append(s.chain)
        out.append("/")
        out.append(String(s.handle ?? 0))
        out.append("/")
        out.append(s.action.description)
    }
}

/// The path keys of one walk's leaves (`Evaluator.pathKey`), each made when first asked for: most leaves never need
/// one (a branch to another host with no listener of this one, a martian drop), and a container host's exposure spent a
/// tenth of its time joining keys. A walk's keys serve every question that reuses the walk: the paths are the same.
final class LeafKeys {
    private let leaves: [Leaf]
    private var keys: [String?]

    init(_ leaves: [Leaf]) {
        self.leaves = leaves
        keys = Array(repeating: nil, count: leaves.count)
    }

    subscript(i: Int) -> String {
        if let k = keys[i] { return k }
        let k = Evaluator.pathKey(leaves[i].path)
        keys[i] = k
        return k
    }
}

/// Hands out unit numbers 0, 1, 2, ... to concurrent workers, each number once.
final class WorkCounter: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
}

/// Result slots filled by concurrent workers: each index is written by exactly one worker, and read only after
/// `concurrentPerform` returned (its completion orders every write before the reads).
final class Slots<T>: @unchecked Sendable {
    private var storage: UnsafeMutableBufferPointer<T>

    init(count: Int, empty: T) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: empty)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    subscript(i: Int) -> T {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    var values: [T] { Array(storage) }
}
