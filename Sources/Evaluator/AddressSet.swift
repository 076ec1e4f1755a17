import HostModel

/// Immutable storage for ranges, shared by every set that holds a slice of it.
///
/// Sets are ropes of slices of these stores: cutting a rule's prefix out of a million-range deny list shares the
/// list's storage instead of copying it, so memory follows the number of cuts, not cuts times list size.
package final class RangeStore: Sendable {
    package let ranges: [ClosedRange<UInt128>]
    /// Wrapping prefix sums of the range sizes (`sums[i]`: addresses in `ranges[0..<i]`), so a slice of a large
    /// store is counted in constant time; empty for small stores, which are counted by walking them.
    let sums: [UInt128]
    static let summedFrom = 64

    init(_ ranges: [ClosedRange<UInt128>]) {
        self.ranges = ranges
        guard ranges.count >= RangeStore.summedFrom else { sums = []; return }
        var s: [UInt128] = []
        s.reserveCapacity(ranges.count + 1)
        var total: UInt128 = 0
        s.append(0)
        for r in ranges {
            total = total &+ (r.upperBound &- r.lowerBound) &+ 1
            s.append(total)
        }
        sums = s
    }
}

/// A slice `start..<end` (never empty) of a store.
package struct RangeRun: Sendable {
    package let store: RangeStore
    package let start: Int
    package let end: Int
    package var count: Int { end - start }
    package var first: ClosedRange<UInt128> { store.ranges[start] }
    package var last: ClosedRange<UInt128> { store.ranges[end - 1] }

    package init(store: RangeStore, start: Int, end: Int) {
        self.store = store
        self.start = start
        self.end = end
    }

    /// Addresses in the slice, saturating at UInt128.max.
    package var addressCount: UInt128 {
        let sums = store.sums
        if !sums.isEmpty {
            // The true count is at most 2^128 (the slice's ranges are disjoint), so the wrapped difference is exact
            // except for the whole space, where it wraps to 0.
            let d = sums[end] &- sums[start]
            return d == 0 ? .max : d
        }
        var total: UInt128 = 0
        let rs = store.ranges
        for i in start..<end {
            let (n, o1) = (rs[i].upperBound - rs[i].lowerBound).addingReportingOverflow(1)
            if o1 { return .max }
            let (t, o2) = total.addingReportingOverflow(n)
            if o2 { return .max }
            total = t
        }
        return total
    }
}

/// A set of addresses of one family as sorted, disjoint, non-adjacent inclusive intervals over 128-bit integers.
///
/// Exposure is computed over these sets instead of single packets, so the cost follows the number of boundaries the
/// rules mention, not the size of the address space. The intervals live in shared slices of immutable stores (see
/// `RangeStore`): operations that cut a large set by a small one slice the large one's storage.
public struct AddressSet: Sendable, Equatable, Hashable {
    public let family: IPFamily
    /// The slices whose concatenation is the set's ranges, in order.
    package let runs: [RangeRun]
    /// Number of ranges.
    package let rangeCount: Int

    public init(family: IPFamily, ranges: [ClosedRange<UInt128>] = []) {
        self.init(family: family, sorted: AddressSet.normalize(ranges))
    }

    init(family: IPFamily, sorted: [ClosedRange<UInt128>]) {
        self.family = family
        rangeCount = sorted.count
        runs = sorted.isEmpty ? [] : [RangeRun(store: RangeStore(sorted), start: 0, end: sorted.count)]
    }

    init(family: IPFamily, runs: [RangeRun], count: Int) {
        self.family = family
        self.runs = runs
        rangeCount = count
    }

    /// The ranges, ascending and never touching.
    public var ranges: Ranges { Ranges(runs: runs, count: rangeCount) }

    /// The largest address value of the family (2^32-1 or 2^128-1).
    public static func maxValue(_ family: IPFamily) -> UInt128 { family == .ipv4 ? UInt128(UInt32.max) : UInt128.max }
    /// Every address of the family: the starting region of an exposure question.
    public static func full(_ family: IPFamily) -> AddressSet { AddressSet(family: family, sorted: [0...maxValue(family)]) }
    /// A single address.
    public static func point(_ family: IPFamily, _ v: UInt128) -> AddressSet { AddressSet(family: family, sorted: [v...v]) }

    /// No address at all.
    public var isEmpty: Bool { rangeCount == 0 }
    /// Every address of the family.
    public var isFull: Bool {
        guard rangeCount == 1 else { return false }
        let r = runs[0].first
        return r.lowerBound == 0 && r.upperBound == AddressSet.maxValue(family)
    }

