import HostModel

/// Decides what the kernel does with new inbound connections on a snapshot: `trace` follows one packet,
/// `exposure` computes, per listener, which (interface, source range) pairs reach it.
///
/// Everything is prepared once in `init` (chains by hook and priority, compiled sets, routes, the socket table), so
/// many probes or listeners cost little each.
public struct Evaluator: Sendable {
    public let snapshot: Snapshot
    let rs: CompiledRuleset
    let routing: HostRouting
    let sockets: SocketTable
    /// Stage lists prepared once: host-local and remote (without ingress) per family.
    let localStages: [IPFamily: [Stage]]
    let remoteStages: [IPFamily: [Stage]]
    let ingressDevices: Set<String>
    /// The host's other namespaces: where forwarded connections are delivered.
    let peers: Peers
    /// Index used for a device that does not exist in the snapshot ("any other interface").
    static let absentIndex: UInt32 = 0x7fff_fff0

    public init(snapshot: Snapshot) {
        self.snapshot = snapshot
        rs = CompiledRuleset(snapshot.firewall)
        routing = HostRouting(snapshot)
        sockets = SocketTable(snapshot.listeners, routing: routing)
        var ls: [IPFamily: [Stage]] = [:], rsts: [IPFamily: [Stage]] = [:]
        for fam in IPFamily.allCases {
            let proto = PacketState(
                family: fam, l4: 6, saddr: [], daddr: [], sport: 0, sportKnown: false, dport: 0, iifIndex: 0,
                iifName: "", iifType: 0, iifKind: nil, oifIndex: 0, oifName: "", local: true, arrivalIndex: 0,
                arrivalName: "\u{0}", origDaddr: [], origDport: 0, dnat: false, notrack: false, ctMark: nil)
            ls[fam] = Walker.stages(for: proto, rs: rs)
            var remote = proto
            remote.local = false
            rsts[fam] = Walker.stages(for: remote, rs: rs)
        }
        localStages = ls
        remoteStages = rsts
        ingressDevices = Set(rs.bases.filter { $0.hook == .ingress }.flatMap(\.devices))
        peers = Peers(snapshot)
    }

    func stages(for pkt: PacketState) -> [Stage] {
        if pkt.local { return localStages[pkt.family] ?? [] }
        if ingressDevices.contains(pkt.arrivalName) { return Walker.stages(for: pkt, rs: rs) }
        return remoteStages[pkt.family] ?? []
    }

    /// Why an accept cannot be trusted on this snapshot: the ruleset is unreadable or legacy iptables also filters.
    var blindSpot: String? {
        if snapshot.firewall.status == .unreadable { return "the firewall could not be read" }
        if rs.legacyPresent { return "legacy iptables tables are loaded and invisible here" }
        return nil
    }

    /// The input path's rules as typed matches, decoded once when the ruleset was compiled: what checks read about
    /// rules (coverage, shadowing, deletions) instead of decoding expressions themselves.
    public var rules: [RuleMatch] { rs.inputRules }

    /// The input path's rules of `firewall` alone, without routes or sockets (tests, and checks given no evaluator).
    public static func rules(of firewall: Firewall) -> [RuleMatch] { CompiledRuleset(firewall).inputRules }

    /// Whether a probe can arrive on `name`: an interface of the host (or `lo`, the host talking to itself).
    public func hasInterface(named name: String) -> Bool { name == "lo" || routing.iface(named: name) != nil }

    /// The host's interface names, in index order, for messages that say which ones exist.
    public var interfaceNames: [String] { snapshot.interfaces.sorted { $0.index < $1.index }.map(\.name) }

    /// Caveats that apply to every answer on this snapshot (unreadable firewall, legacy iptables).
    public var caveats: [String] {
        var out: [String] = []
        if snapshot.firewall.status == .unreadable {
            out.append("the firewall could not be read: \(snapshot.firewall.error ?? "unknown reason")")
        }
        if rs.legacyPresent { out.append("legacy iptables tables are loaded: their rules are not visible here") }
        for n in peers.unread {
            out.append("network namespace \(n) could not be read: connections forwarded into it are not followed there")
        }
        return out
    }

    func makePacket(family: IPFamily, proto: L4Proto, saddr: [UInt8], daddr: [UInt8], sport: UInt16?, dport: UInt16, iif: String) -> PacketState {
        let local = iif == "lo"
        let iface = routing.iface(named: iif)
        let index = iface?.index ?? (local ? routing.loopbackIndex : Evaluator.absentIndex)
        let type: UInt16 = (iface?.loopback ?? local) ? 772 : 1
        return PacketState(
            family: family, l4: proto.number, saddr: saddr, daddr: daddr, sport: sport ?? 0, sportKnown: sport != nil,
            dport: dport, iifIndex: local ? 0 : index, iifName: local ? "" : iif, iifType: type, iifKind: iface?.kind,
            oifIndex: 0, oifName: "", local: local, arrivalIndex: index, arrivalName: iif,
            origDaddr: daddr, origDport: dport, dnat: false, notrack: false, ctMark: nil)
    }

