/// A network interface with its addresses.
public struct Interface: Codable, Sendable, Equatable, Hashable {
    public var index: UInt32
    public var name: String
    /// IFF_* flag names that matter to a reader (`up`, `loopback`, `running`, …).
    public var flags: [String]
    /// Link kind from IFLA_INFO_KIND (`veth`, `bridge`, `vrf`, …), when the kernel reports one.
    public var kind: String?
    public var addresses: [InterfaceAddress]
    /// The device this one is enslaved to (IFLA_MASTER: a bridge, bond or VRF), when it is a port of one.
    public var master: String?

    public init(
        index: UInt32, name: String, flags: [String] = [], kind: String? = nil, addresses: [InterfaceAddress] = [],
        master: String? = nil
    ) {
        self.index = index
        self.name = name
        self.flags = flags
        self.kind = kind
        self.addresses = addresses
        self.master = master
    }

    public var isUp: Bool { flags.contains("up") }
    public var isLoopback: Bool { flags.contains("loopback") }
}

public struct InterfaceAddress: Codable, Sendable, Equatable, Hashable {
    public var family: IPFamily
    public var address: String
    public var prefixLength: UInt8
    /// `host`, `link`, `global`, … from the address's scope.
    public var scope: String

    public init(family: IPFamily, address: String, prefixLength: UInt8, scope: String = "global") {
        self.family = family
        self.address = address
        self.prefixLength = prefixLength
        self.scope = scope
    }
}

/// The routing state that `fib` expressions consult: the main and local tables and the policy rules.
public struct Routing: Codable, Sendable, Equatable {
    public var routes: [Route]
    public var rules: [RoutingRule]

    public init(routes: [Route] = [], rules: [RoutingRule] = []) {
        self.routes = routes
        self.rules = rules
    }
}

public struct Route: Codable, Sendable, Equatable, Hashable {
    public var family: IPFamily
    /// Routing table id: 254 main, 255 local.
    public var table: UInt32
    /// RTN_* type name: `unicast`, `local`, `broadcast`, `blackhole`, `unreachable`, `prohibit`, …
    public var type: String
    public var destination: String
    public var prefixLength: UInt8
    public var gateway: String?
    /// Output device name, when the route has one.
    public var device: String?
    public var deviceIndex: UInt32
    public var preferredSource: String?
    public var metric: UInt32

    public init(
        family: IPFamily, table: UInt32, type: String, destination: String, prefixLength: UInt8, gateway: String? = nil,
        device: String? = nil, deviceIndex: UInt32 = 0, preferredSource: String? = nil, metric: UInt32 = 0
    ) {
        self.family = family
        self.table = table
        self.type = type
        self.destination = destination
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.device = device
        self.deviceIndex = deviceIndex
        self.preferredSource = preferredSource
        self.metric = metric
    }
}

/// An `ip rule` policy routing rule.
public struct RoutingRule: Codable, Sendable, Equatable, Hashable {
    public var family: IPFamily
    public var priority: UInt32
    public var table: UInt32
    /// FR_ACT_* name: `to_tbl`, `goto`, `nop`, `blackhole`, `unreachable`, `prohibit`.
    public var action: String
    public var source: String?
    public var sourcePrefixLength: UInt8
    public var destination: String?
    public var destinationPrefixLength: UInt8
    public var iifname: String?
    public var oifname: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    public var inverted: Bool

    public init(
        family: IPFamily, priority: UInt32, table: UInt32, action: String, source: String? = nil, sourcePrefixLength: UInt8 = 0,
        destination: String? = nil, destinationPrefixLength: UInt8 = 0, iifname: String? = nil, oifname: String? = nil,
        fwmark: UInt32? = nil, fwmask: UInt32? = nil, inverted: Bool = false
    ) {
        self.family = family
        self.priority = priority
        self.table = table
        self.action = action
        self.source = source
        self.sourcePrefixLength = sourcePrefixLength
        self.destination = destination
        self.destinationPrefixLength = destinationPrefixLength
        self.iifname = iifname
        self.oifname = oifname
        self.fwmark = fwmark
        self.fwmask = fwmask
        self.inverted = inverted
    }
}