    /// Number of addresses, saturating at UInt128.max.
    public var count: UInt128 {
        var total: UInt128 = 0
        for run in runs {
            let (t, o) = total.addingReportingOverflow(run.addressCount)
            if o { return .max }
            total = t
        }
        return total
    }

    public static func == (a: AddressSet, b: AddressSet) -> Bool {
        a.family == b.family && a.rangeCount == b.rangeCount && (SetIdentity(a) == SetIdentity(b) || a.sameRanges(b))
    }

    public func hash(into h: inout Hasher) {
        h.combine(family)
        h.combine(rangeCount)
        for r in ranges { h.combine(r.lowerBound); h.combine(r.upperBound) }
    }

    static func normalize(_ input: [ClosedRange<UInt128>]) -> [ClosedRange<UInt128>] {
        if input.count <= 1 { return input }
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt128>] = []
        out.reserveCapacity(sorted.count)
        for r in sorted {
            if let last = out.last, last.upperBound == .max || r.lowerBound <= last.upperBound + 1 {
                if r.upperBound > last.upperBound { out[out.count - 1] = last.lowerBound...r.upperBound }
            } else {
                out.append(r)
            }
        }
        return out
    }

    // MARK: positions

    /// A place in the set: run `k`, index `i` of that run's store; `k == runs.count` is the end.
    struct Position: Comparable {
        var k: Int
        var i: Int
        static func < (a: Position, b: Position) -> Bool { a.k != b.k ? a.k < b.k : a.i < b.i }
    }

    var startPosition: Position { Position(k: 0, i: runs.first?.start ?? 0) }
    var endPosition: Position { Position(k: runs.count, i: 0) }

    /// The first range whose upper bound is >= v (the end when there is none): a search over runs, then in one.
    func position(atOrAfter v: UInt128) -> Position {
        var lo = 0, hi = runs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if runs[mid].last.upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        if lo == runs.count { return endPosition }
        let run = runs[lo]
        let rs = run.store.ranges
        var a = run.start, b = run.end - 1
        while a < b {
            let m = (a + b) / 2
            if rs[m].upperBound < v { a = m + 1 } else { b = m }
        }
        return Position(k: lo, i: a)
    }

    func range(at p: Position) -> ClosedRange<UInt128>? { p.k < runs.count ? runs[p.k].store.ranges[p.i] : nil }

    func after(_ p: Position) -> Position {
        if p.i + 1 < runs[p.k].end { return Position(k: p.k, i: p.i + 1) }
        return p.k + 1 < runs.count ? Position(k: p.k + 1, i: runs[p.k + 1].start) : endPosition
    }

    /// `p` moved to index `e` of its run (the next run's start, or the end, when `e` is the run's end).
    func moved(_ p: Position, to e: Int) -> Position {
        if e < runs[p.k].end { return Position(k: p.k, i: e) }
        return p.k + 1 < runs.count ? Position(k: p.k + 1, i: runs[p.k + 1].start) : endPosition
    }

    /// The first index from `p` on, within its run, of a range whose upper bound is >= v (the run's end when none):
    /// the ranges before it lie below `v` and can be passed on as one slice.
    func index(_ p: Position, notBelow v: UInt128) -> Int {
        let run = runs[p.k]
        let rs = run.store.ranges
        if rs[p.i].upperBound >= v { return p.i }
        var lo = p.i + 1, hi = run.end
        while lo < hi {
            let mid = (lo + hi) / 2
            if rs[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Steps `p` and `q` over the ranges from them that are the same slice of the same store (a stretch two sets
    /// share because both were cut from one larger set), adding it to `out` as one slice when `keep`; false when the
    /// next ranges are not shared.
    func passShared(_ p: inout Position, _ other: AddressSet, _ q: inout Position, keep: Bool, into out: inout RangeBuilder) -> Bool {
        let a = runs[p.k], b = other.runs[q.k]
        guard a.store === b.store, p.i == q.i else { return false }
        let n = min(a.end - p.i, b.end - q.i)
        if keep { out.add(a.store, p.i, p.i + n) }
        p = moved(p, to: p.i + n)
        q = other.moved(q, to: q.i + n)
        return true
    }

    /// Appends the ranges from `a` up to (not including) `b`, as slices.
    func emit(from a: Position, to b: Position, into out: inout RangeBuilder) {
        var p = a
        while p < b && p.k < runs.count {
            let run = runs[p.k]
            let end = p.k == b.k ? b.i : run.end
            out.add(run.store, p.i, end)
            p = p.k + 1 < runs.count ? Position(k: p.k + 1, i: runs[p.k + 1].start) : endPosition
        }
    }

    /// Membership by binary search.
    public func contains(_ v: UInt128) -> Bool {
        guard let r = range(at: position(atOrAfter: v)) else { return false }
        return r.lowerBound <= v
    }

    /// Whether one range of the set holds all of `g` (so the set covers it: ranges never touch).
    func covers(_ g: ClosedRange<UInt128>) -> Bool {
        guard let r = range(at: position(atOrAfter: g.lowerBound)) else { return false }
        return r.lowerBound <= g.lowerBound && r.upperBound >= g.upperBound
    }

    // MARK: operations

    /// Sizes at which a small operand drives binary searches into a large one (which is then sliced, not copied)
    /// instead of one linear merge of both.
    static let searchRatio = 8

    /// Addresses in both.
    public func intersection(_ other: AddressSet) -> AddressSet {
        if isEmpty || other.isEmpty { return AddressSet(family: family, sorted: []) }
        if isFull { return other }
        if other.isFull { return self }
        if SetIdentity(self) == SetIdentity(other) { return self }
        let (small, big) = rangeCount <= other.rangeCount ? (self, other) : (other, self)
        if small.rangeCount * AddressSet.searchRatio <= big.rangeCount || small.rangeCount <= 16 {
            return big.cut(by: small)
        }
        // Both large: one pass over both, stepping over stretches that only one holds or that both share.
        var out = RangeBuilder()
        var pa = startPosition, pb = other.startPosition
        while let x = range(at: pa), let y = other.range(at: pb) {
            if passShared(&pa, other, &pb, keep: true, into: &out) {
                continue
            } else if x.upperBound < y.lowerBound {
                pa = moved(pa, to: index(pa, notBelow: y.lowerBound))
            } else if y.upperBound < x.lowerBound {
                pb = other.moved(pb, to: other.index(pb, notBelow: x.lowerBound))
            } else {
                out.add(max(x.lowerBound, y.lowerBound)...min(x.upperBound, y.upperBound))
                if x.upperBound < y.upperBound { pa = after(pa) } else { pb = other.after(pb) }
            }
        }
        return out.build(family)
    }

    /// The parts of this set inside `cutter`'s ranges: whole ranges between a cutter range's ends are sliced.
    private func cut(by cutter: AddressSet) -> AddressSet {
        var out = RangeBuilder()
        for r in cutter.ranges {
            var p = position(atOrAfter: r.lowerBound)
            while p.k < runs.count {
                let run = runs[p.k]
                let rs = run.store.ranges
                let i = p.i
                if rs[i].lowerBound > r.upperBound { break }
                // The last range of this run that starts within r.
                var j = run.end - 1
                if rs[j].lowerBound > r.upperBound {
                    var a = i
                    while j - a > 1 {
                        let m = (a + j) / 2
                        if rs[m].lowerBound <= r.upperBound { a = m } else { j = m }
                    }
                    j = a
                }
                out.add(max(rs[i].lowerBound, r.lowerBound)...min(rs[i].upperBound, r.upperBound))
                if j > i {
                    out.add(run.store, i + 1, j)
                    out.add(max(rs[j].lowerBound, r.lowerBound)...min(rs[j].upperBound, r.upperBound))
                }
                if j < run.end - 1 || rs[j].upperBound >= r.upperBound { break }
                p = p.k + 1 < runs.count ? Position(k: p.k + 1, i: runs[p.k + 1].start) : endPosition
            }
        }
        return out.build(family)
    }

    /// Whether the two sets share an address (no set is built).
    func intersects(_ other: AddressSet) -> Bool {
        if isEmpty || other.isEmpty { return false }
        if isFull || other.isFull { return true }
        let (small, big) = rangeCount <= other.rangeCount ? (self, other) : (other, self)
        for r in small.ranges {
            if let b = big.range(at: big.position(atOrAfter: r.lowerBound)), b.lowerBound <= r.upperBound { return true }
        }
        return false
    }

    /// Addresses not in the set.
    public func complement() -> AddressSet {
        var out = RangeBuilder(reserve: rangeCount + 1)
        var next: UInt128 = 0
        let maxV = AddressSet.maxValue(family)
        for r in ranges {
            if r.lowerBound > next { out.add(next...(r.lowerBound - 1)) }
            if r.upperBound == maxV { return out.build(family) }
            next = r.upperBound + 1
        }
        out.add(next...maxV)
        return out.build(family)
    }

    /// Addresses in this set but not in `other`.
    public func subtracting(_ other: AddressSet) -> AddressSet {
        if isEmpty || other.isEmpty { return self }
        if other.isFull { return AddressSet(family: family, sorted: []) }
        if SetIdentity(self) == SetIdentity(other) { return AddressSet(family: family, sorted: []) }
        if other.rangeCount * AddressSet.searchRatio <= rangeCount {
            // A few ranges taken out of many: slice this set around them.
            return cut(by: other.complement())
        }
        var out = RangeBuilder()
        if rangeCount * AddressSet.searchRatio <= other.rangeCount {
            // Few ranges here: cut each one by the overlapping ranges of `other`, found by search.
            for r in ranges {
                var start = r.lowerBound
                var open = true
                var p = other.position(atOrAfter: r.lowerBound)
                while let o = other.range(at: p), o.lowerBound <= r.upperBound {
                    if o.lowerBound > start { out.add(start...(o.lowerBound - 1)) }
                    if o.upperBound >= r.upperBound { open = false; break }
                    start = o.upperBound + 1
                    p = other.after(p)
                }
                if open { out.add(start...r.upperBound) }
            }
            return out.build(family)
        }
        // Comparable sizes: one pass over both, stepping over stretches that only one holds or that both share.
        var pa = startPosition, pb = other.startPosition
        // The rest of the range at `pa` still to cut, once a range of `other` took its start away.
        var rest: ClosedRange<UInt128>?
        while let whole = range(at: pa) {
            guard let y = other.range(at: pb) else { break }
            let x = rest ?? whole
            if rest == nil, passShared(&pa, other, &pb, keep: false, into: &out) {
                continue
            } else if y.upperBound < x.lowerBound {
                pb = other.moved(pb, to: other.index(pb, notBelow: x.lowerBound))
            } else if x.upperBound < y.lowerBound {
                if rest != nil {
                    out.add(x)
                    rest = nil
                    pa = after(pa)
                } else {
                    let e = index(pa, notBelow: y.lowerBound)
                    out.add(runs[pa.k].store, pa.i, e)
                    pa = moved(pa, to: e)
                }
            } else {
                if x.lowerBound < y.lowerBound { out.add(x.lowerBound...(y.lowerBound - 1)) }
                if y.upperBound < x.upperBound {
                    rest = (y.upperBound + 1)...x.upperBound
                    pb = other.after(pb)
                } else {
                    rest = nil
                    pa = after(pa)
                }
            }
        }
        if let r = rest {
            out.add(r)
            pa = after(pa)
        }
        emit(from: pa, to: endPosition, into: &out)
        return out.build(family)
    }

    /// Addresses in either set.
    public func union(_ other: AddressSet) -> AddressSet {
        if isEmpty { return other }
        if other.isEmpty { return self }
        if isFull { return self }
        if other.isFull { return other }
        if SetIdentity(self) == SetIdentity(other) { return self }
        let (small, big) = rangeCount <= other.rangeCount ? (self, other) : (other, self)
        var out = RangeBuilder()
        if small.rangeCount * AddressSet.searchRatio <= big.rangeCount {
            // A few ranges added to many: the large set's ranges between them are sliced.
            var p = big.startPosition
            for s in small.ranges {
                let touching = big.position(atOrAfter: s.lowerBound == 0 ? 0 : s.lowerBound - 1)
                big.emit(from: p, to: touching, into: &out)
                if p < touching { p = touching }
                var m = s
                while let x = big.range(at: p), m.upperBound == .max || x.lowerBound <= m.upperBound + 1 {
                    m = min(m.lowerBound, x.lowerBound)...max(m.upperBound, x.upperBound)
                    p = big.after(p)
                }
                out.add(m)
            }
            big.emit(from: p, to: big.endPosition, into: &out)
            return out.build(family)
        }
        // Both large: one pass over both, stepping over stretches that only one holds or that both share.
        var pa = startPosition, pb = other.startPosition
        while let x = range(at: pa), let y = other.range(at: pb) {
            if passShared(&pa, other, &pb, keep: true, into: &out) {
                continue
            } else if x.lowerBound <= y.lowerBound {
                // This set's ranges that end before y starts (and do not touch it) pass as one slice.
                let e = y.lowerBound == 0 ? pa.i : index(pa, notBelow: y.lowerBound - 1)
                if e > pa.i {
                    out.add(runs[pa.k].store, pa.i, e)
                    pa = moved(pa, to: e)
                } else {
                    out.add(x)
                    pa = after(pa)
                }
            } else {
                let e = x.lowerBound == 0 ? pb.i : other.index(pb, notBelow: x.lowerBound - 1)
                if e > pb.i {
                    out.add(other.runs[pb.k].store, pb.i, e)
                    pb = other.moved(pb, to: e)
                } else {
                    out.add(y)
                    pb = other.after(pb)
                }
            }
        }
        emit(from: pa, to: endPosition, into: &out)
        other.emit(from: pb, to: other.endPosition, into: &out)
        return out.build(family)
    }

    /// Whether the union with `other` is every address of the family, without building it: each gap of the smaller
    /// set must lie inside one range of the larger.
    func unionIsFull(_ other: AddressSet) -> Bool {
        if isFull || other.isFull { return true }
        if isEmpty || other.isEmpty { return false }
        let (small, big) = rangeCount <= other.rangeCount ? (self, other) : (other, self)
        let maxV = AddressSet.maxValue(family)
        var next: UInt128 = 0
        for r in small.ranges {
            if r.lowerBound > next && !big.covers(next...(r.lowerBound - 1)) { return false }
            if r.upperBound == maxV { return true }
            next = r.upperBound + 1
        }
        return big.covers(next...maxV)
    }

    /// The union of many sets, merged pairwise in a balanced tree.
    static func unionAll(_ family: IPFamily, _ sets: [AddressSet]) -> AddressSet {
        let parts = sets.filter { !$0.isEmpty }
        if parts.isEmpty { return AddressSet(family: family, sorted: []) }
        if parts.count == 1 { return parts[0] }
        if parts.count == 2 { return parts[0].union(parts[1]) }
        if parts.allSatisfy({ SetIdentity($0) == SetIdentity(parts[0]) }) { return parts[0] }
        var level = parts
        while level.count > 1 {
            var next: [AddressSet] = []
            next.reserveCapacity((level.count + 1) / 2)
            var i = 0
            while i + 1 < level.count { next.append(level[i].union(level[i + 1])); i += 2 }
            if i < level.count { next.append(level[i]) }
            level = next
        }
        return level[0]
    }

    /// The ranges as CIDR-free text: `a.b.c.d` for one address, `a-b` for a range, `0.0.0.0/0` for everything.
    public var descriptions: [String] {
        if isFull { return [family == .ipv4 ? "0.0.0.0/0" : "::/0"] }
        return ranges.map { AddressSet.describe($0, family) }
    }

    package static func describe(_ r: ClosedRange<UInt128>, _ family: IPFamily) -> String {
        // A range that is exactly one prefix prints as CIDR.
        let width = family == .ipv4 ? 128 - 32 : 0
        let size = r.upperBound &- r.lowerBound
        if size == 0 { return addressText(r.lowerBound, family) }
        let span = size &+ 1
        if span != 0, span & (span - 1) == 0, r.lowerBound & (span - 1) == 0 {
            let bits = span.trailingZeroBitCount
            return "\(addressText(r.lowerBound, family))/\(128 - width - bits)"
        }
        if span == 0 { return family == .ipv4 ? "0.0.0.0/0" : "::/0" }
        return "\(addressText(r.lowerBound, family))-\(addressText(r.upperBound, family))"
    }
}

extension AddressSet {
    /// The ranges of a set in order, read through its slices.
    public struct Ranges: Sequence, Equatable, Sendable {
        let runs: [RangeRun]
        /// Number of ranges.
        public let count: Int

        public var isEmpty: Bool { count == 0 }
        public var first: ClosedRange<UInt128>? { runs.first?.first }
        public var last: ClosedRange<UInt128>? { runs.last?.last }
        public var underestimatedCount: Int { count }

        public func makeIterator() -> Iterator { Iterator(runs) }

        public struct Iterator: IteratorProtocol {
            private let runs: [RangeRun]
            private var k = 0
            private var i: Int
            private var end: Int
            private var rs: [ClosedRange<UInt128>]

            init(_ runs: [RangeRun]) {
                self.runs = runs
                if let r = runs.first {
                    i = r.start
                    end = r.end
                    rs = r.store.ranges
                } else {
                    i = 0
                    end = 0
                    rs = []
                }
            }

            public mutating func next() -> ClosedRange<UInt128>? {
                while i == end {
                    k += 1
                    guard k < runs.count else { return nil }
                    rs = runs[k].store.ranges
                    i = runs[k].start
                    end = runs[k].end
                }
                defer { i += 1 }
                return rs[i]
            }
        }

        public static func == (a: Ranges, b: Ranges) -> Bool { a.count == b.count && a.elementsEqual(b) }
    }
}
