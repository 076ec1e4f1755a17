import HostModel

// The typed seam for checks and diffs: who reaches a listener or a published port, as exact address sets. The
// `sources` strings beside them are for people (cut after `ExposureRegion.maxListed`); nothing should parse them.

extension ExposureRegion {
    /// The region's sources, exactly: `sourceSet`, or for a region read back from a report that did not carry one, its
    /// listed ranges (complete unless `omittedSources` says ranges were cut, as schema 2 did for large lists).
    public var exactSources: AddressSet {
        sourceSet ?? .parsing(sources, family)
    }

    /// Accepted or conditional for remote traffic (any interface but loopback).
    public var reachesRemotely: Bool { interface != "lo" && (verdict == .accept || verdict == .conditional) }

    /// Every remote source of `family` the regions accept or leave conditional, merged. Every source the kernel
    /// would route (all but the martian sources it drops) is the whole family, as reports write it (`0.0.0.0/0`).
    public static func remoteSources(_ regions: [ExposureRegion], _ family: IPFamily) -> AddressSet {
        let out = AddressSet.unionAll(family, regions.filter { $0.family == family && $0.reachesRemotely }.map(\.exactSources))
        let routable = [false, true].contains { out.unionIsFull(Walker.martianSources(family, routeLocalnet: $0)) }
        return routable ? .full(family) : out
    }
}

extension ListenerExposure {
    /// The remote sources of `family` that reach the listener (accepted or conditional), exactly: what
    /// `acceptedSources` shows cut.
    public func remoteSources(_ family: IPFamily) -> AddressSet { ExposureRegion.remoteSources(regions, family) }
}

extension ForwardedPort {
    /// The remote sources of `family` that reach the published port (accepted or conditional), exactly: what
    /// `sources` shows cut.
    public func remoteSources(_ family: IPFamily) -> AddressSet { ExposureRegion.remoteSources(regions, family) }
}

extension AddressSet {
    /// The addresses of the prefixes of `family` in `cidrs` (a policy's allowed sources).
    public static func of(_ cidrs: [CIDR], _ family: IPFamily) -> AddressSet {
        AddressSet(family: family, ranges: cidrs.filter { $0.family == family }.map(\.valueRange))
    }

    /// Some address of the set lies outside `cidrs`.
    public func exceeds(_ cidrs: [CIDR]) -> Bool { !subtracting(.of(cidrs, family)).isEmpty }

    /// `texts` (`a`, `a/len`, `a-b`) of `family`, merged; text of the other family or malformed is left out. For
    /// hand-written examples and policy values, never for the evaluator's own output (use its sets).
    package static func parsing(_ texts: [String], _ family: IPFamily) -> AddressSet {
        AddressSet(family: family, ranges: texts.compactMap { parseRange($0, family) })
    }
}
