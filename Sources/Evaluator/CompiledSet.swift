import HostModel

/// A set or map prepared once per snapshot for fast lookups: a hash for plain sets, sorted ranges for interval sets
/// (exclusive END elements folded in), and a list for concatenated ranges (inclusive KEY_END).
struct CompiledSet: Sendable {
    struct Range: Sendable {
        var start: [UInt8]
        /// Exclusive end; nil runs to the maximum key.
        var end: [UInt8]?
        var element: Int
    }

    let set: NFTSet
    let keyLength: Int
    /// Field lengths padded to 4 bytes (concatenations), or one field of the whole key.
    let fields: [Int]
    /// Unpadded field lengths (memcmp length per field).
    let rawFields: [Int]
    var hash: [[UInt8]: Int] = [:]
    var intervals: [Range] = []
    var ranged: [Int] = []
    var catchAll: Int?
    /// Membership can change at run time (timeouts, `add @set` from the packet path).
    var dynamic: Bool

    init(_ set: NFTSet, dynamic: Bool) {
        self.set = set
        self.dynamic = dynamic || set.isDynamic
        var kl = Int(set.keyLength)
        if kl == 0 { kl = set.elements.first(where: { !$0.isCatchAll })?.key.bytes.count ?? 0 }
        keyLength = kl
        if set.concatLengths.count > 1 {
            rawFields = set.concatLengths.map { Int($0) }
            fields = set.concatLengths.map { (Int($0) + 3) / 4 * 4 }
        } else {
            rawFields = [kl]
            fields = [kl]
        }
        func trim(_ b: [UInt8]) -> [UInt8] {
            if b.count == kl { return b }
            if b.count > kl { return Array(b[0..<kl]) }
            return b + [UInt8](repeating: 0, count: kl - b.count)
        }
        let elems = set.elements
        if set.isInterval && !elems.contains(where: { $0.keyEnd != nil }) {
            // rbtree: sort ascending (END before a start at the same key), pair each start with the next END.
            var order = Array(elems.indices).filter { !elems[$0].isCatchAll }
            order.sort { a, b in
                let ka = trim(elems[a].key.bytes), kb = trim(elems[b].key.bytes)
                if ka != kb { return ka.lexicographicallyPrecedes(kb) }
                return elems[a].isIntervalEnd && !elems[b].isIntervalEnd
            }
            var open: (key: [UInt8], idx: Int)?
            for i in order {
                let k = trim(elems[i].key.bytes)
                if elems[i].isIntervalEnd {
                    if let o = open { intervals.append(Range(start: o.key, end: k, element: o.idx)); open = nil }
                } else {
                    if let o = open { intervals.append(Range(start: o.key, end: k, element: o.idx)) }
                    open = (k, i)
                }
            }
            if let o = open { intervals.append(Range(start: o.key, end: nil, element: o.idx)) }
        } else {
            for (i, e) in elems.enumerated() where !e.isCatchAll {
                if e.keyEnd != nil { ranged.append(i) } else if !e.isIntervalEnd { hash[trim(e.key.bytes)] = i }
            }
        }
        catchAll = elems.firstIndex(where: { $0.isCatchAll })
    }

    /// Exact (concrete) lookup: the matching element index, or nil.
    func find(_ key: [UInt8]) -> Int? {
        if let h = hash[key] { return h }
        if !intervals.isEmpty {
            var lo = 0, hi = intervals.count - 1, found: Int?
            while lo <= hi {
                let mid = (lo + hi) / 2
                if intervals[mid].start.lexicographicallyPrecedes(key) || intervals[mid].start == key {
                    found = mid; lo = mid + 1
                } else {
                    hi = mid - 1
                }
            }
            if let f = found {
                let r = intervals[f]
                if r.end == nil || key.lexicographicallyPrecedes(r.end!) { return r.element }
            }
        }
        for i in ranged where rangedContains(i, key) { return i }
        return catchAll
    }

    func rangedContains(_ i: Int, _ key: [UInt8]) -> Bool {
        let e = set.elements[i]
        guard let end = e.keyEnd?.bytes else { return false }
        var off = 0
        for (f, raw) in zip(fields, rawFields) {
            let n = min(raw, key.count - off)
            if n <= 0 { break }
            let k = key[off..<(off + n)]
            let s = e.key.bytes.count >= off + n ? e.key.bytes[off..<(off + n)] : []
            let t = end.count >= off + n ? end[off..<(off + n)] : []
            if k.lexicographicallyPrecedes(s) || t.lexicographicallyPrecedes(k) { return false }
            off += f
        }
        return true
    }
}
