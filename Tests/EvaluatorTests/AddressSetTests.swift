import HostModel
import TestSupport
import Testing
@testable import Evaluator

/// Address sets are ropes of shared slices (see `RangeStore`). Every operation is checked against membership at
/// every boundary of its operands and result: between two consecutive boundaries membership cannot change, so
/// agreement there (with a normalized result) means the sets are equal. Operands are built the way exposure builds
/// them, by cutting large sets with small ones, so they hold several slices of shared stores.
@Suite struct AddressSetTests {
    static let family = IPFamily.ipv4
    static let maxV = AddressSet.maxValue(.ipv4)

    /// `n` random ranges in a small window at the bottom of the space (so they meet and touch), sometimes with the
    /// top of the space, given unsorted and overlapping: the initializer normalizes them.
    static func random(_ n: Int, _ g: inout SplitMix64, window: UInt128 = 40_000) -> AddressSet {
        var out: [ClosedRange<UInt128>] = []
        for _ in 0..<n {
            let lo = UInt128(g.next() % UInt64(window))
            let len = UInt128(g.next() % 12)
            out.append(lo...(lo + len))
        }
        if g.next() % 4 == 0 { out.append((maxV - UInt128(g.next() % 50))...maxV) }
        if g.next() % 5 == 0 { out.append(0...UInt128(g.next() % 5)) }
        return AddressSet(family: family, ranges: out)
    }

    /// Sets of many slices: a large set cut by several small ones, one operation at a time.
    static func rope(_ g: inout SplitMix64, from base: AddressSet? = nil) -> AddressSet {
        var s = base ?? random(3000, &g)
        for _ in 0..<(1 + Int(g.next() % 4)) {
            let cutter = random(1 + Int(g.next() % 6), &g)
            switch g.next() % 3 {
            case 0: s = s.subtracting(cutter)
            case 1: s = s.union(cutter)
            default: s = s.intersection(cutter.complement())
            }
        }
        return s
    }

    static func operand(_ g: inout SplitMix64) -> AddressSet {
        switch g.next() % 6 {
        case 0: return random(Int(g.next() % 8), &g)
        case 1: return random(200 + Int(g.next() % 3000), &g)
        case 2: return AddressSet.full(family)
        default: return rope(&g)
        }
    }

    static func checkNormalized(_ s: AddressSet, _ what: String) {
        var previous: ClosedRange<UInt128>?
        var n = 0
        for r in s.ranges {
            #expect(r.lowerBound <= r.upperBound, "\(what): empty range")
            if let p = previous { #expect(p.upperBound < maxV && r.lowerBound > p.upperBound + 1, "\(what): ranges touch or overlap") }
            previous = r
            n += 1
        }
        #expect(n == s.ranges.count, "\(what): range count")
        for run in s.runs { #expect(run.start < run.end, "\(what): empty slice") }
    }

    static func boundaries(_ sets: [AddressSet]) -> [UInt128] {
        var v = Set<UInt128>([0, maxV])
        for s in sets {
            for r in s.ranges {
                v.insert(r.lowerBound)
                v.insert(r.upperBound)
                if r.lowerBound > 0 { v.insert(r.lowerBound - 1) }
                if r.upperBound < maxV { v.insert(r.upperBound + 1) }
            }
        }
        return v.sorted()
    }

    static func naiveCount(_ s: AddressSet) -> UInt128 { s.ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound + 1) } }

