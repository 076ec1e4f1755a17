import HostModel

/// A set of addresses of one family as sorted, disjoint, non-adjacent inclusive intervals over 128-bit integers.
///
/// Exposure is computed over these sets instead of single packets, so the cost follows the number of boundaries the
/// rules mention, not the size of the address space.
public struct AddressSet: Sendable, Equatable, Hashable {
    /// Inclusive ranges, ascending, never touching.
    public private(set) var ranges: [ClosedRange<UInt128>]
    public let family: IPFamily

    public init(family: IPFamily, ranges: [ClosedRange<UInt128>] = []) {
        self.family = family
        self.ranges = AddressSet.normalize(ranges)
    }

    init(family: IPFamily, sorted: [ClosedRange<UInt128>]) {
        self.family = family
        self.ranges = sorted
    }

    /// The largest address value of the family (2^32-1 or 2^128-1).
    public static func maxValue(_ family: IPFamily) -> UInt128 { family == .ipv4 ? UInt128(UInt32.max) : UInt128.max }
    /// Every address of the family: the starting region of an exposure question.
    public static func full(_ family: IPFamily) -> AddressSet { AddressSet(family: family, sorted: [0...maxValue(family)]) }
    /// A single address.
    public static func point(_ family: IPFamily, _ v: UInt128) -> AddressSet { AddressSet(family: family, sorted: [v...v]) }

    /// No address at all.
    public var isEmpty: Bool { ranges.isEmpty }
    /// Every address of the family.
    public var isFull: Bool { ranges.count == 1 && ranges[0].lowerBound == 0 && ranges[0].upperBound == AddressSet.maxValue(family) }

