internal import CNetfilter
import HostModel

/// Links, addresses, routes (main and local tables) and policy-routing rules over NETLINK_ROUTE, decoded straight
/// into `HostModel` values. The `fib` expressions and the "which local addresses does a wildcard bind cover" question
/// both need them; only dumps are sent.
public enum RouteNetlink {
    /// What one rtnetlink pass returns: interfaces with their addresses, and the routing state.
    public struct Result: Sendable, Equatable {
        public var interfaces: [Interface]
        public var routing: Routing
        public init(interfaces: [Interface], routing: Routing) { self.interfaces = interfaces; self.routing = routing }
    }

    // Message types (linux/rtnetlink.h).
    static let newLink: UInt16 = 16, getLink: UInt16 = 18
    static let newAddr: UInt16 = 20, getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24, getRoute: UInt16 = 26
    static let newRule: UInt16 = 32, getRule: UInt16 = 34

    // Attribute numbers (linux/if_link.h, if_addr.h, rtnetlink.h, fib_rules.h); some import as enums, some as Int.
    static let IFLA_IFNAME = 3
    static let IFLA_LINKINFO = 18
    static let IFLA_MASTER = 10
    static let IFLA_INFO_KIND = 1
    static let IFA_ADDRESS = 1
    static let IFA_LOCAL = 2
    static let RTA_DST = 1
    static let RTA_OIF = 4
    static let RTA_GATEWAY = 5
    static let RTA_PRIORITY = 6
    static let RTA_PREFSRC = 7
    static let RTA_MULTIPATH = 9
    static let RTA_TABLE = 15
    static let FRA_DST = 1
    static let FRA_SRC = 2
    static let FRA_IIFNAME = 3
    static let FRA_PRIORITY = 6
    static let FRA_FWMARK = 10
    static let FRA_TABLE = 15
    static let FRA_FWMASK = 16
    static let FRA_OIFNAME = 17

    /// The tables a snapshot keeps: 254 main and 255 local (what `fib daddr type local` and ordinary forwarding consult).
    public static let keptTables: Set<UInt32> = [254, 255]

    /// The dump requests of one pass, in the order they are sent (and recorded): links, addresses, IPv4 and IPv6
    /// routes, IPv4 and IPv6 rules.
    public static func requests(firstSeq seq: UInt32) -> [(seq: UInt32, bytes: [UInt8], what: String)] {
        let flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
        let inet = UInt8(AF_INET), inet6 = UInt8(AF_INET6)
        return [
            (seq, RequestBuilder(type: getLink, flags: flags, seq: seq, header: Array(repeating: 0, count: 16)).bytes, "the link dump (RTM_GETLINK)"),
            (
                seq &+ 1, RequestBuilder(type: getAddr, flags: flags, seq: seq &+ 1, header: Array(repeating: 0, count: 8)).bytes,
                "the address dump (RTM_GETADDR)"
            ),
            (
                seq &+ 2, RequestBuilder(type: getRoute, flags: flags, seq: seq &+ 2, header: [inet] + Array(repeating: 0, count: 11)).bytes,
                "the IPv4 route dump (RTM_GETROUTE)"
            ),
            (
                seq &+ 3, RequestBuilder(type: getRoute, flags: flags, seq: seq &+ 3, header: [inet6] + Array(repeating: 0, count: 11)).bytes,
                "the IPv6 route dump (RTM_GETROUTE)"
            ),
            (
                seq &+ 4, RequestBuilder(type: getRule, flags: flags, seq: seq &+ 4, header: [inet] + Array(repeating: 0, count: 11)).bytes,
                "the IPv4 rule dump (RTM_GETRULE)"
            ),
            (
                seq &+ 5, RequestBuilder(type: getRule, flags: flags, seq: seq &+ 5, header: [inet6] + Array(repeating: 0, count: 11)).bytes,
                "the IPv6 rule dump (RTM_GETRULE)"
            )
        ]
    }

