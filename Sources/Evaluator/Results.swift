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

/// One step of a rule path: a base chain that ran, or the rule (by handle) that took a decision in it.
public struct PathStep: Codable, Sendable, Equatable, Hashable {
    public var table: String
    public var family: String
    public var chain: String
    public var hook: String
    public var priority: Int32
    /// The rule's handle; nil for chain-level steps (policy, end of chain) and routing steps.
    public var handle: UInt64?
    /// What happened: `accept`, `drop`, `reject`, `jump x`, `goto x`, `return`, `policy accept`, `dnat to …`, `notrack`, …
    public var action: String

    public init(table: String, family: String, chain: String, hook: String, priority: Int32, handle: UInt64?, action: String) {
        self.table = table
        self.family = family
        self.chain = chain
        self.hook = hook
        self.priority = priority
        self.handle = handle
        self.action = action
    }

    /// `table/chain #handle: action`, for text output.
    public var text: String {
        if table.isEmpty { return action }
        let h = handle.map { " #\($0)" } ?? ""
        return "\(family) \(table) \(chain)\(h) [\(hook) \(priority)]: \(action)"
    }
}

/// The socket a packet would reach, in the form the trace contract prints.
public struct ListenerRef: Codable, Sendable, Equatable, Hashable {
    public var proto: L4Proto
    public var address: String
    public var port: UInt16
    public var device: String?
    public var processes: [ProcessInfo]

    public init(_ l: Listener) {
        proto = l.proto
        address = l.address
        port = l.port
        device = l.device
        processes = l.processes
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

    public init(verdict: PacketVerdict, path: [PathStep], listener: ListenerRef?, delivered: Bool, forwarded: Bool,
                reasons: [String], translatedTo: String?) {
        self.verdict = verdict
        self.path = path
        self.listener = listener
        self.delivered = delivered
        self.forwarded = forwarded
        self.reasons = reasons
        self.translatedTo = translatedTo
    }
}

/// How far a listener can be reached, from the most to the least exposed.
public enum ExposureSummary: String, Codable, Sendable, Hashable, Comparable {
    /// Accepted from (nearly) every source on some non-loopback interface.
    case `public`
    /// Part of the outcome depends on state the snapshot cannot decide; treat as reachable.
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
public struct ExposureRegion: Codable, Sendable, Equatable {
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

    public static let maxListed = 64
}

/// A listener and who can open a new connection to it.
public struct ListenerExposure: Codable, Sendable, Equatable {
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
}
