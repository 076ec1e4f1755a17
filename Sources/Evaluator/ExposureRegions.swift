import HostModel

/// Exposure results per listener: leaves overlaid into segments, accumulated per region, summarized.
extension Evaluator {
    struct RegionKey: Hashable, Sendable {
        var family: IPFamily
        var interface: String
        var exists: Bool
        var local: Bool
        var daddr: [UInt8]
        var dport: UInt16
        var verdict: PacketVerdict
        var leaf: String
    }

    struct Accum: Sendable {
        /// The parts as the walks produced them (shared storage, not copied); `set` merges them.
        var sets: [AddressSet]
        var path: [PathStep]
        var reasons: [String]
        var limits: [String] = []

        mutating func add(_ region: AddressSet, _ more: [String], limits moreLimits: [String] = []) {
            for l in moreLimits where !limits.contains(l) { limits.append(l) }
            // Regions are interned: the same storage means the same set (a duplicate would only be merged away).
            if !region.isEmpty {
                let id = SetIdentity(region)
                if !sets.contains(where: { SetIdentity($0) == id }) { sets.append(region) }
            }
            for r in more where !reasons.contains(r) { reasons.append(r) }
        }

        func set(_ family: IPFamily) -> AddressSet { AddressSet.unionAll(family, sets) }
    }

    /// Per-set results shared by every listener whose regions are the same set (listeners on one port, ports under
    /// the same rules): interning keeps one copy of each distinct set, and its text and counts are computed once.
    final class SetMemo {
        let routeLocalnet: Bool
        let interner: SetInterner
        // Keyed by identity: every set passed in is interned first, so identity stands for equality (and an
        // identity holds its storage, so it is never reused for another set).
        var described: [SetIdentity: ([String], Int)] = [:]
        var routable: [SetIdentity: Bool] = [:]
        var counts: [SetIdentity: UInt128] = [:]
        init(routeLocalnet: Bool, interner: SetInterner) {
            self.routeLocalnet = routeLocalnet
            self.interner = interner
        }

        func intern(_ s: AddressSet) -> AddressSet { interner.intern(s) }

        /// Destination addresses as text, once each (every listener's regions repeat the host's few addresses).
        var texts: [[UInt8]: String] = [:]
        func text(_ bytes: [UInt8], _ family: IPFamily) -> String {
            if let t = texts[bytes] { return t }
            let t = addressText(addressValue(bytes), family)
            texts[bytes] = t
            return t
        }

        var unions: [[SetIdentity]: AddressSet] = [:]
        /// `AddressSet.unionAll` of interned parts, once per distinct list of parts.
        func union(_ family: IPFamily, _ parts0: [AddressSet]) -> AddressSet {
            if parts0.count == 1 { return intern(parts0[0]) }
            let parts = parts0.map(intern)
            var k = parts.map(SetIdentity.init)
            // One shared part repeated (the same rules on every destination or device): nothing to merge.
            if k.allSatisfy({ $0 == k[0] }) { return parts[0] }
            k.sort(by: SetIdentity.precedes)
            if let u = unions[k] { return u }
            let u = intern(AddressSet.unionAll(family, parts))
            unions[k] = u
            return u
        }

        /// `compute` of the interned copy of `s0`, once per distinct set.
        private func memoized<T>(_ table: inout [SetIdentity: T], _ s0: AddressSet, _ compute: (AddressSet) -> T) -> T {
            let s = intern(s0)
            let k = SetIdentity(s)
            if let d = table[k] { return d }
            let d = compute(s)
            table[k] = d
            return d
        }

        func describe(_ s: AddressSet) -> ([String], Int) {
            memoized(&described, s) { Evaluator.describe($0, routeLocalnet: routeLocalnet) }
        }
        func allRoutable(_ s: AddressSet) -> Bool {
            memoized(&routable, s) { $0.unionIsFull(Walker.martianSources($0.family, routeLocalnet: routeLocalnet)) }
        }
        func count(_ s: AddressSet) -> UInt128 { memoized(&counts, s) { $0.count } }
    }

    struct Segment: Sendable {
        var region: AddressSet
        var verdict: PacketVerdict
        var listeners: [Int]
        var path: [PathStep]
        var reasons: [String]
        var leafPathKey: String
        /// Limits and quotas passed on the way (see `Leaf.limits`).
        var limits: [String] = []
    }

    /// Resolves overlapping leaves (from undecidable splits) into disjoint segments with one outcome each.
    func overlay(_ leaves: [Leaf], keys: LeafKeys, proto: L4Proto) -> [Segment] {
        var segments = overlayLeaves(leaves, keys: keys, proto: proto)
        if let blind = blindSpot {
            for i in segments.indices where segments[i].verdict == .accept {
                segments[i].verdict = .conditional
                segments[i].reasons = [blind]
                segments[i].leafPathKey += "|blind"
            }
        }
        return segments
    }

    /// What a leaf's outcome shows as in a region (a branch forwarded elsewhere did not reach this socket).
    static func verdict(of k: Leaf.Kind) -> PacketVerdict {
        switch k {
        case .accept: .accept
        case .drop, .forwarded: .drop
        case .reject: .reject
        case .undecidable: .conditional
        }
    }

