/// SplitMix64: a small, fast generator that gives the same sequence for a seed on every platform, so every
/// generated test case (snapshots, address sets, differential rulesets) reproduces from the seed it prints.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (`n > 0`).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    public mutating func range(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }

    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ items: [T]) -> T {
        precondition(!items.isEmpty, "pick from an empty list is a generator bug")
        return items[below(items.count)]
    }

    /// Up to `count` distinct items, in a seeded order.
    public mutating func sample<T>(_ items: [T], _ count: Int) -> [T] {
        var pool = items
        var out: [T] = []
        while out.count < count && !pool.isEmpty { out.append(pool.remove(at: below(pool.count))) }
        return out
    }
}
