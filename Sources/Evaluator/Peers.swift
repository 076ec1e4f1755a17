import HostModel

/// The host's other network namespaces (containers, pods, named ones), each with an evaluator of its own: a
/// connection the host forwards to an address one of them owns continues there, through that namespace's own
/// prerouting and input chains to its socket, exactly as the kernel hands it over a veth.
struct Peers: Sendable {
    var evaluators: [Evaluator] = []
    var labels: [String] = []
    /// Per peer: the names a policy can select it by.
    var names: [[String]] = []
    /// Per peer: whether its rules may read the source address (then the host's source NAT matters there).
    var readsSource: [Bool] = []
    /// Address value → peer, per family (non-loopback addresses of every interface of every peer).
    var byAddress: [IPFamily: [UInt128: Int]] = [:]
    /// Namespaces that could not be entered: a forwarded connection may end in one of them unseen.
    var unread: [String] = []

    init() {}

    init(_ s: Snapshot) {
        for n in s.namespaces {
            guard n.entered else { unread.append(n.label); continue }
            let snap = Snapshot(
                host: s.host, listeners: n.listeners, interfaces: n.interfaces, routes: n.routes, sysctls: n.sysctls,
                firewall: n.firewall, privileges: s.privileges)
            let i = evaluators.count
            evaluators.append(Evaluator(snapshot: snap))
            labels.append(n.label)
            readsSource.append(Evaluator.readsSource(n.firewall))
            var known = [n.id.name, n.owner?.name, n.owner?.id, n.owner?.pod].compactMap { $0 }
            if let o = n.owner, let pod = o.pod, let pns = o.podNamespace { known.append("\(pns)/\(pod)") }
            names.append(known)
            for iface in n.interfaces where !iface.flags.contains("loopback") {
                for a in iface.addresses {
                    guard let ip = IPAddress(a.address) else { continue }
                    let v: UInt128
                    switch ip {
                    case .v4(let x): v = UInt128(x.value)
                    case .v6(let x): if x.isLinkLocal { continue }; v = addressValue(x.bytes)
                    }
                    if byAddress[ip.family, default: [:]][v] == nil { byAddress[ip.family, default: [:]][v] = i }
                }
            }
        }
    }
}

/// One outcome of a forwarded branch inside the namespace that receives it.
struct PeerOutcome {
    var leaf: Leaf
    var listener: ListenerRef?
    var namespace: String
}

extension Evaluator {
    /// Follows a forwarded branch into the namespace of this host that owns its destination address: that
    /// namespace's chains, with the packet arriving on the interface holding the address, and its socket lookup.
    /// Nil when no namespace of the snapshot owns the address (the connection leaves the host). Where that
    /// namespace's rules read the source, the host's postrouting source NAT is applied first (`SourceNat.swift`).
    func intoPeer(_ l: Leaf, proto: L4Proto) -> [PeerOutcome]? {
        let fam = l.packet.family
        let d = addressValue(l.packet.daddr)
        guard let i = peers.byAddress[fam]?[d] else { return nil }
        let e = peers.evaluators[i]
        let index = e.routing.localDevice(fam, d) ?? 0
        let p = PeerEntry(
            e: e, label: peers.labels[i], family: fam, iif: e.routing.iface(index: index)?.name ?? "if\(index)",
            arrival: addressText(d, fam), proto: proto)
        if e.rs.bases.isEmpty && e.blindSpot == nil {
            // No chain in that namespace (most containers): the socket lookup alone decides, for every source.
            var leaf = l
            leaf.kind = .accept
            leaf.path = l.path + [p.step]
            leaf.packet = p.packet(l, source: l.packet.saddr)
            return [PeerOutcome(leaf: leaf, listener: p.listener(leaf.packet), namespace: p.label)]
        }
        guard peers.readsSource[i] else { return p.walk(l, source: l.packet.saddr) }
        var out: [PeerOutcome] = []
        for nl in throughPostroutingNat(l) {
            guard nl.kind == .forwarded else {
                out.append(PeerOutcome(leaf: nl, listener: nil, namespace: p.label))
                continue
            }
            switch nl.packet.sourceNat {
            case nil:
                out += p.walk(nl, source: nl.packet.saddr)
            case .to(let source):
                // One source for the whole region: the namespace decides it once, for every client of the branch.
                var concrete = nl
                concrete.region = nil
                out += p.walk(concrete, source: source).map {
                    var o = $0
                    o.leaf.region = nl.region
                    return o
                }
            case .unknown(let why):
                var leaf = nl
                let reason = "\(p.label) sees the source after \(why)"
                leaf.kind = .undecidable(reason)
                if !leaf.assumptions.contains(reason) { leaf.assumptions.append(reason) }
                leaf.path = nl.path + [p.step]
                leaf.packet = p.packet(nl, source: nl.packet.saddr)
                out.append(PeerOutcome(leaf: leaf, listener: p.listener(leaf.packet), namespace: p.label))
            }
        }
        return out
    }
}

/// A forwarded branch's way into one namespace of the host: the interface it arrives on, the address it arrives at,
/// and that namespace's evaluator, which decides it.
struct PeerEntry {
    let e: Evaluator
    let label: String
    let family: IPFamily
    let iif: String
    let arrival: String
    let proto: L4Proto

    /// The step that enters the namespace in a path.
    var step: PathStep { PathStep.routing(family, .note("into \(label) on \(iif)")) }

    /// The branch's packet as the namespace receives it, from `source`.
    func packet(_ from: Leaf, source: [UInt8]) -> PacketState {
        e.makePacket(
            family: family, proto: proto, saddr: source, daddr: from.packet.daddr,
            sport: from.packet.sportKnown ? from.packet.sport : nil, dport: from.packet.dport, iif: iif)
    }

    /// The namespace's socket that receives `pkt`, if any.
    func listener(_ pkt: PacketState) -> ListenerRef? {
        e.listenerFor(pkt, proto: proto).map { ListenerRef(e.snapshot.listeners[$0], namespace: label, arrival: arrival) }
    }

    /// The namespace's own chains and socket lookup for branch `l` arriving from `source`.
    func walk(_ l: Leaf, source: [UInt8]) -> [PeerOutcome] {
        let pkt = packet(l, source: source)
        let symbolic = l.region != nil
        var walker = Walker(
            rs: e.rs, routing: e.routing, sysctls: e.snapshot.sysctls, stages: e.stages(for: pkt), symbolic: symbolic,
            cache: symbolic ? SymbolicCache() : nil)
        return walker.run(e.initialThread(pkt, region: l.region)).map { pl in
            var leaf = pl
            leaf.path = l.path + [step] + pl.path
            leaf.assumptions = l.assumptions + pl.assumptions.filter { !l.assumptions.contains($0) }
            leaf.limits = l.limits + pl.limits.filter { !l.limits.contains($0) }
            if let blind = e.blindSpot, pl.kind == .accept { leaf.kind = .undecidable("\(label): \(blind)") }
            return PeerOutcome(leaf: leaf, listener: pl.kind == .forwarded ? nil : listener(pl.packet), namespace: label)
        }
    }
}
