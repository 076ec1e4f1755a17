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