    /// Accumulates decoded messages of any of the dumps; `result` joins them (addresses to links, indexes to names).
    public struct Decoder {
        public private(set) var links: [Interface] = []
        public private(set) var addresses: [(index: UInt32, address: InterfaceAddress)] = []
        public private(set) var routes: [Route] = []
        public private(set) var rules: [RoutingRule] = []

        public init() {}

        /// Decodes one message by its type; other types are ignored.
        public mutating func add(_ m: Message) throws {
            switch m.type {
            case RouteNetlink.newLink: if let l = try RouteNetlink.decodeLink(m.payload) { links.append(l) }
            case RouteNetlink.newAddr: if let a = try RouteNetlink.decodeAddress(m.payload) { addresses.append(a) }
            case RouteNetlink.newRoute: if let r = try RouteNetlink.decodeRoute(m.payload) { routes.append(r) }
            case RouteNetlink.newRule: if let r = try RouteNetlink.decodeRule(m.payload) { rules.append(r) }
            default: break
            }
        }

        /// Decodes every message of a received or recorded datagram.
        public mutating func add(datagram: UnsafeRawBufferPointer) throws {
            try forEachMessage(in: datagram) { try add($0) }
        }

        /// Interfaces sorted by index with their addresses; routes and rules with device names filled in.
        public var result: Result {
            var byIndex: [UInt32: Int] = [:]
            var interfaces = links.sorted { $0.index < $1.index }
            for (i, l) in interfaces.enumerated() { byIndex[l.index] = i }
            for (index, address) in addresses {
                if let i = byIndex[index] { interfaces[i].addresses.append(address) }
            }
            for i in interfaces.indices {
                guard let m = interfaces[i].master, let idx = UInt32(m) else { continue }
                interfaces[i].master = byIndex[idx].map { interfaces[$0].name } ?? "if\(idx)"
            }
            let routes = routes.map { r -> Route in
                var r = r
                if r.deviceIndex != 0, let i = byIndex[r.deviceIndex] { r.device = interfaces[i].name }
                return r
            }
            return Result(interfaces: interfaces, routing: Routing(routes: routes, rules: rules))
        }
    }

    /// Reads links, addresses, routes and rules of this network namespace; a pass disturbed by a concurrent change
    /// (NLM_F_DUMP_INTR) is redone, up to three times.
    /// A pass whose replies the kernel dropped (ENOBUFS) is redone on a new socket, also up to three times.
    /// - Throws: `NetlinkError`.
    /// - Parameter routing: also dump routes and rules (links and addresses are always read).
    public static func read(
        socket: NetlinkSocket? = nil, routing: Bool = true,
        connect: () throws -> NetlinkSocket = { try NetlinkSocket(protocol: NetlinkSocket.route) }
    ) throws -> Result {
        var nl = try socket ?? connect()
        var attempt = 0
        while true {
            attempt += 1
            var decoder = Decoder()
            var interrupted = false
            let first = nl.makeSeq()
            let reqs = Array(requests(firstSeq: first).prefix(routing ? 6 : 2))
            for _ in 1..<reqs.count { _ = nl.makeSeq() }
            for r in reqs {
                do {
                    if try nl.exchange(r.bytes, seq: r.seq, describe: r.what, { try decoder.add($0) }) { interrupted = true }
                } catch NetlinkError.receive(let e) where e == ENOBUFS && attempt < 3 {
                    nl = try connect()
                    interrupted = true
                    break
                } catch NetlinkError.kernel(_, let e) where r.bytes[16] == UInt8(AF_INET6) && (e == EAFNOSUPPORT || e == EOPNOTSUPP) {
                    // A kernel without IPv6 (or IPv6 policy routing): no routes or rules of that family.
                    continue
                }
            }
            if !interrupted || attempt >= 3 { return decoder.result }
        }
    }

    // MARK: - Pure decoders (payload = everything after nlmsghdr)

