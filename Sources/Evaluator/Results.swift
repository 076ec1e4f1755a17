import HostModel

/// One packet to follow: a NEW inbound connection attempt as the trace contract describes it.
public struct Probe: Codable, Sendable, Equatable, Hashable {
    public var proto: L4Proto
    public var src: String
    public var dst: String
    /// Absent when the caller does not know it: rules that test it then make the result conditional.
    public var sport: UInt16?
    public var dport: UInt16
    /// Input interface name; `lo` means the host talks to itself.
    public var iif: String

    public init(proto: L4Proto, src: String, dst: String, sport: UInt16? = nil, dport: UInt16, iif: String) {
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.iif = iif
    }
}

/// Why a probe could not be evaluated.
public enum ProbeError: Error, Equatable, CustomStringConvertible {
    case badAddress(field: String, value: String)
    case familyMismatch(src: String, dst: String)

    public var description: String {
        switch self {
        case .badAddress(let field, let value): "field '\(field)': '\(value)' is not an IPv4 or IPv6 address"
        case .familyMismatch(let src, let dst): "src \(src) and dst \(dst) are of different address families"
        }
    }
}

/// The outcome for a packet: the kernel's verdict, or `conditional` when the snapshot cannot decide it.
public enum PacketVerdict: String, Codable, Sendable, Hashable, Comparable {
    case accept, drop, reject, conditional

    public static func < (a: PacketVerdict, b: PacketVerdict) -> Bool { a.rank < b.rank }
    var rank: Int {
        switch self {
        case .accept: 0
        case .conditional: 1
        case .reject: 2
        case .drop: 3
        }
    }
}

/// The socket a packet would reach, in the form the trace contract prints.
public struct ListenerRef: Codable, Sendable, Equatable, Hashable {
    public var proto: L4Proto
    public var address: String
    public var port: UInt16
    public var device: String?
    public var processes: [ProcessInfo]
    /// For a socket in another network namespace (a container, a pod): that namespace, `address` is the address the
    /// packet arrived at there and `bind` the socket's own bind address. Nil for the host's own sockets.
    public var namespace: String?
    public var bind: String?

    public init(_ l: Listener) {
        proto = l.proto
        address = l.address
        port = l.port
        device = l.device
        processes = l.processes
    }

    /// A socket in another namespace, reached at `arrival`.
    public init(_ l: Listener, namespace: String, arrival: String) {
        self.init(l)
        address = arrival
        bind = l.address
        self.namespace = namespace
    }
}

/// The destination DNAT gave a connection.
public struct Translation: Codable, Sendable, Equatable, Hashable {
    public var address: String
    public var port: UInt16

