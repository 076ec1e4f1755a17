import HostModel
import Evaluator

/// What the evaluator found on the forward path and for IPv6 neighbour discovery, for the checks that read it
/// (computed by the evaluator from its compiled ruleset; checks never look at expressions for these).
public struct PathFacts: Sendable, Equatable {
    public var published: [PublishedPath]
    public var openForwarding: [OpenForwarding]
    public var blockedNeighbourDiscovery: [BlockedNeighbourDiscovery]

    public init(published: [PublishedPath] = [], openForwarding: [OpenForwarding] = [], blockedNeighbourDiscovery: [BlockedNeighbourDiscovery] = []) {
        self.published = published
        self.openForwarding = openForwarding
        self.blockedNeighbourDiscovery = blockedNeighbourDiscovery
    }

    /// The facts of a snapshot. `forwarded` is the exposure's list of published ports when the caller has it (it is
    /// computed otherwise, only when the ruleset has a NAT chain: without one nothing is published).
    public static func of(_ snapshot: Snapshot, evaluator: Evaluator? = nil, forwarded: [ForwardedPort]? = nil) -> PathFacts {
        let e = evaluator ?? Evaluator(snapshot: snapshot)
        let hasNat = snapshot.firewall.tables.contains { t in t.chains.contains { $0.base?.type == "nat" } }
        let fw = forwarded ?? (hasNat ? e.fullExposure().forwarded : [])
        return PathFacts(published: e.publishedPaths(fw), openForwarding: e.openForwarding(), blockedNeighbourDiscovery: e.neighbourDiscovery())
    }
}