    /// Number of addresses, saturating at UInt128.max.
    public var count: UInt128 {
        var total: UInt128 = 0
        for r in ranges {
            let (n, o1) = (r.upperBound - r.lowerBound).addingReportingOverflow(1)
            if o1 { return .max }
            let (t, o2) = total.addingReportingOverflow(n)
            if o2 { return .max }
            total = t
        }
        return total
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

    /// Membership by binary search.
    public func contains(_ v: UInt128) -> Bool {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let r = ranges[mid]
            if v < r.lowerBound { hi = mid - 1 } else if v > r.upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    /// Index of the first range whose upper bound is >= v.
    private func firstIndex(atOrAfter v: UInt128) -> Int {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Addresses in both; the smaller side drives binary searches into the larger, so a rule's small prefix costs
    /// little against a large deny list.
    public func intersection(_ other: AddressSet) -> AddressSet {
        if isEmpty || other.isEmpty { return AddressSet(family: family, sorted: []) }
        if isFull { return other }
        if other.isFull { return self }
        // Small side drives a binary search into the big side.
        let (small, big) = ranges.count <= other.ranges.count ? (self, other) : (other, self)
        var out: [ClosedRange<UInt128>] = []
        let bigRanges = big.ranges
        // Exact size first (binary searches only): a large result is then written once, without the copies and
        // fresh pages of repeated growth.
        var size = 0
        for r in small.ranges {
            let i = big.firstIndex(atOrAfter: r.lowerBound)
            guard i < bigRanges.count, bigRanges[i].lowerBound <= r.upperBound else { continue }
            var j = big.firstIndex(atOrAfter: r.upperBound)
            if j >= bigRanges.count || bigRanges[j].lowerBound > r.upperBound { j -= 1 }
            size += j - i + 1
        }
        out.reserveCapacity(size)
        for r in small.ranges {
            var i = big.firstIndex(atOrAfter: r.lowerBound)
            guard i < bigRanges.count, bigRanges[i].lowerBound <= r.upperBound else { continue }
            // First and last overlapping ranges are cut; those between are copied whole, in one block.
            let b0 = bigRanges[i]
            out.append(max(b0.lowerBound, r.lowerBound)...min(b0.upperBound, r.upperBound))
            i += 1
            guard i < bigRanges.count, bigRanges[i].lowerBound <= r.upperBound else { continue }
            var j = big.firstIndex(atOrAfter: r.upperBound)
            if j >= bigRanges.count || bigRanges[j].lowerBound > r.upperBound { j -= 1 }
            if j > i { out.append(contentsOf: bigRanges[i..<j]) }
            let bj = bigRanges[j]
            out.append(max(bj.lowerBound, r.lowerBound)...min(bj.upperBound, r.upperBound))
        }
        return AddressSet(family: family, sorted: out)
    }

    /// Whether the two sets share an address (no set is built).
    func intersects(_ other: AddressSet) -> Bool {
        if isEmpty || other.isEmpty { return false }
        if isFull || other.isFull { return true }
        let (small, big) = ranges.count <= other.ranges.count ? (self, other) : (other, self)
        for r in small.ranges {
            let i = big.firstIndex(atOrAfter: r.lowerBound)
            if i < big.ranges.count, big.ranges[i].lowerBound <= r.upperBound { return true }
        }
        return false
    }

    /// Addresses not in the set.
    public func complement() -> AddressSet {
        var out: [ClosedRange<UInt128>] = []
        var next: UInt128 = 0
        var done = false
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            if r.upperBound == AddressSet.maxValue(family) { done = true; break }
            next = r.upperBound + 1
        }
        if !done { out.append(next...AddressSet.maxValue(family)) }
        return AddressSet(family: family, sorted: out)
    }

    /// Addresses in this set but not in `other`.
    public func subtracting(_ other: AddressSet) -> AddressSet {
        if isEmpty || other.isEmpty { return self }
        if other.isFull { return AddressSet(family: family, sorted: []) }
        if ranges.count * 8 < other.ranges.count {
            // Few ranges here: cut each one by the overlapping ranges of `other`.
            var out: [ClosedRange<UInt128>] = []
            for r in ranges {
                var start = r.lowerBound
                var open = true
                var i = other.firstIndex(atOrAfter: r.lowerBound)
                while i < other.ranges.count, other.ranges[i].lowerBound <= r.upperBound {
                    let o = other.ranges[i]
                    if o.lowerBound > start { out.append(start...(o.lowerBound - 1)) }
                    if o.upperBound >= r.upperBound { open = false; break }
                    start = o.upperBound + 1
                    i += 1
                }
                if open { out.append(start...r.upperBound) }
            }
            return AddressSet(family: family, sorted: out)
        }
        return intersection(other.complement())
    }

    /// Addresses in either set.
    public func union(_ other: AddressSet) -> AddressSet {
        if isEmpty { return other }
        if other.isEmpty { return self }
        if isFull { return self }
        if other.isFull { return other }
        if ranges == other.ranges { return self }
        // Both sides are sorted and disjoint: one linear merge.
        let a = ranges, b = other.ranges
        var out: [ClosedRange<UInt128>] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let r: ClosedRange<UInt128>
            if j >= b.count || (i < a.count && a[i].lowerBound <= b[j].lowerBound) { r = a[i]; i += 1 } else { r = b[j]; j += 1 }
            if let last = out.last, last.upperBound == .max || r.lowerBound <= last.upperBound + 1 {
                if r.upperBound > last.upperBound { out[out.count - 1] = last.lowerBound...r.upperBound }
            } else {
                out.append(r)
            }
        }
        return AddressSet(family: family, sorted: out)
    }

    /// Whether the union with `other` is every address of the family, without building it.
    func unionIsFull(_ other: AddressSet) -> Bool {
        if isFull || other.isFull { return true }
        let a = ranges, b = other.ranges
        let maxV = AddressSet.maxValue(family)
        var next: UInt128 = 0  // every address below `next` is covered
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let r: ClosedRange<UInt128>
            if j >= b.count || (i < a.count && a[i].lowerBound <= b[j].lowerBound) { r = a[i]; i += 1 } else { r = b[j]; j += 1 }
            if r.lowerBound > next { return false }
            if r.upperBound >= maxV { return true }
            if r.upperBound + 1 > next { next = r.upperBound + 1 }
        }
        return false
    }