    /// A piece of the sources where the leaves covering it disagree or are undecidable: conditional, with every
    /// reason, limit and listener among them; nil when none reaches a listener. Its region is set by the caller.
    static func conditionalSegment(_ active: [Leaf], listeners: [Int?], firstKey: String) -> Segment? {
        var reasons: [String] = []
        var limits: [String] = []
        for l in active {
            if case .undecidable(let r) = l.kind, !reasons.contains(r) { reasons.append(r) }
            for a in l.assumptions where !reasons.contains(a) { reasons.append(a) }
            for a in l.limits where !limits.contains(a) { limits.append(a) }
        }
        var ls: [Int] = []
        for li in listeners { if let li, !ls.contains(li) { ls.append(li) } }
        guard !ls.isEmpty, let first = active.first else { return nil }
        return Segment(
            region: AddressSet(family: first.packet.family), verdict: .conditional, listeners: ls, path: first.path, reasons: reasons,
            leafPathKey: "?" + firstKey + reasons.joined(), limits: limits)
    }

    func overlayLeaves(_ leaves: [Leaf], keys: LeafKeys, proto: L4Proto) -> [Segment] {
        guard let fam = leaves.first?.region?.family else { return [] }
        let listeners = leaves.map { $0.kind == .forwarded ? nil : listenerFor($0.packet, proto: proto) }
        // Every segment names a listener: with none among the leaves there is nothing to overlay (most cells of a
        // host's forwarded ports, whose branches leave for other namespaces).
        if !listeners.contains(where: { $0 != nil }) { return [] }
        func key(_ i: Int) -> String { keys[i] }
        let overlapping = leaves.contains {
            !$0.assumptions.isEmpty
                || {
                    if case .undecidable = $0.kind { return true }; return false
                }($0)
        }
        if !overlapping {
            return leaves.indices.compactMap { i in
                guard let r = leaves[i].region, !r.isEmpty, leaves[i].kind != .forwarded, let li = listeners[i] else { return nil }
                return Segment(
                    region: r, verdict: Self.verdict(of: leaves[i].kind), listeners: [li], path: leaves[i].path, reasons: [], leafPathKey: key(i),
                    limits: leaves[i].limits)
            }
        }
        var cuts = Set<UInt128>()
        for l in leaves {
            guard let region = l.region else { continue }
            for r in region.ranges {
                cuts.insert(r.lowerBound)
                if r.upperBound < AddressSet.maxValue(fam) { cuts.insert(r.upperBound + 1) }
            }
        }
        let sorted = cuts.sorted()
        var groups: [String: Int] = [:]
        var found: [(Segment, [ClosedRange<UInt128>])] = []
        for (ci, lo) in sorted.enumerated() {
            let hi = ci + 1 < sorted.count ? sorted[ci + 1] - 1 : AddressSet.maxValue(fam)
            let active = leaves.indices.filter { leaves[$0].region?.contains(lo) == true }
            guard let first = active.first else { continue }
            let decided = active.allSatisfy { i in
                if case .undecidable = leaves[i].kind { return false }
                return leaves[i].kind == leaves[first].kind && listeners[i] == listeners[first]
            }
            var seg: Segment
            if decided {
                let best = active.min { leaves[$0].assumptions.count < leaves[$1].assumptions.count } ?? first
                guard leaves[best].kind != .forwarded, let li = listeners[best] else { continue }
                seg = Segment(
                    region: AddressSet(family: fam, sorted: [lo...hi]), verdict: Self.verdict(of: leaves[best].kind), listeners: [li],
                    path: leaves[best].path, reasons: [], leafPathKey: key(best), limits: leaves[best].limits)
            } else {
                guard let c = Self.conditionalSegment(active.map { leaves[$0] }, listeners: active.map { listeners[$0] }, firstKey: key(first))
                else { continue }
                seg = c
                seg.region = AddressSet(family: fam, sorted: [lo...hi])
            }
            // Limits are rare: they join the key only when there are some (this runs for every cut of every cell).
            var k = "\(seg.verdict)|\(seg.listeners)|\(seg.leafPathKey)"
            if !seg.limits.isEmpty { k += "|" + seg.limits.joined(separator: ",") }
            if let g = groups[k] {
                found[g].1.append(contentsOf: seg.region.ranges)
            } else {
                groups[k] = found.count
                found.append((seg, Array(seg.region.ranges)))
            }
        }
        return found.map { g in
            var seg = g.0
            seg.region = AddressSet(family: fam, ranges: g.1)
            return seg
        }
    }

