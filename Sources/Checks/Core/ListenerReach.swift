import HostModel
import Evaluator

/// The evaluator's answer for one listener, reduced to what checks need. Built from `ListenerExposure` in a real audit and
/// written directly in examples and tests (the evaluator's semantics are tested in EvaluatorTests, not here).
public struct ListenerReach: Sendable, Equatable {
    public var listener: Listener
    public var summary: ExposureSummary
    /// Non-loopback interfaces on which some source is accepted (or conditional).
    public var interfaces: [String]
    /// Accepted (or conditional) remote source ranges as the evaluator prints them (`0.0.0.0/0`, `10.0.0.0/8`, `a-b`, `a`),
    /// cut after `ExposureRegion.maxListed` per family: for people (evidence, messages).
    public var sources: [String]
    /// The same sources exactly, one set per family reached (empty sets left out): what checks judge.
    public var sourceSets: [AddressSet]
    /// Families on which some remote source is accepted or conditional.
    public var reachedFamilies: [IPFamily]
    /// The rule path that decides the widest remote outcome (accepting, else conditional, else blocking).
    public var path: [PathStep]
    public var reasons: [String]
    /// External ports that DNAT/redirect send to this listener.
    public var viaPorts: [UInt16]
    /// Every interface the evaluator asked about (for "every interface except …"); empty in hand-written examples.
    public var askedInterfaces: [String] = []
    /// Rate limits and quotas in front of the accepting rules (nft syntax): named, never taken for access control.
    public var limits: [String] = []

    public init(
        listener: Listener, summary: ExposureSummary, interfaces: [String] = [], sources: [String] = [],
        reachedFamilies: [IPFamily]? = nil, path: [PathStep] = [], reasons: [String] = [], viaPorts: [UInt16] = []
    ) {
        self.listener = listener
        self.summary = summary
        self.interfaces = interfaces
        self.sources = sources
        self.sourceSets = IPFamily.allCases.map { AddressSet.parsing(sources, $0) }.filter { !$0.isEmpty }
        let remote = summary == .public || summary == .restricted || summary == .conditional
        self.reachedFamilies = reachedFamilies ?? (remote ? listener.receivesFamilies : [])
        self.path = path
        self.reasons = reasons
        self.viaPorts = viaPorts
    }

    /// Reduces the evaluator's full partition.
    public init(_ e: ListenerExposure) {
        var fams: [IPFamily] = []
        var best: ExposureRegion?
        func rank(_ v: PacketVerdict) -> Int { v == .accept ? 0 : v == .conditional ? 1 : 2 }
        for r in e.regions where r.interface != "lo" {
            if (r.verdict == .accept || r.verdict == .conditional) && !fams.contains(r.family) { fams.append(r.family) }
            if best == nil || rank(r.verdict) < rank(best?.verdict ?? .drop)
                || (rank(r.verdict) == rank(best?.verdict ?? .drop) && r.sourceCount > (best?.sourceCount ?? 0))
            {
                best = r
            }
        }
        self.init(
            listener: e.listener, summary: e.summary, interfaces: e.interfaces, sources: e.acceptedSources,
            reachedFamilies: IPFamily.allCases.filter { fams.contains($0) }, path: best?.path ?? [], reasons: e.reasons,
            viaPorts: e.viaPorts)
        askedInterfaces = e.regions.map(\.interface)
        limits = e.limits ?? []
        sourceSets = IPFamily.allCases.map { e.remoteSources($0) }.filter { !$0.isEmpty }
    }

    /// The interfaces it is reached on, in words ("every interface except eth1").
    public var interfaceScope: InterfaceScope { InterfaceScope(reached: interfaces, asked: askedInterfaces + interfaces) }

    /// Reachable from somewhere other than the host itself (conditional counts: checks treat it as reachable).
    public var isRemote: Bool { summary == .public || summary == .restricted || summary == .conditional }

    /// The stable subject key used in fingerprints: `listener/tcp/0.0.0.0:6379`.
    public var subject: String { "listener/\(listener.proto.rawValue)/\(listener.endpoint)" }

    /// How wide the accepted sources are, for severity grading.
    public var width: SourceWidth { SourceWidth.of(self) }

    /// The evidence block of a finding about this listener.
    public var evidence: Evidence {
        let scope = interfaceScope
        return Evidence(
            exposure: summary.rawValue, interfaces: scope.named, otherInterfaces: scope.others, sources: sources,
            path: path.map(\.text), reasons: reasons, limits: limits)
    }
}

/// How far the accepted sources reach, from the widest: any address, some public ranges, private ranges only, single hosts.
public enum SourceWidth: Int, Sendable, Comparable {
    case none = 0, singleHosts, privateRanges, wide, any