    func initialThread(_ pkt: PacketState, region: AddressSet?) -> EvalThread {
        var p = pkt
        if !p.local { p.iifIndex = p.arrivalIndex; p.iifName = p.arrivalName }
        return EvalThread(
            region: region, pkt: p, regs: [UInt8](repeating: 0, count: EvalThread.registerBytes),
            tags: [ByteTag](repeating: .concrete, count: EvalThread.registerBytes))
    }

    /// The listener a packet in its final state would reach (nil for forwarded packets or no socket).
    func listenerFor(_ pkt: PacketState, proto: L4Proto) -> Int? {
        let d = addressValue(pkt.daddr)
        guard routing.isLocal(pkt.family, d) || !pkt.local else { return nil }
        // TCP never connects to a broadcast or multicast address; UDP sockets receive those datagrams.
        if proto == .tcp {
            let type = routing.addressType(pkt.family, d, device: nil)
            if type == RTN.broadcast || type == RTN.multicast { return nil }
        }
        let device: UInt32 = pkt.local ? (routing.localDevice(pkt.family, d) ?? pkt.arrivalIndex) : pkt.arrivalIndex
        return sockets.select(proto: proto, family: pkt.family, daddr: d, dport: pkt.dport, device: device)
    }

    /// Follows one probe through every hook that decides local delivery and selects the receiving socket.
    public func trace(_ probe: Probe) throws(ProbeError) -> TraceResult {
        guard let src = IPAddress(probe.src) else { throw .badAddress(field: "src", value: probe.src) }
        guard let dst = IPAddress(probe.dst) else { throw .badAddress(field: "dst", value: probe.dst) }
        guard src.family == dst.family else { throw .familyMismatch(src: probe.src, dst: probe.dst) }
        let pkt = makePacket(
            family: src.family, proto: probe.proto, saddr: src.bytes, daddr: dst.bytes,
            sport: probe.sport, dport: probe.dport, iif: probe.iif)
        let st = stages(for: pkt)
        let result = walk(st, pkt, proto: probe.proto)
        // The closure for re-runs is only formed when some base chains tie: forming it copies the evaluator.
        if Evaluator.tiedGroups(st).isEmpty { return result }
        return resolveTies(result, stages: st) { walk($0, pkt, proto: probe.proto) }
    }

    /// One concrete walk of `pkt` through `stages`, summarized.
    private func walk(_ stages: [Stage], _ pkt: PacketState, proto: L4Proto) -> TraceResult {
        var walker = Walker(rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: stages, symbolic: false, cache: nil)
        return summarize(walker.run(initialThread(pkt, region: nil)), proto: proto)
    }

    /// Runs of consecutive base chains on one hook with the same priority. The kernel orders them by registration
    /// (nf_hook_entries_grow puts a later-registered hook before an equal one), which no snapshot records.
    static func tiedGroups(_ stages: [Stage]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < stages.count {
            guard case .chain(let a) = stages[i] else { i += 1; continue }
            var j = i + 1
            while j < stages.count, case .chain(let b) = stages[j], b.hook == a.hook, b.effectivePriority == a.effectivePriority,
                b.isNat == a.isNat, b.priority == a.priority
            {
                j += 1
            }
            if j - i > 1 { out.append(i..<j) }
            i = j
        }
        return out
    }

    /// The other orders of a group of tied base chains worth trying: every one for up to 4 chains, otherwise the
    /// reverse only (bounded work).
    static func otherOrders(_ members: [Stage]) -> [[Stage]] {
        func permutations(_ xs: [Stage]) -> [[Stage]] {
            if xs.count <= 1 { return [xs] }
            var out: [[Stage]] = []
            for i in xs.indices {
                var rest = xs
                let x = rest.remove(at: i)
                for p in permutations(rest) { out.append([x] + p) }
            }
            return out
        }
        return members.count <= 4 ? Array(permutations(members).dropFirst()) : [members.reversed()]
    }

    /// Why an outcome that depends on the order of `members` (tied base chains) is conditional.
    func ambiguityReason(_ members: [Stage]) -> String {
        let names: [String] = members.map { s in
            guard case .chain(let b) = s else { return "?" }
            let t = rs.tables[b.table]
            return "\(t.family.rawValue) \(t.name) \(t.chains[b.chain].name)"
        }
        let list = names.count == 2 ? "\(names[0]) and \(names[1])" : names.dropLast().joined(separator: ", ") + " and \(names[names.count - 1])"
        let p: Int32
        if case .chain(let b) = members.first { p = b.priority } else { p = 0 }
        return "ambiguous order: chains \(list) have the same priority (\(p)) and the kernel's registration order decides"
    }