    public init(address: String, port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// What the kernel would do with one probe.
public struct TraceResult: Codable, Sendable, Equatable {
    public var verdict: PacketVerdict
    /// Base chains and deciding rules, in the order the packet met them.
    public var path: [PathStep]
    /// The socket that receives the packet if it is accepted (also filled for dropped packets: the socket it was meant for).
    public var listener: ListenerRef?
    /// Accepted by every chain and received by a socket.
    public var delivered: Bool
    /// Routed elsewhere after prerouting (a DNAT to a non-local address): not followed further.
    public var forwarded: Bool
    /// For `conditional`: what the snapshot cannot decide (limit, mark, unknown expression, …).
    public var reasons: [String]
    /// Destination after NAT, when prerouting changed it (`addr:port`).
    public var translatedTo: String?
    /// The same destination as a value (the trace contract's `dnat` object).
    public var dnat: Translation?
    /// Rate limits and quotas the packet passed (nft syntax): a first connection gets through them. Nil when none.
    public var limits: [String]?

    public init(
        verdict: PacketVerdict, path: [PathStep], listener: ListenerRef?, delivered: Bool, forwarded: Bool,
        reasons: [String], translatedTo: String?, dnat: Translation? = nil, limits: [String]? = nil
    ) {
        self.limits = limits
        self.verdict = verdict
        self.path = path
        self.listener = listener
        self.delivered = delivered
        self.forwarded = forwarded
        self.reasons = reasons
        self.translatedTo = translatedTo
        self.dnat = dnat
    }
}

/// How far a listener can be reached, from the most to the least exposed. The first that applies wins:
///
/// - `public`: on some non-loopback interface (real, named by a rule, or "any other"), the sources accepted for one
///   family — decided, not conditional — cover at least half of that family's address space (2^31 IPv4 / 2^127 IPv6
///   addresses; the martian sources the kernel drops count as not accepted). So "everything except a deny list" is
///   public, while `10.0.0.0/8`, or all private ranges together, are not. Whether a
///   narrower range is still too wide is a policy question: judge it from `ListenerExposure.acceptedRanges`, which lists
///   the exact accepted sources per interface and family.
/// - `conditional`: not public, and some remote source (non-loopback interface) is accepted only depending on state the
///   snapshot cannot decide (rate limits, marks, unknown expressions, an unreadable firewall, legacy iptables).
///   Checks treat it as reachable.
/// - `restricted`: some remote source is accepted, always less than the public threshold on every interface.
/// - `localOnly`: only host-local traffic (arriving on `lo`) is accepted.
/// - `blocked`: no new connection is accepted at all.
public enum ExposureSummary: String, Codable, Sendable, Hashable, Comparable {
    /// Accepted from at least half of a family's addresses on some non-loopback interface.
    case `public`
    /// Part of the remote outcome depends on state the snapshot cannot decide; treat as reachable.
    case conditional
    /// Accepted only from some sources or on some interfaces.
    case restricted
    /// Only host-local traffic reaches it.
    case localOnly
    /// No new connection reaches it.
    case blocked

    public static func < (a: ExposureSummary, b: ExposureSummary) -> Bool { a.rank < b.rank }
    var rank: Int {
        switch self {
        case .public: 0
        case .conditional: 1
        case .restricted: 2
        case .localOnly: 3
        case .blocked: 4
        }
    }
}

/// One cell of a listener's exposure: packets of `family` arriving on `interface` for `destination`, from `sources`.
public struct ExposureRegion: Sendable, Equatable {
    public var family: IPFamily
    /// Interface name; `lo` for host-local traffic; names that do not exist yet are marked by `interfaceExists`.
    public var interface: String
    public var interfaceExists: Bool
    /// Destination address and port the packet carries on the wire (before NAT).
    public var destination: String
    public var destinationPort: UInt16
    /// Source ranges, at most `ExposureRegion.maxListed` of them (see `omittedSources`).
    public var sources: [String]
    /// How many further ranges were left out of `sources` (large deny lists).
    public var omittedSources: Int
    /// Number of source addresses (saturating); lets readers compare coverage without parsing ranges.
    public var sourceCount: Double
    public var verdict: PacketVerdict
    public var path: [PathStep]
    public var reasons: [String]
    /// Rate limits and quotas (nft syntax) the accepted connections pass: they slow a flood, they do not choose who
    /// connects. Nil when there are none.
    public var limits: [String]?
    /// Every source, exactly (`sources` is its display form, cut after `maxListed`): what JSON writes in the shared
    /// `addressSets` table when the display is cut. Nil only for a region read back from a report that did not carry
    /// it (schema 2, or a list that fit in `sources`).
    public var sourceSet: AddressSet?

    public static let maxListed = 64

    public init(
        family: IPFamily, interface: String, interfaceExists: Bool, destination: String, destinationPort: UInt16, sources: [String],
        omittedSources: Int, sourceCount: Double, verdict: PacketVerdict, path: [PathStep], reasons: [String], limits: [String]? = nil,
        sourceSet: AddressSet? = nil
    ) {
        self.sourceSet = sourceSet
        self.limits = limits
        self.family = family
        self.interface = interface
        self.interfaceExists = interfaceExists
        self.destination = destination
        self.destinationPort = destinationPort
        self.sources = sources
        self.omittedSources = omittedSources
        self.sourceCount = sourceCount
        self.verdict = verdict
        self.path = path
        self.reasons = reasons
    }

    /// What the region shows; the exact sets are compared only when both sides carry one (a region read back from
    /// JSON carries it only where the display was cut, and then it is the same set).
    public static func == (a: ExposureRegion, b: ExposureRegion) -> Bool {
        a.family == b.family && a.interface == b.interface && a.interfaceExists == b.interfaceExists && a.destination == b.destination
            && a.destinationPort == b.destinationPort && a.sources == b.sources && a.omittedSources == b.omittedSources
            && a.sourceCount == b.sourceCount && a.verdict == b.verdict && a.path == b.path && a.reasons == b.reasons
            && a.limits == b.limits && (a.sourceSet == nil || b.sourceSet == nil || a.sourceSet == b.sourceSet)
    }
}

/// A listener and who can open a new connection to it.
public struct ListenerExposure: Sendable, Equatable {
    public var listener: Listener
    public var summary: ExposureSummary
    /// Interfaces (other than `lo`) on which some source is accepted or conditional.
    public var interfaces: [String]
    /// The accepted source ranges on non-loopback interfaces, merged (`0.0.0.0/0` / `::/0` when every source the
    /// kernel would route is accepted); at most `ExposureRegion.maxListed` per family.
    public var acceptedSources: [String]
    public var reasons: [String]
    public var regions: [ExposureRegion]
    /// External destination ports that DNAT/redirect map onto this listener.
    public var viaPorts: [UInt16]
    /// The exact accepted (decided) remote sources per non-loopback interface and family, all destinations together:
    /// what `summary` was judged from, for checks that apply their own threshold.
    public var acceptedRanges: [AcceptedRanges]
    /// Rate limits and quotas in front of the accepting rules (see `ExposureRegion.limits`); nil when none.
    public var limits: [String]? = nil

    public init(
        listener: Listener, summary: ExposureSummary, interfaces: [String], acceptedSources: [String], reasons: [String],
        regions: [ExposureRegion], viaPorts: [UInt16], acceptedRanges: [AcceptedRanges], limits: [String]? = nil
    ) {
        self.listener = listener
        self.summary = summary
        self.interfaces = interfaces
        self.acceptedSources = acceptedSources
        self.reasons = reasons
        self.regions = regions
        self.viaPorts = viaPorts
        self.acceptedRanges = acceptedRanges
        self.limits = limits
    }
}

/// Every source address accepted (not conditional) for one family on one non-loopback input interface.
public struct AcceptedRanges: Sendable, Equatable {
    public var family: IPFamily
    public var interface: String
    public var interfaceExists: Bool
    /// The exact set. In JSON it is `ranges` (`a`, `a/len` or `a-b`); a set of more than `maxEncoded` ranges is `set`,
    /// an index into the document's `addressSets`, where every range is listed once for all listeners (schema 2 cut
    /// the list instead, with `omitted` saying how many were left out); `count` is the number of addresses.
    public var set: AddressSet
    /// Every source the kernel would route is accepted (the set plus the martian sources it drops is everything).
    public var allRoutable: Bool

    public static let maxEncoded = 256

    public init(family: IPFamily, interface: String, interfaceExists: Bool, set: AddressSet, allRoutable: Bool) {
        self.family = family
        self.interface = interface
        self.interfaceExists = interfaceExists
        self.set = set
        self.allRoutable = allRoutable
    }
}

/// A port of this host that DNAT sends on to another machine or namespace (Docker-style published ports, kube-proxy
/// services): such connections go through the forward hook, not input, so they are listed apart from listeners.
/// `sources` are those that pass prerouting, the routing decision, the forward and postrouting chains and, when the
/// target is a namespace of this host, that namespace's own chains.
public struct ForwardedPort: Sendable, Equatable {
    public var proto: L4Proto
    public var family: IPFamily
    /// The external destination port the connection is addressed to.
    public var port: UInt16
    /// Where DNAT sends it: `addr:port` (`[addr]:port` for IPv6).
    public var target: String
    /// Host addresses on which the external port is translated.
    public var destinations: [String]
    /// Input interfaces (never `lo`) on which some source is translated.
    public var interfaces: [String]
    /// Translated source ranges over all interfaces, merged (`0.0.0.0/0` / `::/0` when every routable source is).
    public var sources: [String]
    /// For conditional cells: what the snapshot cannot decide.
    public var reasons: [String]
    /// Per (interface, host address): the sources and the path (DNAT, `forward to …`, the forward chains and, for a
    /// namespace of this host, `into …` and its chains). `verdict` is `accept` when the connection gets there,
    /// `conditional` when that is undecidable.
    public var regions: [ExposureRegion]
    /// The namespace of this host that receives it (`docker web (net:[…])`); nil when the target is another machine.
    public var namespace: String?
    /// The socket there that receives it; nil for another machine, or when nothing listens (then nothing answers).
    public var listener: ListenerRef?
    /// Every name the receiving namespace is known by (its `/run/netns` name, container, `pod` and `namespace/pod`),
    /// for policy entries that select it.
    public var namespaceNames: [String] = []
    /// How far it is reached, judged as for listeners (`public`, `restricted`, `conditional`).
    public var summary: ExposureSummary
    /// Rate limits and quotas on the way (see `ExposureRegion.limits`); nil when none.
    public var limits: [String]?

    public init(
        proto: L4Proto, family: IPFamily, port: UInt16, target: String, destinations: [String], interfaces: [String],
        sources: [String], reasons: [String], regions: [ExposureRegion], namespace: String? = nil, listener: ListenerRef? = nil,
        summary: ExposureSummary = .restricted
    ) {
        self.proto = proto
        self.family = family
        self.port = port
        self.target = target
        self.destinations = destinations
        self.interfaces = interfaces
        self.sources = sources
        self.reasons = reasons
        self.regions = regions
        self.namespace = namespace
        self.listener = listener
        self.summary = summary
    }
}

/// Everything `exposure` finds on a host: listeners, and ports forwarded elsewhere by DNAT.
public struct ExposureResult: Sendable, Equatable {
    public var listeners: [ListenerExposure]
    public var forwarded: [ForwardedPort]

    public init(listeners: [ListenerExposure], forwarded: [ForwardedPort]) {
        self.listeners = listeners
        self.forwarded = forwarded
    }
}