    static let flagNames: [(UInt32, String)] = [
        (0x1, "up"), (0x2, "broadcast"), (0x8, "loopback"), (0x10, "pointopoint"), (0x40, "running"), (0x80, "noarp"),
        (0x100, "promisc"), (0x200, "allmulti"), (0x400, "master"), (0x800, "slave"), (0x1000, "multicast"),
        (0x10000, "lower_up"), (0x20000, "dormant")
    ]

    /// IFF_* bits as names, in bit order.
    public static func flagNames(_ flags: UInt32) -> [String] { flagNames.filter { flags & $0.0 != 0 }.map(\.1) }

    /// RTM_NEWLINK: `ifinfomsg` (16 bytes) + IFLA_* attributes.
    public static func decodeLink(_ p: UnsafeRawBufferPointer) throws -> Interface? {
        guard p.count >= 16 else { throw NetlinkError.malformed("ifinfomsg of \(p.count) bytes") }
        let index = p.loadUnaligned(fromByteOffset: 4, as: Int32.self)
        let flags = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let attrs = AttributeTable(UnsafeRawBufferPointer(rebasing: p[16...]))
        let name = attrs[IFLA_IFNAME]?.string ?? "if\(index)"
        let kind = attrs[IFLA_LINKINFO]?.nested[IFLA_INFO_KIND]?.string
        // The master's index for now; `Decoder.result` puts its name there.
        let master = attrs[IFLA_MASTER]?.u32.flatMap { $0 == 0 ? nil : "\($0)" }
        return Interface(index: UInt32(bitPattern: index), name: name, flags: flagNames(flags), kind: kind, master: master)
    }

    static func scopeName(_ s: UInt8) -> String {
        switch s {
        case 0: "global"
        case 200: "site"
        case 253: "link"
        case 254: "host"
        case 255: "nowhere"
        default: "\(s)"
        }
    }

    static func format(_ bytes: [UInt8], family: UInt8) -> String? {
        if family == UInt8(AF_INET), bytes.count == 4 { return IPv4Address(bytes: bytes).description }
        if family == UInt8(AF_INET6), bytes.count == 16 { return IPv6Address(bytes: bytes).description }
        return nil
    }

    static func ipFamily(_ f: UInt8) -> IPFamily? {
        if f == UInt8(AF_INET) { return .ipv4 }
        if f == UInt8(AF_INET6) { return .ipv6 }
        return nil
    }

    /// RTM_NEWADDR: `ifaddrmsg` (8 bytes) + IFA_* attributes. IFA_LOCAL is the local address (IFA_ADDRESS is the
    /// peer on point-to-point links), so it wins when present.
    public static func decodeAddress(_ p: UnsafeRawBufferPointer) throws -> (index: UInt32, address: InterfaceAddress)? {
        guard p.count >= 8 else { throw NetlinkError.malformed("ifaddrmsg of \(p.count) bytes") }
        let family = p[0], prefix = p[1], scope = p[3]
        let index = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        guard let fam = ipFamily(family) else { return nil }
        let attrs = AttributeTable(UnsafeRawBufferPointer(rebasing: p[8...]))
        guard let raw = attrs[IFA_LOCAL] ?? attrs[IFA_ADDRESS], let text = format(raw.bytes, family: family) else { return nil }
        return (index, InterfaceAddress(family: fam, address: text, prefixLength: prefix, scope: scopeName(scope)))
    }

    static func routeTypeName(_ t: UInt8) -> String {
        switch t {
        case 1: "unicast"
        case 2: "local"
        case 3: "broadcast"
        case 4: "anycast"
        case 5: "multicast"
        case 6: "blackhole"
        case 7: "unreachable"
        case 8: "prohibit"
        case 9: "throw"
        case 10: "nat"
        case 11: "xresolve"
        default: "type\(t)"
        }
    }