    /// Source ranges for display: everything the kernel would route counts as `/0`; long lists are cut.
    static func describe(_ s: AddressSet, routeLocalnet: Bool) -> ([String], Int) {
        if s.unionIsFull(Walker.martianSources(s.family, routeLocalnet: routeLocalnet)) {
            return ([s.family == .ipv4 ? "0.0.0.0/0" : "::/0"], 0)
        }
        let all = s.ranges
        let shown = all.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, s.family) }
        return (shown, all.count - shown.count)
    }

    func summarizeExposure(_ l: Listener, _ regions: [RegionKey: Accum], memo: SetMemo) -> ListenerExposure {
        var out: [ExposureRegion] = []
        var acceptedRemote: [IPFamily: [AddressSet]] = [:]
        var publicHit = false
        var conditionalRemote = false
        var acceptedLocal = false
        var ifaces: [String] = []
        var reasons: [String] = []
        var via = Set<UInt16>()
        var perIface: [String: [AddressSet]] = [:]
        var ifaceInfo: [String: (name: String, exists: Bool, family: IPFamily)] = [:]
        for (k, a) in regions {
            let set = memo.union(k.family, a.sets)
            let listed = memo.describe(set)
            let region = ExposureRegion(
                family: k.family, interface: k.interface, interfaceExists: k.exists,
                destination: memo.text(k.daddr, k.family), destinationPort: k.dport,
                sources: listed.0, omittedSources: listed.1, sourceCount: Double(memo.count(set)), verdict: k.verdict, path: a.path,
                reasons: a.reasons,
                limits: a.limits.isEmpty ? nil : a.limits, sourceSet: set)
            out.append(region)
            let reaches = k.verdict == .accept || k.verdict == .conditional
            if reaches && k.dport != l.port { via.insert(k.dport) }
            for r in a.reasons where !reasons.contains(r) { reasons.append(r) }
            guard reaches else { continue }
            if k.local {
                acceptedLocal = true
                continue
            }
            if !ifaces.contains(k.interface) { ifaces.append(k.interface) }
            if k.verdict == .conditional { conditionalRemote = true; continue }
            acceptedRemote[k.family, default: []].append(set)
            let ik = "\(k.interface)|\(k.family)"
            perIface[ik, default: []].append(set)
            ifaceInfo[ik] = (k.interface, k.exists, k.family)
        }
        // The public threshold (see `ExposureSummary`): half of a family's addresses on one interface.
        var ifaceSets: [String: AddressSet] = [:]
        for (ik, parts) in perIface {
            guard let info = ifaceInfo[ik] else { continue }
            let s = memo.union(info.family, parts)
            ifaceSets[ik] = s
            let half: UInt128 = s.family == .ipv4 ? UInt128(1) << 31 : UInt128(1) << 127
            if memo.count(s) >= half { publicHit = true }
        }
        var acceptedRanges: [AcceptedRanges] = []
        for (ik, s) in ifaceSets {
            guard let info = ifaceInfo[ik] else { continue }
            let routable = memo.allRoutable(s)
            acceptedRanges.append(
                AcceptedRanges(family: info.family, interface: info.name, interfaceExists: info.exists, set: s, allRoutable: routable))
        }
        acceptedRanges.sort { a, b in
            if a.interface != b.interface { return a.interface < b.interface }
            return a.family == .ipv4 && b.family == .ipv6
        }
        let summary: ExposureSummary =
            publicHit
            ? .public
            : conditionalRemote ? .conditional : !acceptedRemote.isEmpty ? .restricted : acceptedLocal ? .localOnly : .blocked
        out = Self.regionOrder(out).map { out[$0] }
        // In the order of the sorted regions, so the output does not depend on dictionary order.
        reasons = []
        for region in out { for r in region.reasons where !reasons.contains(r) { reasons.append(r) } }
        var sources: [String] = []
        for fam in IPFamily.allCases { if let parts = acceptedRemote[fam] { sources += memo.describe(memo.union(fam, parts)).0 } }
        var limits: [String] = []
        for region in out where region.verdict != .drop && region.verdict != .reject {
            for x in region.limits ?? [] where !limits.contains(x) { limits.append(x) }
        }
        return ListenerExposure(
            listener: l, summary: summary, interfaces: ifaces.sorted(), acceptedSources: sources,
            reasons: reasons, regions: out, viaPorts: via.sorted(), acceptedRanges: acceptedRanges,
            limits: limits.isEmpty ? nil : limits)
    }

    /// The regions' order in a listener's report: verdict, interface, destination, port, then path and sources, so
    /// the output never depends on dictionary order. Indices are sorted, not the regions themselves: moving a region
    /// moves a dozen strings and arrays.
    static func regionOrder(_ out: [ExposureRegion]) -> [Int] {
        return out.indices.sorted { ia, ib in
            let a = out[ia], b = out[ib]
            if a.verdict != b.verdict { return a.verdict < b.verdict }
            if a.interface != b.interface { return a.interface < b.interface }
            if a.destination != b.destination { return a.destination < b.destination }
            if a.destinationPort != b.destinationPort { return a.destinationPort < b.destinationPort }
            // Ties (one cell decided by several rules, for different sources) in a fixed order, not the hash order.
            let pa = a.path.map(Evaluator.stepKey)
            let pb = b.path.map(Evaluator.stepKey)
            if pa != pb { return pa.lexicographicallyPrecedes(pb) }
            return a.sources.lexicographicallyPrecedes(b.sources)
        }
    }
}