    /// Re-runs a trace with every other order of tied base chains; if any order changes the outcome, the answer
    /// depends on registration order and is `conditional`.
    func resolveTies(_ base: TraceResult, stages: [Stage], run: ([Stage]) -> TraceResult) -> TraceResult {
        let groups = Evaluator.tiedGroups(stages)
        guard !groups.isEmpty else { return base }
        func same(_ a: TraceResult, _ b: TraceResult) -> Bool {
            a.verdict == b.verdict && a.listener == b.listener && a.delivered == b.delivered && a.forwarded == b.forwarded
                && a.translatedTo == b.translatedTo
        }
        var budget = 64
        for g in groups {
            let members = Array(stages[g])
            for order in Evaluator.otherOrders(members) {
                budget -= 1
                if budget < 0 { break }
                var alt = stages
                alt.replaceSubrange(g, with: order)
                let other = run(alt)
                if same(base, other) { continue }
                var reasons = base.reasons
                reasons.append(ambiguityReason(members))
                return TraceResult(
                    verdict: .conditional, path: base.path, listener: base.listener == other.listener ? base.listener : nil,
                    delivered: false, forwarded: false, reasons: reasons, translatedTo: base.translatedTo, dnat: base.dnat)
            }
        }
        return base
    }

    private func verdict(_ k: Leaf.Kind) -> PacketVerdict {
        switch k {
        case .accept, .forwarded: .accept
        case .drop: .drop
        case .reject: .reject
        case .undecidable: .conditional
        }
    }

    func summarize(_ raw: [Leaf], proto: L4Proto) -> TraceResult {
        // Forwarded branches continue in the namespace of this host that owns their destination, when there is one.
        var leaves: [Leaf] = []
        var refs: [ListenerRef?] = []
        var viaForward: [Bool] = []
        var hostPackets: [PacketState] = []
        for l in raw {
            if l.kind == .forwarded, let outs = intoPeer(l, proto: proto) {
                for o in outs { leaves.append(o.leaf); refs.append(o.listener); viaForward.append(true); hostPackets.append(l.packet) }
                continue
            }
            leaves.append(l)
            refs.append(l.kind == .forwarded ? nil : listenerFor(l.packet, proto: proto).map { ListenerRef(snapshot.listeners[$0]) })
            viaForward.append(l.kind == .forwarded)
            hostPackets.append(l.packet)
        }
        guard !leaves.isEmpty else {
            return TraceResult(
                verdict: .conditional, path: [], listener: nil, delivered: false, forwarded: false,
                reasons: ["no outcome"], translatedTo: nil)
        }
        let firstKind = leaves[0].kind
        var agree = true
        for (i, l) in leaves.enumerated() {
            if case .undecidable = l.kind { agree = false; break }
            if l.kind != firstKind || refs[i] != refs[0] || viaForward[i] != viaForward[0] { agree = false; break }
        }
        func translation(_ p: PacketState) -> Translation? {
            guard p.dnat else { return nil }
            return Translation(address: addressText(addressValue(p.daddr), p.family), port: p.dport)
        }
        func text(_ t: Translation?) -> String? {
            guard let t else { return nil }
            return t.address.contains(":") ? "[\(t.address)]:\(t.port)" : "\(t.address):\(t.port)"
        }
        if agree {
            let best = leaves.indices.min { leaves[$0].assumptions.count < leaves[$1].assumptions.count } ?? 0
            let l = leaves[best]
            let v = verdict(l.kind)
            let dnat = translation(hostPackets[best])
            if v == .accept, let blind = blindSpot {
                // An accept here proves nothing when part of the filtering is invisible.
                return TraceResult(
                    verdict: .conditional, path: l.path, listener: refs[best], delivered: false, forwarded: viaForward[best],
                    reasons: [blind], translatedTo: text(dnat), dnat: dnat)
            }
            return TraceResult(
                verdict: v, path: l.path, listener: refs[best], delivered: v == .accept && l.kind != .forwarded && refs[best] != nil,
                forwarded: viaForward[best], reasons: [], translatedTo: text(dnat), dnat: dnat,
                limits: v == .accept && !l.limits.isEmpty ? l.limits : nil)
        }
        var reasons: [String] = []
        var limits: [String] = []
        for l in leaves {
            if case .undecidable(let r) = l.kind, !reasons.contains(r) { reasons.append(r) }
            for a in l.assumptions where !reasons.contains(a) { reasons.append(a) }
            if l.kind == .accept { for a in l.limits where !limits.contains(a) { limits.append(a) } }
        }
        let ref = refs.allSatisfy { $0 == refs[0] } ? refs[0] : nil
        let dnat = translation(hostPackets[0])
        return TraceResult(
            verdict: .conditional, path: leaves[0].path, listener: ref, delivered: false,
            forwarded: false, reasons: reasons, translatedTo: text(dnat), dnat: dnat, limits: limits.isEmpty ? nil : limits)
    }
}
