import HostModel

/// Collects the ranges of a new set in ascending order: short pieces are copied into fresh storage, long runs of an
/// existing set are kept as slices of its store.
struct RangeBuilder {
    private var runs: [RangeRun] = []
    private var pending: [ClosedRange<UInt128>] = []
    private var count = 0
    private var last: ClosedRange<UInt128>?
    /// Runs shorter than this are copied: a slice costs a few words and keeps its whole store alive.
    static let minSlice = 32

    init(reserve: Int = 0) {
        if reserve > 0 { pending.reserveCapacity(reserve) }
    }

    /// Appends a range that starts at or after the start of the last one; a touching or overlapping one is merged.
    mutating func add(_ r: ClosedRange<UInt128>) {
        if let l = last, l.upperBound == .max || r.lowerBound <= l.upperBound + 1 {
            if r.upperBound <= l.upperBound { return }
            let m = l.lowerBound...r.upperBound
            if pending.isEmpty {
                // The last range is the end of a slice: shorten the slice and continue in fresh storage.
                let run = runs.removeLast()
                if run.count > 1 { runs.append(RangeRun(store: run.store, start: run.start, end: run.end - 1)) }
                pending.append(m)
            } else {
                pending[pending.count - 1] = m
            }
            last = m
            return
        }
        pending.append(r)
        count += 1
        last = r
    }

    /// Appends `store.ranges[start..<end]` (ascending, after everything so far).
    mutating func add(_ store: RangeStore, _ start: Int, _ end: Int) {
        var s = start
        let rs = store.ranges
        // Leading ranges that touch what came before are merged one by one.
        while s < end, let l = last, l.upperBound == .max || rs[s].lowerBound <= l.upperBound + 1 {
            add(rs[s])
            s += 1
        }
        guard s < end else { return }
        if end - s < RangeBuilder.minSlice {
            for i in s..<end { add(rs[i]) }
            return
        }
        flush()
        runs.append(RangeRun(store: store, start: s, end: end))
        count += end - s
        last = rs[end - 1]
    }

    private mutating func flush() {
        guard !pending.isEmpty else { return }
        runs.append(RangeRun(store: RangeStore(pending), start: 0, end: pending.count))
        pending = []
    }

    /// The set; a small result made of several pieces is stored as one.
    mutating func build(_ family: IPFamily) -> AddressSet {
        if runs.isEmpty { return AddressSet(family: family, sorted: pending) }
        flush()
        if runs.count > 1 && count <= 2 * RangeBuilder.minSlice {
            var all: [ClosedRange<UInt128>] = []
            all.reserveCapacity(count)
            for run in runs { all.append(contentsOf: run.store.ranges[run.start..<run.end]) }
            return AddressSet(family: family, sorted: all)
        }
        return AddressSet(family: family, runs: runs, count: count)
    }
}