/// The sysctls that decide exposure. Optional fields are absent when the file does not exist on this kernel.
public struct Sysctls: Codable, Sendable, Equatable {
    /// `net.ipv4.ip_local_port_range` (also used by IPv6).
    public var ipLocalPortRange: PortRange?
    /// `net.ipv4.ip_local_reserved_ports`.
    public var ipLocalReservedPorts: [PortRange]
    /// `net.ipv4.ip_unprivileged_port_start`.
    public var ipUnprivilegedPortStart: UInt32?
    /// `net.ipv6.bindv6only` (only the default for new sockets; each socket's own v6only decides).
    public var bindv6only: Bool?
    /// `net.ipv4.ip_forward`.
    public var ipForward: Bool?
    /// `net.ipv6.conf.all.forwarding`.
    public var ipv6Forwarding: Bool?
    /// `net.ipv4.conf.<if>.route_localnet`, per interface name including `all` and `default`.
    public var routeLocalnet: [String: Bool]
    /// `net.ipv4.ip_nonlocal_bind` and `net.ipv6.ip_nonlocal_bind`.
    public var ipNonlocalBind: Bool?
    public var ipv6NonlocalBind: Bool?
    public var tcpL3mdevAccept: Bool?
    public var udpL3mdevAccept: Bool?

    public init(
        ipLocalPortRange: PortRange? = nil, ipLocalReservedPorts: [PortRange] = [], ipUnprivilegedPortStart: UInt32? = nil,
        bindv6only: Bool? = nil, ipForward: Bool? = nil, ipv6Forwarding: Bool? = nil, routeLocalnet: [String: Bool] = [:],
        ipNonlocalBind: Bool? = nil, ipv6NonlocalBind: Bool? = nil, tcpL3mdevAccept: Bool? = nil, udpL3mdevAccept: Bool? = nil
    ) {
        self.ipLocalPortRange = ipLocalPortRange
        self.ipLocalReservedPorts = ipLocalReservedPorts
        self.ipUnprivilegedPortStart = ipUnprivilegedPortStart
        self.bindv6only = bindv6only
        self.ipForward = ipForward
        self.ipv6Forwarding = ipv6Forwarding
        self.routeLocalnet = routeLocalnet
        self.ipNonlocalBind = ipNonlocalBind
        self.ipv6NonlocalBind = ipv6NonlocalBind
        self.tcpL3mdevAccept = tcpL3mdevAccept
        self.udpL3mdevAccept = udpL3mdevAccept
    }

    private enum CodingKeys: String, CodingKey {
        case ipLocalPortRange, ipLocalReservedPorts, ipUnprivilegedPortStart, bindv6only, ipForward, ipv6Forwarding, routeLocalnet
        case ipNonlocalBind, ipv6NonlocalBind, tcpL3mdevAccept, udpL3mdevAccept
    }

    private struct NameKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// As the synthesized decoder, except that `routeLocalnet` is decoded entry by entry in key order: a dictionary
    /// is decoded in hash order, so of two bad entries the error named one or the other from run to run.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipLocalPortRange = try c.decodeIfPresent(PortRange.self, forKey: .ipLocalPortRange)
        ipLocalReservedPorts = try c.decode([PortRange].self, forKey: .ipLocalReservedPorts)
        ipUnprivilegedPortStart = try c.decodeIfPresent(UInt32.self, forKey: .ipUnprivilegedPortStart)
        bindv6only = try c.decodeIfPresent(Bool.self, forKey: .bindv6only)
        ipForward = try c.decodeIfPresent(Bool.self, forKey: .ipForward)
        ipv6Forwarding = try c.decodeIfPresent(Bool.self, forKey: .ipv6Forwarding)
        let names = try c.nestedContainer(keyedBy: NameKey.self, forKey: .routeLocalnet)
        var localnet: [String: Bool] = [:]
        for k in names.allKeys.sorted(by: { $0.stringValue.utf8.lexicographicallyPrecedes($1.stringValue.utf8) }) {
            localnet[k.stringValue] = try names.decode(Bool.self, forKey: k)
        }
        routeLocalnet = localnet
        ipNonlocalBind = try c.decodeIfPresent(Bool.self, forKey: .ipNonlocalBind)
        ipv6NonlocalBind = try c.decodeIfPresent(Bool.self, forKey: .ipv6NonlocalBind)
        tcpL3mdevAccept = try c.decodeIfPresent(Bool.self, forKey: .tcpL3mdevAccept)
        udpL3mdevAccept = try c.decodeIfPresent(Bool.self, forKey: .udpL3mdevAccept)
    }
}

/// An inclusive port range.
public struct PortRange: Codable, Sendable, Equatable, Hashable {
    public var first: UInt16
    public var last: UInt16

    public init(first: UInt16, last: UInt16) {
        self.first = first
        self.last = last
    }

    public func contains(_ port: UInt16) -> Bool { port >= first && port <= last }
    public var count: Int { Int(last) - Int(first) + 1 }
}
