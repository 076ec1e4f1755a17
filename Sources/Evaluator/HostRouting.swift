import HostModel

/// RTN_* route types as `fib … type` returns them.
enum RTN {
    static let unspec: UInt32 = 0, unicast: UInt32 = 1, local: UInt32 = 2, broadcast: UInt32 = 3, anycast: UInt32 = 4
    static let multicast: UInt32 = 5, blackhole: UInt32 = 6, unreachable: UInt32 = 7, prohibit: UInt32 = 8

    static func from(_ name: String) -> UInt32 {
        switch name {
        case "unicast": unicast
        case "local": local
        case "broadcast": broadcast
        case "anycast": anycast
        case "multicast": multicast
        case "blackhole": blackhole
        case "unreachable": unreachable
        case "prohibit": prohibit
        default: unspec
        }
    }
}

/// The snapshot's addresses and routes in the form `fib`, the routing decision and socket lookup need.
struct HostRouting: Sendable {
    struct RouteEntry: Sendable {
        var range: ClosedRange<UInt128>
        var prefixLength: Int
        var table: UInt32
        var type: UInt32
        var device: UInt32
        var metric: UInt32
    }

    struct Iface: Sendable {
        var index: UInt32
        var name: String
        var loopback: Bool
        var kind: String?
        var v4: [UInt128]
        var v6: [UInt128]
        var primaryV4: [UInt8]?
        var primaryV6: [UInt8]?
        /// Enslaved to a bridge or bond: its packets reach IP on the master (a VRF port keeps its own).
        var portOfBridgeOrBond = false
        /// Its global-scope addresses in order with their prefixes, for masquerade.
        var subnets: [Subnet] = []
    }

    struct Subnet: Sendable {
        var family: IPFamily
        var prefix: ClosedRange<UInt128>
        var bytes: [UInt8]
    }

    var interfaces: [Iface]
    var byName: [String: Int]
    var byIndex: [UInt32: Int]
    /// Local-table entries (type local/broadcast) per family, with their devices.
    var local: [IPFamily: [RouteEntry]]
    /// Every route per family (all tables), for reverse-path lookups.
    var routes: [IPFamily: [RouteEntry]]
    /// Tables consulted for a lookup, in policy-rule order.
    var lookupTables: [IPFamily: [UInt32]]
    /// A policy rule selects by fwmark: `fib … mark` lookups can then depend on the packet mark.
    var rulesUseMark: Bool
    var loopbackIndex: UInt32
    /// Indexes built once (a container host has hundreds of veths, each with its own link-local address and routes):
    /// the local entry winning for each single address, the shorter local entries, each table's routes without
    /// later duplicates of a (range, metric) that cannot win, the owner of each interface address, and `boundaries`.
    private var localExact: [IPFamily: [UInt128: RouteEntry]] = [:]
    private var localPrefixes: [IPFamily: [RouteEntry]] = [:]
    private var tableRoutes: [IPFamily: [UInt32: [RouteEntry]]] = [:]
    private var addressOwner: [IPFamily: [UInt128: UInt32]] = [:]
    private var cuts: [IPFamily: [UInt128]] = [:]

    init(_ s: Snapshot) {
        let ifs = Self.interfaces(of: s)
        interfaces = ifs
        var bn: [String: Int] = [:], bi: [UInt32: Int] = [:]
        for (n, i) in ifs.enumerated() { bn[i.name] = n; bi[i.index] = n }
        byName = bn
        byIndex = bi
        loopbackIndex = ifs.first(where: { $0.loopback })?.index ?? 1

        var loc: [IPFamily: [RouteEntry]] = [.ipv4: [], .ipv6: []]
        var all: [IPFamily: [RouteEntry]] = [.ipv4: [], .ipv6: []]
        for r in s.routes.routes {
            guard let ip = IPAddress(r.destination), ip.family == r.family else { continue }
            let cidr = CIDR(address: ip, prefixLength: Int(r.prefixLength))
            var dev = r.deviceIndex
            if dev == 0, let name = r.device, let n = bn[name] { dev = ifs[n].index }
            let e = RouteEntry(
                range: cidr.valueRange, prefixLength: Int(r.prefixLength), table: r.table,
                type: RTN.from(r.type), device: dev, metric: r.metric)
            all[r.family, default: []].append(e)
            if r.table == 255, e.type == RTN.local || e.type == RTN.broadcast { loc[r.family, default: []].append(e) }
        }
        // Interface addresses are local even when the snapshot carries no local table (hand-built snapshots).
        for i in ifs {
            for v in i.v4 {
                loc[.ipv4, default: []].append(RouteEntry(range: v...v, prefixLength: 32, table: 255, type: RTN.local, device: i.index, metric: 0))
            }
            for v in i.v6 {
                loc[.ipv6, default: []].append(RouteEntry(range: v...v, prefixLength: 128, table: 255, type: RTN.local, device: i.index, metric: 0))
            }
            if i.loopback {
                // The kernel adds `local 127.0.0.0/8 dev lo` with 127.0.0.1/8 on lo.
                if i.v4.contains(where: { $0 >> 24 == 127 }),
                    !(loc[.ipv4] ?? []).contains(where: { $0.prefixLength == 8 && $0.range.lowerBound == UInt128(127) << 24 })
                {
                    loc[.ipv4, default: []].append(
                        RouteEntry(
                            range: (UInt128(127) << 24)...((UInt128(128) << 24) - 1), prefixLength: 8,
                            table: 255, type: RTN.local, device: i.index, metric: 0))
                }
            }
        }
        local = loc
        routes = all
        var tables: [IPFamily: [UInt32]] = [:]
        for fam in IPFamily.allCases {
            let rules = s.routes.rules.filter {
                $0.family == fam && $0.action == "to_tbl" && $0.source == nil && $0.destination == nil && $0.iifname == nil && $0.fwmark == nil
            }
            .sorted { $0.priority < $1.priority }
            tables[fam] = rules.isEmpty ? [255, 254, 253] : rules.map(\.table)
        }
        lookupTables = tables
        rulesUseMark = s.routes.rules.contains { $0.fwmark != nil }
        buildIndexes()
    }