    public static func < (a: SourceWidth, b: SourceWidth) -> Bool { a.rawValue < b.rawValue }

    static func of(_ r: ListenerReach) -> SourceWidth {
        switch r.summary {
        case .public: return .any
        case .localOnly, .blocked: return .none
        case .conditional where r.sources.isEmpty: return .wide
        default: break
        }
        var w = SourceWidth.none
        for set in r.sourceSets {
            // Every range a single address: no need to walk a long list of hosts.
            if set.count == UInt128(set.ranges.count) {
                w = max(w, .singleHosts)
                continue
            }
            for range in set.ranges {
                let a = AddressRange(family: set.family, low: range.lowerBound, high: range.upperBound)
                if a.isSingle { w = max(w, .singleHosts) } else if a.isPrivate { w = max(w, .privateRanges) } else { return .wide }
            }
        }
        return w
    }
}

/// An inclusive address range parsed from the evaluator's text (`a`, `a-b`, `a/n`).
public struct AddressRange: Sendable, Hashable {
    public var family: IPFamily
    public var low: UInt128
    public var high: UInt128

    public init(family: IPFamily, low: UInt128, high: UInt128) {
        self.family = family
        self.low = low
        self.high = high
    }

    public init?(_ text: String) {
        if let cidr = CIDR(text) {
            self.init(cidr)
            return
        }
        let parts = text.split(separator: "-", maxSplits: 1).map(String.init)
        guard parts.count == 2, let a = IPAddress(parts[0]), let b = IPAddress(parts[1]), a.family == b.family else { return nil }
        self.init(family: a.family, low: AddressRange.value(a.bytes), high: AddressRange.value(b.bytes))
    }

    public init(_ cidr: CIDR) {
        family = cidr.family
        let bits = cidr.family == .ipv4 ? 32 : 128
        let base = AddressRange.value(cidr.address.bytes)
        let hostBits = bits - cidr.prefixLength
        let mask: UInt128 = hostBits >= 128 ? UInt128.max : (hostBits == 0 ? 0 : (UInt128(1) << hostBits) - 1)
        low = base & ~mask
        high = base | mask
    }

    static func value(_ bytes: [UInt8]) -> UInt128 { bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }

    public var isSingle: Bool { low == high }

    /// Inside RFC 1918, 100.64/10 (CGNAT), link-local, loopback, ULA fc00::/7 or fe80::/10.
    public var isPrivate: Bool {
        (family == .ipv4 ? AddressRange.private4 : AddressRange.private6).contains { $0.low <= low && high <= $0.high }
    }

    private static let private4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8"]
        .compactMap(CIDR.init).map(AddressRange.init)
    private static let private6 = ["fc00::/7", "fe80::/10", "::1/128"].compactMap(CIDR.init).map(AddressRange.init)

    public func contains(_ other: AddressRange) -> Bool { family == other.family && low <= other.low && other.high <= high }

    /// The parts of `self` not covered by any of `covers` (same family only).
    public func subtracting(_ covers: [AddressRange]) -> [AddressRange] {
        var pieces = [self]
        for c in covers where c.family == family {
            var next: [AddressRange] = []
            for p in pieces {
                if c.high < p.low || c.low > p.high { next.append(p); continue }
                if c.low > p.low { next.append(AddressRange(family: family, low: p.low, high: c.low - 1)) }
                if c.high < p.high { next.append(AddressRange(family: family, low: c.high + 1, high: p.high)) }
            }
            pieces = next
        }
        return pieces
    }
}

extension AddressRange {
    /// The smallest list of CIDR prefixes covering exactly this range (for writing policies).
    public var cidrs: [String] {
        let bits = family == .ipv4 ? 32 : 128
        var out: [String] = []
        var lo = low
        while lo <= high {
            var size = 0  // host bits of the block
            while size < bits {
                let next = size + 1
                let mask: UInt128 = next >= 128 ? UInt128.max : (UInt128(1) << next) - 1
                if lo & mask != 0 { break }
                let end = lo | mask
                if end > high { break }
                size = next
            }
            let bytes: [UInt8] = (0..<(bits / 8)).map { i in UInt8(truncatingIfNeeded: lo >> UInt128(bits - 8 - i * 8)) }
            let addr: String = family == .ipv4 ? IPv4Address(bytes: bytes).description : IPv6Address(bytes: bytes).description
            out.append("\(addr)/\(bits - size)")
            let blockMask: UInt128 = size >= 128 ? UInt128.max : (UInt128(1) << size) - 1
            let end = lo | blockMask
            if end == UInt128.max || (family == .ipv4 && end == UInt128(UInt32.max)) { break }
            lo = end + 1
        }
        return out
    }
}
