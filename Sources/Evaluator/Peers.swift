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
        let label = peers.labels[i]
        let index = e.routing.localDevice(fam, d) ?? 0
        let name = e.routing.iface(index: index)?.name ?? "if\(index)"
        let entry = PathStep.routing(fam, .note("into \(label) on \(name)"))
        let arrival = addressText(d, fam)
        func packet(_ from: Leaf, source: [UInt8]) -> PacketState {
            e.makePacket(
                family: fam, proto: proto, saddr: source, daddr: from.packet.daddr,
                sport: from.packet.sportKnown ? from.packet.sport : nil, dport: from.packet.dport, iif: name)
        }
        func listener(_ pkt: PacketState) -> ListenerRef? {
            e.listenerFor(pkt, proto: proto).map { ListenerRef(e.snapshot.listeners[$0], namespace: label, arrival: arrival) }
        }
        if e.rs.bases.isEmpty && e.blindSpot == nil {
            // No chain in that namespace (most containers): the socket lookup alone decides, for every source.
            var leaf = l
            leaf.kind = .accept
            leaf.path = l.path + [entry]
            leaf.packet = packet(l, source: l.packet.saddr)
            return [PeerOutcome(leaf: leaf, listener: listener(leaf.packet), namespace: label)]
        }
        guard peers.readsSource[i] else {
            return walkPeer(e, l, packet(l, source: l.packet.saddr), entry: entry, label: label, proto: proto, arrival: arrival)
        }
        var out: [PeerOutcome] = []
        for nl in throughPostroutingNat(l) {
            guard nl.kind == .forwarded else {
                out.append(PeerOutcome(leaf: nl, listener: nil, namespace: label))
                continue
            }
            switch nl.packet.sourceNat {
            case nil:
                out += walkPeer(e, nl, packet(nl, source: nl.packet.saddr), entry: entry, label: label, proto: proto, arrival: arrival)
            case .to(let source):
                // One source for the whole region: the namespace decides it once, for every client of the branch.
                var concrete = nl
                concrete.region = nil
                out += walkPeer(e, concrete, packet(nl, source: source), entry: entry, label: label, proto: proto, arrival: arrival).map {
                    var o = $0
                    o.leaf.region = nl.region
                    return o
                }
            case .unknown(let why):
                var leaf = nl
                let reason = "\(label) sees the source after \(why)"
                leaf.kind = .undecidable(reason)
                if !leaf.assumptions.contains(reason) { leaf.assumptions.append(reason) }
                leaf.path = nl.path + [entry]
                leaf.packet = packet(nl, source: nl.packet.saddr)
                out.append(PeerOutcome(leaf: leaf, listener: listener(leaf.packet), namespace: label))
            }
        }
        return out
    }

    /// The namespace's own chains and socket lookup for one branch arriving as `pkt`.
    func walkPeer(_ e: Evaluator, _ l: Leaf, _ pkt: PacketState, entry: PathStep, label: String, proto: L4Proto, arrival: String) -> [PeerOutcome] {
        let symbolic = l.region != nil
        var walker = Walker(
            rs: e.rs, routing: e.routing, sysctls: e.snapshot.sysctls, stages: e.stages(for: pkt), symbolic: symbolic,
            cache: symbolic ? SymbolicCache() : nil)
        return walker.run(e.initialThread(pkt, region: l.region)).map { pl in
            var leaf = pl
            leaf.path = l.path + [entry] + pl.path
            leaf.assumptions = l.assumptions + pl.assumptions.filter { !l.assumptions.contains($0) }
            leaf.limits = l.limits + pl.limits.filter { !l.limits.contains($0) }
            if let blind = e.blindSpot, pl.kind == .accept { leaf.kind = .undecidable("\(label): \(blind)") }
            let ref =
                pl.kind == .forwarded
                ? nil
                : e.listenerFor(pl.packet, proto: proto)
                    .map { ListenerRef(e.snapshot.listeners[$0], namespace: label, arrival: arrival) }
            return PeerOutcome(leaf: leaf, listener: ref, namespace: label)
        }
    }
}
