import HostModel

/// Exposure of published ports: branches DNAT sent on, through the forward hook and into a namespace of this host.
extension Evaluator {
    /// A branch DNAT sent towards another address: forwarded (decided or not), or undecidable after the translation.
    func isForwardedBranch(_ l: Leaf) -> Bool {
        guard l.packet.dnat else { return false }
        switch l.kind {
        case .forwarded: return true
        case .undecidable: return !routing.isLocal(l.packet.family, addressValue(l.packet.daddr))
        default: return false
        }
    }

    /// A cell of a forwarded port: (protocol, external address and port, DNAT target, receiver, interface, outcome, path).
    struct ForwardKey: Hashable {
        var proto: L4Proto
        var family: IPFamily
        var daddr: [UInt8]
        var dport: UInt16
        var target: String
        var namespace: String?
        var listener: ListenerRef?
        var interface: String
        var exists: Bool
        var verdict: PacketVerdict
        var leaf: String

        /// The cheap fields only (equality still compares all): the receiver follows from the target, and hashing
        /// the path text and the listener's processes for every cell was a tenth of a container host's exposure.
        func hash(into h: inout Hasher) {
            h.combine(proto); h.combine(family); h.combine(daddr); h.combine(dport); h.combine(target)
            h.combine(interface); h.combine(verdict); h.combine(leaf.utf8.count)
        }
    }

    /// One outcome of a branch DNAT sent elsewhere, as a worker computes it (the receiving namespace walked too).
    struct ForwardPiece: Sendable {
        var target: String
        var namespace: String?
        var listener: ListenerRef?
        var verdict: PacketVerdict
        var leafKey: String
        var region: AddressSet
        var path: [PathStep]
        var reasons: [String]
        var limits: [String]
    }

    /// Branches that DNAT translated to an address that is not local: through the forward hook and, when a namespace
    /// of this host owns the address, through that namespace's chains to its socket. Dropped branches are left out.
    /// `keys` are the leaves' path keys: a receiving namespace only appends steps, so its key extends the leaf's.
    func forwardPieces(_ leaves: [Leaf], keys: [String], proto: L4Proto) -> [ForwardPiece] {
        var out: [ForwardPiece] = []
        for (i, l) in leaves.enumerated() where isForwardedBranch(l) {
            guard let region = l.region, !region.isEmpty else { continue }
            let p = l.packet
            let a = addressText(addressValue(p.daddr), p.family)
            let target = p.family == .ipv6 ? "[\(a)]:\(p.dport)" : "\(a):\(p.dport)"
            let outcomes: [PeerOutcome?] = l.kind == .forwarded ? (intoPeer(l, proto: proto)?.map { $0 } ?? [nil]) : [nil]
            for o in outcomes {
                let end = o?.leaf ?? l
                guard let r = end.region, !r.isEmpty else { continue }
                var reasons = end.assumptions
                switch end.kind {
                case .accept, .forwarded: break
                case .undecidable(let why): if !reasons.contains(why) { reasons.append(why) }
                case .drop, .reject: continue
                }
                if let b = blindSpot, !reasons.contains(b) { reasons.append(b) }
                out.append(
                    ForwardPiece(
                        target: target, namespace: o?.namespace, listener: o?.listener,
                        verdict: reasons.isEmpty ? .accept : .conditional,
                        leafKey: Self.extendedKey(keys[i], l.path, end.path),
                        region: r, path: end.path, reasons: reasons, limits: end.limits))
            }
        }
        return out
    }

    /// The path key of `path`, given the key of `prefix` when `path` extends it (the common case: cheaper than joining).
    static func extendedKey(_ prefixKey: String, _ prefix: [PathStep], _ path: [PathStep]) -> String {
        guard !prefix.isEmpty, path.count >= prefix.count, path.starts(with: prefix) else { return pathKey(path) }
        return path.count == prefix.count ? prefixKey : prefixKey + ">" + pathKey(Array(path[prefix.count...]))
    }