    /// The union of many sets (one sort, not one merge per set).
    static func unionAll(_ family: IPFamily, _ sets: [AddressSet]) -> AddressSet {
        let parts = sets.filter { !$0.isEmpty }
        if parts.isEmpty { return AddressSet(family: family, sorted: []) }
        if parts.count == 1 { return parts[0] }
        if parts.count == 2 { return parts[0].union(parts[1]) }
        if parts.allSatisfy({ $0.ranges == parts[0].ranges }) { return parts[0] }
        // Pairwise linear merges, balanced: O(total * log(parts)) without a sort.
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

    static func describe(_ r: ClosedRange<UInt128>, _ family: IPFamily) -> String {
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
    /// The inverse of `describe`: `a`, `a/len` or `a-b` of `family` as a value range; nil when malformed.
    static func parseRange(_ text: String, _ family: IPFamily) -> ClosedRange<UInt128>? {
        func value(_ s: Substring) -> UInt128? {
            if family == .ipv4 { return IPv4Address(String(s)).map { addressValue($0.bytes) } }
            return IPv6Address(String(s)).map { addressValue($0.bytes) }
        }
        if text.contains("/") {
            guard let c = CIDR(text), c.family == family else { return nil }
            return c.valueRange
        }
        if let dash = text.firstIndex(of: "-") {
            guard let lo = value(text[..<dash]), let hi = value(text[text.index(after: dash)...]), lo <= hi else { return nil }
            return lo...hi
        }
        return value(text[...]).map { $0...$0 }
    }
}

/// Address text from the 128-bit value.
func addressText(_ v: UInt128, _ family: IPFamily) -> String {
    let b = addressBytes(v, family)
    return family == .ipv4 ? IPv4Address(bytes: b).description : IPv6Address(bytes: b).description
}

/// Network-order bytes (4 or 16) of the value.
func addressBytes(_ v: UInt128, _ family: IPFamily) -> [UInt8] {
    let n = family == .ipv4 ? 4 : 16
    var out = [UInt8](repeating: 0, count: n)
    var x = v
    for i in stride(from: n - 1, through: 0, by: -1) {
        out[i] = UInt8(truncatingIfNeeded: x)
        x >>= 8
    }
    return out
}

/// The 128-bit value of network-order address bytes.
func addressValue(_ bytes: ArraySlice<UInt8>) -> UInt128 {
    var v: UInt128 = 0
    for b in bytes { v = v << 8 | UInt128(b) }
    return v
}

func addressValue(_ bytes: [UInt8]) -> UInt128 { addressValue(bytes[...]) }

extension CIDR {
    /// The prefix as an inclusive range of address values.
    var valueRange: ClosedRange<UInt128> {
        let bits = family == .ipv4 ? 32 : 128
        let base = addressValue(address.bytes)
        let hostBits = bits - prefixLength
        if hostBits >= 128 { return 0...UInt128.max }
        let hostMask: UInt128 = hostBits == 0 ? 0 : (UInt128(1) << hostBits) - 1
        return (base & ~hostMask)...(base | hostMask)
    }
}

/// The storage of a set's ranges: equal identities mean the same (shared) array, so the same set.
struct SetIdentity: Hashable {
    var family: IPFamily
    var id: UInt
    var count: Int
    init(_ s: AddressSet) {
        family = s.family
        count = s.ranges.count
        id = s.ranges.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
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
        h.combine(s.ranges.count)
        for r in s.ranges { h.combine(r.lowerBound); h.combine(r.upperBound) }
        digest = h.finalize()
    }
    static func == (a: ContentKey, b: ContentKey) -> Bool { a.digest == b.digest && a.set == b.set }
    func hash(into h: inout Hasher) { h.combine(digest) }
}

/// One shared copy per distinct set: equal sets built by different walks (ports, destinations, interfaces under the
/// same rules) keep one array between them, and identity then stands for equality.
final class SetInterner {
    private var canonical = Set<SetIdentity>()
    private var byContent: [ContentKey: AddressSet] = [:]

    /// Larger sets keep their own identity: they come from set operations whose cache already hands out one shared
    /// result per distinct operation, and hashing a deny list's complement on every call cost more than it saved.
    static let maxInterned = 1024

    func intern(_ s: AddressSet) -> AddressSet {
        if s.ranges.isEmpty || s.ranges.count > SetInterner.maxInterned { return s }
        if canonical.contains(SetIdentity(s)) { return s }
        let k = ContentKey(s)
        if let c = byContent[k] { return c }
        byContent[k] = s
        canonical.insert(SetIdentity(s))
        return s
    }
}