    /// The snapshot's interfaces with their addresses as values, primary addresses and global-scope subnets.
    private static func interfaces(of s: Snapshot) -> [Iface] {
        var ifs: [Iface] = []
        for i in s.interfaces {
            var v4: [UInt128] = [], v6: [UInt128] = []
            var p4: [UInt8]?, p6: [UInt8]?
            var subnets: [Subnet] = []
            for a in i.addresses {
                guard let ip = IPAddress(a.address) else { continue }
                if a.scope == "global" {
                    subnets.append(
                        Subnet(family: ip.family, prefix: CIDR(address: ip, prefixLength: Int(a.prefixLength)).valueRange, bytes: ip.bytes))
                }
                switch ip {
                case .v4(let x): v4.append(UInt128(x.value)); if p4 == nil { p4 = x.bytes }
                case .v6(let x): v6.append(addressValue(x.bytes)); if p6 == nil, !x.isLinkLocal { p6 = x.bytes }
                }
            }
            if p6 == nil, let first = i.addresses.first(where: { $0.family == .ipv6 }), let ip = IPv6Address(first.address) { p6 = ip.bytes }
            ifs.append(
                Iface(
                    index: i.index, name: i.name, loopback: i.isLoopback || i.name == "lo", kind: i.kind,
                    v4: v4, v6: v6, primaryV4: p4, primaryV6: p6, subnets: subnets))
        }
        let kinds = Dictionary(s.interfaces.map { ($0.name, $0.kind ?? "") }, uniquingKeysWith: { a, _ in a })
        for (k, i) in s.interfaces.enumerated() where k < ifs.count {
            if let m = i.master, ["bridge", "bond", "team"].contains(kinds[m] ?? "") { ifs[k].portOfBridgeOrBond = true }
        }
        return ifs
    }

    private mutating func buildIndexes() {
        for fam in IPFamily.allCases {
            let full = fam == .ipv4 ? 32 : 128
            var exact: [UInt128: RouteEntry] = [:]
            var prefixes: [RouteEntry] = []
            for e in local[fam] ?? [] {
                if e.prefixLength == full {
                    // As the scan in order decides: the first entry, unless a later one of the same length is local.
                    if let b = exact[e.range.lowerBound], b.type == RTN.local || e.type != RTN.local { continue }
                    exact[e.range.lowerBound] = e
                } else if !prefixes.contains(where: { $0.range == e.range && $0.prefixLength == e.prefixLength && $0.type == e.type }) {
                    prefixes.append(e)
                }
            }
            localExact[fam] = exact
            localPrefixes[fam] = prefixes
            var byTable: [UInt32: [RouteEntry]] = [:]
            for e in routes[fam] ?? [] {
                // A later route with the same range and no lower metric never wins a lookup.
                if byTable[e.table]?.contains(where: { $0.range == e.range && $0.prefixLength == e.prefixLength && $0.metric <= e.metric }) == true {
                    continue
                }
                byTable[e.table, default: []].append(e)
            }
            tableRoutes[fam] = byTable
            var owner: [UInt128: UInt32] = [:]
            for i in interfaces { for v in fam == .ipv4 ? i.v4 : i.v6 where owner[v] == nil { owner[v] = i.index } }
            addressOwner[fam] = owner
            var out: [UInt128] = [0]
            for e in (routes[fam] ?? []) + (local[fam] ?? []) {
                out.append(e.range.lowerBound)
                if e.range.upperBound < AddressSet.maxValue(fam) { out.append(e.range.upperBound + 1) }
            }
            if fam == .ipv4 {
                out.append(contentsOf: [1, UInt128(0xe) << 28, UInt128(0xf) << 28, UInt128(UInt32.max)])
            } else {
                out.append(contentsOf: [UInt128(0xff) << 120])
            }
            cuts[fam] = Array(Set(out)).sorted()
        }
    }