    /// Groups forwarded cells by (protocol, family, external port, target, receiver); each group lists the host
    /// addresses, interfaces and merged source ranges it is reachable from, and a summary judged as for listeners.
    func summarizeForwarded(_ fwd: [ForwardKey: Accum], _ order: [ForwardKey], memo: SetMemo) -> [ForwardedPort] {
        struct GroupKey: Hashable {
            var proto: L4Proto; var family: IPFamily; var dport: UInt16; var target: String; var namespace: String?; var listener: ListenerRef?
            func hash(into h: inout Hasher) { h.combine(proto); h.combine(family); h.combine(dport); h.combine(target); h.combine(namespace) }
        }
        struct Group {
            var regions: [ExposureRegion] = []
            var dests: [String] = []
            var ifaces: [String] = []
            var sources: AddressSet
            var reasons: [String] = []
            var accepted: [String: AddressSet] = [:]
        }
        var groups: [GroupKey: Group] = [:]
        var gorder: [GroupKey] = []
        let localnet = snapshot.sysctls.routeLocalnet["all"] == true
        for k in order {
            guard let a = fwd[k] else { continue }
            let gk = GroupKey(proto: k.proto, family: k.family, dport: k.dport, target: k.target, namespace: k.namespace, listener: k.listener)
            let set = memo.union(k.family, a.sets)
            let listed = memo.describe(set)
            let dest = memo.text(k.daddr, k.family)
            let region = ExposureRegion(
                family: k.family, interface: k.interface, interfaceExists: k.exists, destination: dest,
                destinationPort: k.dport, sources: listed.0, omittedSources: listed.1, sourceCount: Double(set.count),
                verdict: k.verdict, path: a.path, reasons: a.reasons, limits: a.limits.isEmpty ? nil : a.limits,
                sourceSet: set)
            var g = groups[gk] ?? Group(sources: AddressSet(family: k.family))
            if groups[gk] == nil { gorder.append(gk) }
            g.regions.append(region)
            if !g.dests.contains(dest) { g.dests.append(dest) }
            if !g.ifaces.contains(k.interface) { g.ifaces.append(k.interface) }
            g.sources = g.sources.union(set)
            if k.verdict == .accept { g.accepted[k.interface] = (g.accepted[k.interface] ?? AddressSet(family: k.family)).union(set) }
            for r in a.reasons where !g.reasons.contains(r) { g.reasons.append(r) }
            groups[gk] = g
        }
        var out: [ForwardedPort] = []
        for gk in gorder {
            guard let g = groups[gk] else { continue }
            let half: Double = gk.family == .ipv4 ? 2_147_483_648 : 85_070_591_730_234_615_865_843_651_857_942_052_864
            let summary: ExposureSummary =
                g.accepted.values.contains { Double(memo.count($0)) >= half }
                ? .public
                : (g.regions.contains { $0.verdict == .conditional } ? .conditional : .restricted)
            var port = ForwardedPort(
                proto: gk.proto, family: gk.family, port: gk.dport, target: gk.target, destinations: g.dests,
                interfaces: g.ifaces.sorted(), sources: Evaluator.describe(g.sources, routeLocalnet: localnet).0,
                reasons: g.reasons, regions: g.regions, namespace: gk.namespace, listener: gk.listener, summary: summary)
            if let ns = gk.namespace, let i = peers.labels.firstIndex(of: ns) { port.namespaceNames = peers.names[i] }
            var limits: [String] = []
            for r in g.regions { for x in r.limits ?? [] where !limits.contains(x) { limits.append(x) } }
            if !limits.isEmpty { port.limits = limits }
            out.append(port)
        }
        return out.sorted { a, b in
            if a.port != b.port { return a.port < b.port }
            if a.proto != b.proto { return a.proto < b.proto }
            if a.family != b.family { return a.family == .ipv4 }
            if a.target != b.target { return a.target < b.target }
            return (a.namespace ?? "") < (b.namespace ?? "")
        }
    }
}
