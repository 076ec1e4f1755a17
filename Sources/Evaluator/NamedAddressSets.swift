import HostModel

extension Evaluator {
    /// Every named address set of the ruleset (`family table name`, IPv4 or IPv6 keys, not a map, not filled at run
    /// time) with its addresses: the exposure report names the `addressSets` entries that are exactly one of them,
    /// so a deny list shows as the set it is.
    public func namedAddressSets() -> [(String, AddressSet)] {
        var out: [(String, AddressSet)] = []
        for t in rs.tables {
            for name in t.sets.keys.sorted() {
                guard let c = t.sets[name], let s = Self.addresses(of: c) else { continue }
                out.append(("\(t.family.rawValue) \(t.name) \(name)", s))
            }
        }
        return out
    }

    /// The addresses a lookup of the whole key matches; nil for sets that are not plain address sets.
    static func addresses(of c: CompiledSet) -> AddressSet? {
        let set = c.set
        guard !set.isAnonymous, !set.isMap, !c.dynamic, set.concatLengths.count <= 1, c.catchAll == nil else { return nil }
        let family: IPFamily
        switch (set.keyType, c.keyLength) {
        case (7, 4): family = .ipv4
        case (8, 16): family = .ipv6
        default: return nil
        }
        var ranges: [ClosedRange<UInt128>] = []
        for k in c.hash.keys {
            let v = addressValue(k)
            ranges.append(v...v)
        }
        for r in c.intervals {
            let lo = addressValue(r.start)
            // `end` is exclusive; none runs to the family's last address.
            guard let end = r.end else { ranges.append(lo...AddressSet.maxValue(family)); continue }
            let hi = addressValue(end)
            if hi > lo { ranges.append(lo...(hi - 1)) }
        }
        for i in c.ranged {
            let e = set.elements[i]
            guard let end = e.keyEnd?.bytes else { continue }
            let lo = addressValue(e.key.bytes), hi = addressValue(end)
            if lo <= hi { ranges.append(lo...hi) }
        }
        return AddressSet(family: family, ranges: ranges)
    }
}