    @Test(arguments: 0..<60)
    func operationsAgreeWithMembership(seed: Int) {
        var g = SplitMix64(seed: UInt64(seed) &* 7919 &+ 17)
        let first = Self.operand(&g)
        // Half the cases cut both operands from one set, as exposure does: they then share stretches of storage.
        let shared = seed % 2 == 1
        let base = first.rangeCount > 100 ? first : Self.random(3000, &g)
        let a = shared ? Self.rope(&g, from: base) : first
        let b = shared ? Self.rope(&g, from: base) : Self.operand(&g)
        if shared { #expect(Set(a.runs.map { ObjectIdentifier($0.store) }).intersection(b.runs.map { ObjectIdentifier($0.store) }).count > 0) }
        let results: [(String, AddressSet, (Bool, Bool) -> Bool)] = [
            ("a ∩ b", a.intersection(b), { $0 && $1 }),
            ("a ∪ b", a.union(b), { $0 || $1 }),
            ("a − b", a.subtracting(b), { $0 && !$1 }),
            ("b − a", b.subtracting(a), { $1 && !$0 }),
            ("¬a", a.complement(), { x, _ in !x })
        ]
        for (what, r, _) in results { Self.checkNormalized(r, "seed \(seed) \(what)") }
        let points = Self.boundaries([a, b] + results.map { $0.1 })
        for (what, r, f) in results {
            let wrong = points.first { r.contains($0) != f(a.contains($0), b.contains($0)) }
            #expect(wrong == nil, "seed \(seed): \(what) disagrees at \(wrong.map { String($0) } ?? "")")
        }
        #expect(a.intersects(b) == !a.intersection(b).isEmpty, "seed \(seed): intersects")
        #expect(a.unionIsFull(b) == a.union(b).isFull, "seed \(seed): unionIsFull")
        for (what, r, _) in results {
            #expect(r.count == Self.naiveCount(r), "seed \(seed): count of \(what)")
            // The same ranges in one fresh store: equal, same hash, whatever the slices.
            let flat = AddressSet(family: Self.family, ranges: Array(r.ranges))
            #expect(flat == r && flat.hashValue == r.hashValue, "seed \(seed): \(what) equals its flat copy")
        }
        #expect(a.complement().complement() == a, "seed \(seed): double complement")
    }

    @Test func cuttingALargeSetSharesItsStorage() {
        var g = SplitMix64(seed: 99)
        let big = Self.random(20_000, &g, window: 2_000_000)
        let store = big.runs[0].store
        let prefix = AddressSet(family: Self.family, ranges: [500_000...600_000])
        for (what, r) in [
            ("minus", big.subtracting(prefix)), ("outside", big.intersection(prefix.complement())),
            ("inside", big.intersection(prefix)), ("plus", big.union(AddressSet.point(Self.family, 700_000)))
        ] {
            let shared = r.runs.filter { $0.store === store }.reduce(0) { $0 + $1.count }
            // All but the few ranges cut at the prefix's ends are slices of the big set's storage.
            #expect(shared >= r.ranges.count - 4, "\(what): \(shared) of \(r.ranges.count) ranges shared")
            #expect(r.runs.count <= 5, "\(what): \(r.runs.count) slices")
        }
    }

    /// Copies of one large set built apart read one store once interned; sets of other content keep theirs, and
    /// equality still sees a single range's difference inside shared slices.
    @Test func internedCopiesShareOneStore() {
        var g = SplitMix64(seed: 5)
        let big = Self.random(20_000, &g, window: 2_000_000)
        let copy = AddressSet(family: Self.family, ranges: Array(big.ranges))
        let other = Self.random(20_000, &g, window: 2_000_000)
        #expect(big.runs[0].store !== copy.runs[0].store)
        let a = big.subtracting(AddressSet(family: Self.family, ranges: [500_000...600_000]))
        let b = copy.subtracting(AddressSet(family: Self.family, ranges: [900_000...950_000]))
        var interner = StoreInterner()
        let ia = interner.intern(a), ib = interner.intern(b), io = interner.intern(other)
        #expect(ia == a && ib == b && io == other)
        let store = big.runs[0].store
        #expect(ia.runs.filter { $0.store.ranges.count >= 64 }.allSatisfy { $0.store === store })
        #expect(ib.runs.filter { $0.store.ranges.count >= 64 }.allSatisfy { $0.store === store })
        #expect(io.runs[0].store === other.runs[0].store)
        // One range more, inside otherwise shared slices: not equal, and the difference is found.
        let range = Array(big.ranges)[10_000]
        let gap = range.upperBound + 2
        let plus = ib.union(AddressSet.point(Self.family, gap))
        #expect(!ib.sameRanges(plus) && !plus.sameRanges(ib) && plus != ib)
        let moved = ib.subtracting(AddressSet.point(Self.family, range.lowerBound)).union(AddressSet.point(Self.family, gap))
        #expect(moved.rangeCount == ib.rangeCount || moved.rangeCount == ib.rangeCount + 1)
        #expect(moved != ib && ib.sameRanges(interner.intern(copy).subtracting(AddressSet(family: Self.family, ranges: [900_000...950_000]))))
    }

    @Test func largeCountsSaturateAndSlicesCountInConstantTime() {
        let v6 = AddressSet.full(.ipv6)
        #expect(v6.count == UInt128.max)
        #expect(v6.subtracting(AddressSet(family: .ipv6, ranges: [5...5, 9...9])).count == UInt128.max - 1)
        // A store large enough for prefix sums, spanning the whole IPv6 space in 100 ranges with one-address gaps.
        let step = UInt128.max / 100
        var parts: [ClosedRange<UInt128>] = []
        var lo: UInt128 = 0
        for i in 0..<100 {
            let hi = i == 99 ? UInt128.max : lo + step - 1
            parts.append(lo...hi)
            lo = hi &+ 1
        }
        let whole = AddressSet(family: .ipv6, sorted: parts.enumerated().map { i, r in i == 0 ? r : (r.lowerBound + 1)...r.upperBound })
        #expect(whole.runs[0].store.sums.count == 101)
        #expect(whole.count == UInt128.max - 98)
        #expect(whole.count == Self.naiveCountSaturating(whole))
        let sliced = whole.subtracting(AddressSet(family: .ipv6, ranges: [(step * 40)...(step * 41 + 3)]))
        #expect(sliced.count == Self.naiveCountSaturating(sliced))
    }

    static func naiveCountSaturating(_ s: AddressSet) -> UInt128 {
        var total: UInt128 = 0
        for r in s.ranges {
            let (n, o) = (r.upperBound - r.lowerBound).addingReportingOverflow(1)
            if o { return .max }
            let (t, o2) = total.addingReportingOverflow(n)
            if o2 { return .max }
            total = t
        }
        return total
    }
}
