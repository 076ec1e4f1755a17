import HostModel

/// Which storage a set reads: equal identities mean the same slices of the same stores, so the same set. An
/// identity holds its stores, so it can never come back for a different set.
package struct SetIdentity: Hashable {
    package let family: IPFamily
    package let count: Int
    package let runs: [RangeRun]

    package init(_ s: AddressSet) {
        family = s.family
        count = s.rangeCount
        runs = s.runs
    }

    package static func == (a: SetIdentity, b: SetIdentity) -> Bool {
        guard a.family == b.family, a.count == b.count, a.runs.count == b.runs.count else { return false }
        for (x, y) in zip(a.runs, b.runs) where x.store !== y.store || x.start != y.start || x.end != y.end { return false }
        return true
    }

    package func hash(into h: inout Hasher) {
        h.combine(family)
        h.combine(count)
        h.combine(runs.count)
        // A few runs are enough for the hash; equality still compares them all.
        for r in runs.prefix(4) {
            h.combine(ObjectIdentifier(r.store))
            h.combine(r.start)
            h.combine(r.end)
        }
    }

    /// A fixed order over identities (by first store and slice), to build order-independent keys from lists.
    package static func precedes(_ a: SetIdentity, _ b: SetIdentity) -> Bool {
        func key(_ s: SetIdentity) -> (UInt, Int, Int, Int) {
            guard let r = s.runs.first else { return (0, 0, 0, s.count) }
            return (UInt(bitPattern: ObjectIdentifier(r.store)), r.start, s.runs.count, s.count)
        }
        return key(a) < key(b)
    }
}

/// An `AddressSet` as a dictionary key with its content hash computed once (a million ranges are hashed once, not
/// at every probe of the table); equality compares the hashes before the ranges.
struct ContentKey: Hashable {
    let set: AddressSet
    let digest: Int
    init(_ s: AddressSet) {
        set = s
        var h = Hasher()
        h.combine(s.family)
        h.combine(s.rangeCount)
        for r in s.ranges { h.combine(r.lowerBound); h.combine(r.upperBound) }
        digest = h.finalize()
    }
    static func == (a: ContentKey, b: ContentKey) -> Bool { a.digest == b.digest && a.set == b.set }
    func hash(into h: inout Hasher) { h.combine(digest) }
}

/// One shared copy per distinct set: equal sets built by different walks (ports, destinations, interfaces under the
/// same rules) keep one storage between them, and identity then stands for equality.
final class SetInterner {
    private var canonical = Set<SetIdentity>()
    private var byContent: [ContentKey: AddressSet] = [:]

    /// Larger sets keep their own identity: they come from set operations whose cache already hands out one shared
    /// result per distinct operation, and hashing a deny list's complement on every call cost more than it saved.
    static let maxInterned = 1024

    func intern(_ s: AddressSet) -> AddressSet {
        if s.isEmpty || s.rangeCount > SetInterner.maxInterned { return s }
        if canonical.contains(SetIdentity(s)) { return s }
        let k = ContentKey(s)
        if let c = byContent[k] { return c }
        byContent[k] = s
        canonical.insert(SetIdentity(s))
        return s
    }
}

/// One store per distinct content among the large stores of the sets it is given: sets computed apart (each exposure
/// worker has its own cache, so its own copy of a deny list's complement) then read the same store, and comparing
/// or subtracting them steps over the slices they share instead of reading a million ranges each.
package struct StoreInterner {
    private struct Fingerprint: Hashable {
        var count: Int
        var first: ClosedRange<UInt128>?
        var last: ClosedRange<UInt128>?
        var addresses: UInt128
    }

    /// The store each store seen reads instead (itself when first of its content); the key's store is kept alive
    /// by `seen`, so an identifier never comes back for another store.
    private var canonical: [ObjectIdentifier: RangeStore] = [:]
    private var seen: [RangeStore] = []
    private var byFingerprint: [Fingerprint: [RangeStore]] = [:]

    package init() {}

    /// `s` with each large store replaced by the first equal one seen: the same ranges, shared storage.
    package mutating func intern(_ s: AddressSet) -> AddressSet {
        var runs = s.runs
        var changed = false
        for k in runs.indices {
            let c = store(runs[k].store)
            if c !== runs[k].store {
                runs[k] = RangeRun(store: c, start: runs[k].start, end: runs[k].end)
                changed = true
            }
        }
        return changed ? AddressSet(family: s.family, runs: runs, count: s.rangeCount) : s
    }

    private mutating func store(_ st: RangeStore) -> RangeStore {
        // Small stores are copied pieces; only prefix-summed (large) ones are worth a comparison.
        guard let total = st.sums.last else { return st }
        let id = ObjectIdentifier(st)
        if let c = canonical[id] { return c }
        let print = Fingerprint(count: st.ranges.count, first: st.ranges.first, last: st.ranges.last, addresses: total)
        let c = byFingerprint[print]?.first { $0.ranges == st.ranges } ?? st
        if c === st { byFingerprint[print, default: []].append(st) }
        canonical[id] = c
        seen.append(st)
        return c
    }
}

extension AddressSet {
    /// Whether both hold the same ranges, stepping over stretches that are the same slice of the same store.
    func sameRanges(_ other: AddressSet) -> Bool {
        guard family == other.family, rangeCount == other.rangeCount else { return false }
        var pa = startPosition, pb = other.startPosition
        var unused = RangeBuilder()
        while let x = range(at: pa) {
            guard let y = other.range(at: pb) else { return false }
            if passShared(&pa, other, &pb, keep: false, into: &unused) { continue }
            if x != y { return false }
            pa = after(pa)
            pb = other.after(pb)
        }
        return other.range(at: pb) == nil
    }
}
