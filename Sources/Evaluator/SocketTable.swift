import HostModel

/// Listening sockets indexed for the kernel's socket lookup: exact bind before wildcard (TCP), score-based (UDP),
/// device binding, v6only versus dual-stack, v4-mapped binds.
struct SocketTable: Sendable {
    struct Entry: Sendable {
        var index: Int
        var proto: L4Proto
        var isInet: Bool
        /// Address an IPv4 packet must carry (0 = any), nil when the socket cannot receive IPv4.
        var v4: UInt128?
        /// Address an IPv6 packet must carry (0 = any), nil when the socket cannot receive IPv6.
        var v6: UInt128?
        var device: UInt32
    }

    let listeners: [Listener]
    var byPort: [UInt32: [Entry]] = [:]

    init(_ listeners: [Listener], routing: HostRouting) {
        self.listeners = listeners
        for (i, l) in listeners.enumerated() {
            var dev = l.deviceIndex
            if dev == 0, let name = l.device, let iface = routing.iface(named: name) { dev = iface.index }
            var v4: UInt128?, v6: UInt128?
            switch l.family {
            case .ipv4:
                if let a = IPv4Address(l.address) { v4 = UInt128(a.value) }
            case .ipv6:
                if let a = IPv6Address(l.address) {
                    if let m = a.mappedIPv4 {
                        v4 = UInt128(m.value)
                    } else {
                        v6 = addressValue(a.bytes)
                        if a.isUnspecified && !l.v6only { v4 = 0 }
                    }
                }
            }
            let e = Entry(index: i, proto: l.proto, isInet: l.family == .ipv4, v4: v4, v6: v6, device: dev)
            byPort[SocketTable.key(l.proto, l.port), default: []].append(e)
        }
    }

    static func key(_ p: L4Proto, _ port: UInt16) -> UInt32 { UInt32(p.number) << 16 | UInt32(port) }

    /// The listener that receives a packet for `daddr:dport` whose FIB/arrival device is `device`.
    func select(proto: L4Proto, family: IPFamily, daddr: UInt128, dport: UInt16, device: UInt32) -> Int? {
        guard let cands = byPort[SocketTable.key(proto, dport)] else { return nil }
        func addr(_ e: Entry) -> UInt128? { family == .ipv4 ? e.v4 : e.v6 }
        func devOK(_ e: Entry) -> Bool { e.device == 0 || e.device == device }
        // Both protocols look in the exact (daddr, port) slot first and only when it yields no eligible socket in the
        // wildcard one, so an exact bind beats a device-bound wildcard; scores rank the sockets within a slot.
        func score(_ e: Entry, _ phase: UInt128) -> Int {
            // inet_lhash2 lookup (TCP)
            if proto == .tcp { return (e.device != 0 ? 2 : 1) + (family == .ipv4 && e.isInet ? 1 : 0) }
            // __udp4_lib_lookup / __udp6_lib_lookup
            if family == .ipv4 { return (e.isInet ? 2 : 1) + (phase != 0 ? 4 : 0) + (e.device != 0 ? 4 : 0) }
            return (phase != 0 ? 1 : 0) + (e.device != 0 ? 1 : 0)
        }
        // Two phases without an array literal: this runs once per traced probe.
        var phase = daddr
        while true {
            var best: (Int, Int)?
            for e in cands where addr(e) == phase && devOK(e) {
                let s = score(e, phase)
                if best.map({ s > $0.0 }) ?? true { best = (s, e.index) }
            }
            if let b = best { return b.1 }
            if phase == 0 { return nil }
            phase = 0
        }
    }
}