    /// The source masquerade gives a packet leaving through `device` toward `dst`: the device's first address
    /// whose prefix holds `dst`, else its first address (link-local IPv6 addresses are not used).
    func masqueradeSource(_ family: IPFamily, device: UInt32, toward dst: UInt128) -> [UInt8]? {
        let addrs = (iface(index: device)?.subnets ?? []).filter { $0.family == family }
        let pick = addrs.first { $0.prefix.contains(dst) } ?? addrs.first
        return pick?.bytes
    }

    func iface(named name: String) -> Iface? { byName[name].map { interfaces[$0] } }
    func iface(index: UInt32) -> Iface? { byIndex[index].map { interfaces[$0] } }

    /// The longest matching local-table entry (local or broadcast), optionally only on one device.
    func localEntry(_ family: IPFamily, _ v: UInt128) -> RouteEntry? {
        if let e = localExact[family]?[v] { return e }
        var best: RouteEntry?
        for e in localPrefixes[family] ?? [] where e.range.contains(v) {
            if best == nil || e.prefixLength > best!.prefixLength
                || (e.prefixLength == best!.prefixLength && e.type == RTN.local && best!.type != RTN.local)
            {
                best = e
            }
        }
        return best
    }

    /// Whether the routing decision delivers `v` locally.
    func isLocal(_ family: IPFamily, _ v: UInt128) -> Bool {
        guard let e = localEntry(family, v) else { return false }
        return e.type == RTN.local || e.type == RTN.broadcast
    }

    /// The device owning a local address: the FIB result device for local delivery (socket lookup uses it).
    func localDevice(_ family: IPFamily, _ v: UInt128) -> UInt32? {
        if let i = addressOwner[family]?[v] { return i }
        return localEntry(family, v)?.device
    }

    static func isMulticast(_ family: IPFamily, _ v: UInt128) -> Bool {
        family == .ipv4 ? (v >> 28) == 0xe : (v >> 120) == 0xff
    }

    /// `fib <addr> type` / `addrtype`: IPv4 consults only the local table; IPv6 does a full lookup.
    func addressType(_ family: IPFamily, _ v: UInt128, device: UInt32?) -> UInt32 {
        if HostRouting.isMulticast(family, v) { return RTN.multicast }
        if family == .ipv4 {
            if v == 0 || v == UInt128(UInt32.max) { return RTN.broadcast }
            if let e = localEntry(.ipv4, v), device == nil || e.device == device || e.device == 0 { return e.type }
            return RTN.unicast
        }
        if let e = localEntry(.ipv6, v), device == nil || e.device == device || e.device == 0 { return e.type }
        guard let r = lookup(.ipv6, v) else { return RTN.unreachable }
        return r.type == RTN.local ? RTN.unicast : r.type
    }

    /// Longest-prefix match over the tables the policy rules consult, in order.
    func lookup(_ family: IPFamily, _ v: UInt128) -> RouteEntry? {
        for t in lookupTables[family] ?? [] {
            var best: RouteEntry?
            for e in tableRoutes[family]?[t] ?? [] where e.range.contains(v) {
                if best == nil || e.prefixLength > best!.prefixLength || (e.prefixLength == best!.prefixLength && e.metric < best!.metric) {
                    best = e
                }
            }
            if t == 255, best == nil, let l = localEntry(family, v) { best = l }
            if let b = best { return b }
        }
        if let l = localEntry(family, v) { return l }
        return nil
    }

    /// The reverse-path result (`fib saddr [. iif] oif`): the output device of the route back to `v`, or 0.
    func reversePathOif(_ family: IPFamily, _ v: UInt128, iif: UInt32?) -> UInt32 {
        guard let r = lookup(family, v) else { return 0 }
        if r.type == RTN.local { return 0 }
        if r.type != RTN.unicast { return 0 }
        if let iif { return r.device == iif ? iif : 0 }
        return r.device
    }

    /// Every boundary of every route and local entry: results of address lookups are constant between them.
    func boundaries(_ family: IPFamily) -> [UInt128] { cuts[family] ?? [0] }

    /// Splits `region` into pieces on which `f` is constant, grouped by its value.
    func partition(_ region: AddressSet, _ f: (UInt128) -> UInt32) -> [(UInt32, AddressSet)] {
        let cuts = boundaries(region.family)
        var groups: [UInt32: [ClosedRange<UInt128>]] = [:]
        var order: [UInt32] = []
        for r in region.ranges {
            var start = r.lowerBound
            // The first cut above `start` (cuts are sorted).
            var lo = 0, hi = cuts.count
            while lo < hi { let mid = (lo + hi) / 2; if cuts[mid] > start { hi = mid } else { lo = mid + 1 } }
            var idx = lo
            while true {
                let end: UInt128 = idx < cuts.count && cuts[idx] - 1 < r.upperBound ? cuts[idx] - 1 : r.upperBound
                let value = f(start)
                if groups[value] == nil { order.append(value) }
                groups[value, default: []].append(start...end)
                if end == r.upperBound { break }
                start = end + 1
                idx += 1
            }
        }
        return order.map { ($0, AddressSet(family: region.family, ranges: groups[$0] ?? [])) }
    }
}
