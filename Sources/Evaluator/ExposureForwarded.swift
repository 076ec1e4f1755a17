import Dispatch
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
    func forwardPieces(_ leaves: [Leaf], keys: LeafKeys, proto: L4Proto) -> [ForwardPiece] {
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

    /// A cell's forwarded pieces merged by key, in the order first met.
    struct ForwardCells: Sendable {
        var keys: [ForwardKey] = []
        var cells: [Accum] = []
    }

    /// The pieces of the cell of question `q` on interface `g`, merged by outcome (on the workers: the main
    /// thread only concatenates cells, in question order, as a sequential run would have met them).
    func forwardCells(_ pieces: [ForwardPiece], _ q: Question, _ g: GridInterface) -> ForwardCells {
        var out = ForwardCells()
        var index: [ForwardKey: Int] = [:]
        for piece in pieces {
            let k = ForwardKey(
                proto: q.proto, family: q.family, daddr: q.daddr, dport: q.dport, target: piece.target,
                namespace: piece.namespace, listener: piece.listener, interface: g.name, exists: g.exists,
                verdict: piece.verdict, leaf: piece.leafKey)
            if let i = index[k] {
                out.cells[i].add(piece.region, piece.reasons, limits: piece.limits)
            } else {
                index[k] = out.keys.count
                out.keys.append(k)
                out.cells.append(Accum(sets: [piece.region], path: piece.path, reasons: piece.reasons, limits: piece.limits))
            }
        }
        return out
    }

    /// Whether following the translated branches of `leaves` may read the input device: only the host's postrouting
    /// source NAT does (before a namespace whose rules read the source); a namespace's own walk starts on its own
    /// interface. When it does not, a walk reused for another device has the same forwarded pieces.
    func forwardedReadsDevice(_ leaves: [Leaf]) -> Bool {
        leaves.contains { l in
            guard l.kind == .forwarded, isForwardedBranch(l), let i = peers.byAddress[l.packet.family]?[addressValue(l.packet.daddr)]
            else { return false }
            return peers.readsSource[i]
        }
    }

    /// The path key of `path`, given the key of `prefix` when `path` extends it (the common case: cheaper than joining).
    static func extendedKey(_ prefixKey: String, _ prefix: [PathStep], _ path: [PathStep]) -> String {
        guard !prefix.isEmpty, path.count >= prefix.count, path.starts(with: prefix) else { return pathKey(path) }
        return path.count == prefix.count ? prefixKey : prefixKey + ">" + pathKey(Array(path[prefix.count...]))
    }

    /// A published path: forwarded cells of one (protocol, family, external port, target, receiver).
    struct ForwardGroupKey: Hashable {
        var proto: L4Proto
        var family: IPFamily
        var dport: UInt16
        var target: String
        var namespace: String?
        var listener: ListenerRef?

        init(_ k: ForwardKey) {
            proto = k.proto; family = k.family; dport = k.dport; target = k.target; namespace = k.namespace; listener = k.listener
        }

        func hash(into h: inout Hasher) { h.combine(proto); h.combine(family); h.combine(dport); h.combine(target); h.combine(namespace) }
    }

    /// Groups forwarded cells by (protocol, family, external port, target, receiver); each group lists the host
    /// addresses, interfaces and merged source ranges it is reachable from, and a summary judged as for listeners.
    /// `keys` and `cells` are parallel, in the order the cells were first met. Groups are summarized on `workers`
    /// threads, each with its own memo (pure functions of the sets: the split changes the speed, never the answer).
    func summarizeForwarded(_ keys: [ForwardKey], _ cells: [Accum], workers: Int) -> [ForwardedPort] {
        var index: [ForwardGroupKey: Int] = [:]
        var members: [[Int]] = []
        for (i, k) in keys.enumerated() {
            let gk = ForwardGroupKey(k)
            if let g = index[gk] {
                members[g].append(i)
            } else {
                index[gk] = members.count
                members.append([i])
            }
        }
        let slots = Slots<ForwardedPort?>(count: members.count, empty: nil)
        let localnet = snapshot.sysctls.routeLocalnet["all"] == true
        let n = min(max(1, workers), max(1, members.count))
        let groups = members
        let run: @Sendable (Int) -> Void = { w in
            let memo = SetMemo(routeLocalnet: localnet, interner: SetInterner())
            var g = w
            while g < groups.count {
                slots[g] = self.forwardedPort(groups[g], keys, cells, memo: memo)
                g += n
            }
        }
        if n == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: n, execute: run) }
        return slots.values.compactMap { $0 }.sorted { a, b in
            if a.port != b.port { return a.port < b.port }
            if a.proto != b.proto { return a.proto < b.proto }
            if a.family != b.family { return a.family == .ipv4 }
            if a.target != b.target { return a.target < b.target }
            return (a.namespace ?? "") < (b.namespace ?? "")
        }
    }

    /// One published path from its cells (indices into `keys` and `cells`, in order; all of one group).
    func forwardedPort(_ members: [Int], _ keys: [ForwardKey], _ cells: [Accum], memo: SetMemo) -> ForwardedPort? {
        guard let first = members.first else { return nil }
        let family = keys[first].family
        var regions: [ExposureRegion] = []
        var dests: [String] = []
        var ifaces: [String] = []
        var sources = AddressSet(family: family)
        var reasons: [String] = []
        var accepted: [String: AddressSet] = [:]
        for i in members {
            let k = keys[i], a = cells[i]
            let set = memo.union(k.family, a.sets)
            let listed = memo.describe(set)
            let dest = memo.text(k.daddr, k.family)
            regions.append(
                ExposureRegion(
                    family: k.family, interface: k.interface, interfaceExists: k.exists, destination: dest,
                    destinationPort: k.dport, sources: listed.0, omittedSources: listed.1, sourceCount: Double(set.count),
                    verdict: k.verdict, path: a.path, reasons: a.reasons, limits: a.limits.isEmpty ? nil : a.limits,
                    sourceSet: set))
            if !dests.contains(dest) { dests.append(dest) }
            if !ifaces.contains(k.interface) { ifaces.append(k.interface) }
            sources = sources.union(set)
            if k.verdict == .accept { accepted[k.interface] = (accepted[k.interface] ?? AddressSet(family: k.family)).union(set) }
            for r in a.reasons where !reasons.contains(r) { reasons.append(r) }
        }
        let k = keys[first]
        let half: Double = family == .ipv4 ? 2_147_483_648 : 85_070_591_730_234_615_865_843_651_857_942_052_864
        let summary: ExposureSummary =
            accepted.values.contains { Double(memo.count($0)) >= half }
            ? .public
            : (regions.contains { $0.verdict == .conditional } ? .conditional : .restricted)
        var port = ForwardedPort(
            proto: k.proto, family: family, port: k.dport, target: k.target, destinations: dests,
            interfaces: ifaces.sorted(), sources: Evaluator.describe(sources, routeLocalnet: memo.routeLocalnet).0,
            reasons: reasons, regions: regions, namespace: k.namespace, listener: k.listener, summary: summary)
        if let ns = k.namespace, let i = peers.labels.firstIndex(of: ns) { port.namespaceNames = peers.names[i] }
        var limits: [String] = []
        for r in regions { for x in r.limits ?? [] where !limits.contains(x) { limits.append(x) } }
        if !limits.isEmpty { port.limits = limits }
        return port
    }
}