    /// RTM_NEWROUTE: `rtmsg` (12 bytes) + RTA_* attributes. Returns nil for tables other than main and local.
    /// The device name is filled in later from the links (`Decoder.result`).
    public static func decodeRoute(_ p: UnsafeRawBufferPointer) throws -> Route? {
        guard p.count >= 12 else { throw NetlinkError.malformed("rtmsg of \(p.count) bytes") }
        let family = p[0], dstLen = p[1], type = p[7]
        guard let fam = ipFamily(family) else { return nil }
        let attrs = AttributeTable(UnsafeRawBufferPointer(rebasing: p[12...]))
        let table = attrs[RTA_TABLE]?.u32 ?? UInt32(p[4])
        guard keptTables.contains(table) else { return nil }
        let dst =
            attrs[RTA_DST].flatMap { format($0.bytes, family: family) }
            ?? (fam == .ipv4 ? "0.0.0.0" : "::")
        var gateway = attrs[RTA_GATEWAY].flatMap { format($0.bytes, family: family) }
        var oif = attrs[RTA_OIF]?.u32 ?? 0
        // Multipath: keep the first next hop (struct rtnexthop: len u16, flags u8, hops u8, ifindex i32, attributes).
        if oif == 0, gateway == nil, let mp = attrs[RTA_MULTIPATH], mp.value.count >= 8 {
            let len = Int(mp.value.loadUnaligned(as: UInt16.self))
            oif = mp.value.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            if len > 8, len <= mp.value.count {
                let nh = AttributeTable(UnsafeRawBufferPointer(rebasing: mp.value[8..<len]))
                gateway = nh[RTA_GATEWAY].flatMap { format($0.bytes, family: family) }
            }
        }
        let prefsrc = attrs[RTA_PREFSRC].flatMap { format($0.bytes, family: family) }
        let metric = attrs[RTA_PRIORITY]?.u32 ?? 0
        return Route(
            family: fam, table: table, type: routeTypeName(type), destination: dst, prefixLength: dstLen,
            gateway: gateway, deviceIndex: oif, preferredSource: prefsrc, metric: metric)
    }

    static func ruleActionName(_ a: UInt8) -> String {
        switch a {
        case 1: "to_tbl"
        case 2: "goto"
        case 3: "nop"
        case 6: "blackhole"
        case 7: "unreachable"
        case 8: "prohibit"
        default: "action\(a)"
        }
    }

    /// RTM_NEWRULE: `fib_rule_hdr` (12 bytes) + FRA_* attributes.
    public static func decodeRule(_ p: UnsafeRawBufferPointer) throws -> RoutingRule? {
        guard p.count >= 12 else { throw NetlinkError.malformed("fib_rule_hdr of \(p.count) bytes") }
        let family = p[0], dstLen = p[1], srcLen = p[2], action = p[7]
        guard let fam = ipFamily(family) else { return nil }
        let flags = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let attrs = AttributeTable(UnsafeRawBufferPointer(rebasing: p[12...]))
        let table = attrs[FRA_TABLE]?.u32 ?? UInt32(p[4])
        let source = attrs[FRA_SRC].flatMap { format($0.bytes, family: family) }
        let destination = attrs[FRA_DST].flatMap { format($0.bytes, family: family) }
        let priority: UInt32 = attrs[FRA_PRIORITY]?.u32 ?? 0
        return RoutingRule(
            family: fam,
            priority: priority,
            table: table,
            action: ruleActionName(action),
            source: source,
            sourcePrefixLength: srcLen,
            destination: destination,
            destinationPrefixLength: dstLen,
            iifname: attrs[FRA_IIFNAME]?.string,
            oifname: attrs[FRA_OIFNAME]?.string,
            fwmark: attrs[FRA_FWMARK]?.u32,
            fwmask: attrs[FRA_FWMASK]?.u32,
            inverted: flags & 0x2 != 0  // FIB_RULE_INVERT
        )
    }
}
