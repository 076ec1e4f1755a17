internal import CNetfilter

/// One socket as `inet_diag` reports it, before any /proc lookup or naming. Plain values only, so decoding stays a
/// pure function on bytes and the collector decides what a record means.
public struct RawSocket: Sendable, Equatable, Hashable {
    /// AF_INET (2) or AF_INET6 (10).
    public var family: UInt8
    /// IPPROTO_TCP (6) or IPPROTO_UDP (17): the protocol of the request that dumped it (inet_diag_msg has none).
    public var proto: UInt8
    /// TCP_* state: 10 LISTEN, 7 CLOSE (unconnected UDP).
    public var state: UInt8
    /// Local port, host order (the kernel sends it in network order).
    public var port: UInt16
    /// Local address: 4 bytes for AF_INET, 16 for AF_INET6, network order.
    public var address: [UInt8]
    /// SO_BINDTODEVICE or link-local scope ifindex; 0 when unbound.
    public var interfaceIndex: UInt32
    public var cookie: UInt64
    public var uid: UInt32
    public var inode: UInt32
    /// INET_DIAG_SKV6ONLY; nil when the kernel did not send it (AF_INET).
    public var v6only: Bool?

    public init(
        family: UInt8, proto: UInt8, state: UInt8, port: UInt16, address: [UInt8], interfaceIndex: UInt32 = 0,
        cookie: UInt64 = 0, uid: UInt32 = 0, inode: UInt32 = 0, v6only: Bool? = nil
    ) {
        self.family = family; self.proto = proto; self.state = state; self.port = port; self.address = address
        self.interfaceIndex = interfaceIndex; self.cookie = cookie; self.uid = uid; self.inode = inode; self.v6only = v6only
    }
}

/// Listening sockets over NETLINK_SOCK_DIAG (`SOCK_DIAG_BY_FAMILY` with `inet_diag_req_v2`). No privilege needed.
public enum SockDiag {
    /// One dump request: which family, protocol and state mask.
    public struct Query: Sendable, Equatable {
        public var family: UInt8
        public var proto: UInt8
        public var states: UInt32
        public init(family: UInt8, proto: UInt8, states: UInt32) { self.family = family; self.proto = proto; self.states = states }
    }

    static let tcpListen: UInt32 = 1 << 10  // TCP_LISTEN
    static let tcpClose: UInt32 = 1 << 7  // TCP_CLOSE: bound, unconnected UDP

    /// The four dumps that make up "every listener", in the order they are sent (and recorded in captures):
    /// TCP/IPv4, TCP/IPv6, UDP/IPv4, UDP/IPv6. AF_UNSPEC is refused by the kernel, so each family is asked separately.
    public static let listenerQueries: [Query] = [
        Query(family: UInt8(AF_INET), proto: UInt8(IPPROTO_TCP), states: tcpListen),
        Query(family: UInt8(AF_INET6), proto: UInt8(IPPROTO_TCP), states: tcpListen),
        Query(family: UInt8(AF_INET), proto: UInt8(IPPROTO_UDP), states: tcpClose),
        Query(family: UInt8(AF_INET6), proto: UInt8(IPPROTO_UDP), states: tcpClose)
    ]

    static let sizeofInetDiagMsg = 72

    /// The request bytes for `query` (`nlmsghdr` + `inet_diag_req_v2`, NLM_F_REQUEST|NLM_F_DUMP).
    public static func request(_ query: Query, seq: UInt32) -> [UInt8] {
        // inet_diag_req_v2: family, protocol, ext, pad, states (u32), then a zeroed inet_diag_sockid (48 bytes).
        var header: [UInt8] = [query.family, query.proto, 0, 0]
        header += withUnsafeBytes(of: query.states) { Array($0) }
        header += Array(repeating: 0, count: 48)
        return RequestBuilder(type: UInt16(SOCK_DIAG_BY_FAMILY), flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), seq: seq, header: header).bytes
    }

    /// Decodes one reply message payload (`inet_diag_msg` + attributes). Returns nil for a family other than
    /// AF_INET/AF_INET6 (never expected, never fatal).
    /// - Throws: `NetlinkError.malformed` when the payload is shorter than `inet_diag_msg`.
    public static func decode(payload: UnsafeRawBufferPointer, proto: UInt8) throws -> RawSocket? {
        guard payload.count >= sizeofInetDiagMsg else {
            throw NetlinkError.malformed("inet_diag_msg of \(payload.count) bytes (expected \(sizeofInetDiagMsg))")
        }
        let family = payload[0]
        let addressLength: Int
        switch Int32(family) {
        case AF_INET: addressLength = 4
        case AF_INET6: addressLength = 16
        default: return nil
        }
        let state = payload[1]
        // inet_diag_sockid at offset 4: sport(2, BE) dport(2) src[16] dst[16] if(4) cookie[2](8)
        let port = UInt16(payload[4]) << 8 | UInt16(payload[5])
        let address = Array(payload[8..<(8 + addressLength)])
        let ifindex = payload.loadUnaligned(fromByteOffset: 40, as: UInt32.self)
        let cookieLow = payload.loadUnaligned(fromByteOffset: 44, as: UInt32.self)
        let cookieHigh = payload.loadUnaligned(fromByteOffset: 48, as: UInt32.self)
        // expires(52) rqueue(56) wqueue(60) uid(64) inode(68)
        let uid = payload.loadUnaligned(fromByteOffset: 64, as: UInt32.self)
        let inode = payload.loadUnaligned(fromByteOffset: 68, as: UInt32.self)
        // Only one attribute matters; scan for it instead of building a table per socket (50,000 sockets).
        var v6only: Bool?
        var offset = sizeofInetDiagMsg
        while offset + 4 <= payload.count {
            let len = Int(payload.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = payload.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
            guard len >= 4, offset + len <= payload.count else { break }
            if type == UInt16(INET_DIAG_SKV6ONLY), len >= 5 { v6only = payload[offset + 4] != 0 }
            offset += (len + 3) & ~3
        }
        return RawSocket(
            family: family, proto: proto, state: state, port: port, address: address, interfaceIndex: ifindex,
            cookie: UInt64(cookieHigh) << 32 | UInt64(cookieLow), uid: uid, inode: inode, v6only: v6only)
    }

    /// Decodes the reply datagrams of one dump (as received or recorded): every SOCK_DIAG_BY_FAMILY message.
    public static func decode(datagram: UnsafeRawBufferPointer, proto: UInt8, into out: inout [RawSocket]) throws {
        try forEachMessage(in: datagram) { m in
            guard m.type == UInt16(SOCK_DIAG_BY_FAMILY) else { return }
            if let s = try decode(payload: m.payload, proto: proto) { out.append(s) }
        }
    }

    /// Splits recorded datagrams into dumps at each NLMSG_DONE/NLMSG_ERROR, so a capture of the four listener
    /// dumps can be decoded with `listenerQueries[i].proto`.
    public static func splitDumps(_ datagrams: [[UInt8]]) throws -> [[[UInt8]]] {
        var dumps: [[[UInt8]]] = []
        var current: [[UInt8]] = []
        for d in datagrams {
            var ends = false
            try d.withUnsafeBytes { raw in
                try forEachMessage(in: raw) { m in
                    if m.type == MessageKind.done.rawValue || m.type == MessageKind.error.rawValue { ends = true }
                }
            }
            current.append(d)
            if ends { dumps.append(current); current = [] }
        }
        if !current.isEmpty { dumps.append(current) }
        return dumps
    }

    /// Dumps every TCP listener and unconnected UDP socket of this network namespace.
    /// - Parameter unavailable: receives a description of each query the kernel cannot answer at all (no IPv6, no
    ///   `udp_diag` module: ENOENT/EAFNOSUPPORT/EOPNOTSUPP/EPROTONOSUPPORT), so the caller can warn instead of failing.
    /// - Parameter connect: a new socket, after the kernel dropped replies (ENOBUFS) on the current one.
    /// - Throws: `NetlinkError` (open, send, receive, or any other kernel refusal; ENOBUFS after three tries).
    public static func listeners(
        socket: NetlinkSocket? = nil, unavailable: inout [String],
        connect: () throws -> NetlinkSocket = { try NetlinkSocket(protocol: NetlinkSocket.sockDiag) }
    ) throws -> [RawSocket] {
        var nl = try socket ?? connect()
        var out: [RawSocket] = []
        out.reserveCapacity(256)
        for query in listenerQueries {
            var attempt = 0
            while true {
                attempt += 1
                var part: [RawSocket] = []
                let seq = nl.makeSeq()
                let interrupted: Bool
                do {
                    interrupted = try nl.exchange(request(query, seq: seq), seq: seq, describe: "the socket dump (sock_diag)") { m in
                        guard m.type == UInt16(SOCK_DIAG_BY_FAMILY) else { return }
                        if let s = try decode(payload: m.payload, proto: query.proto) { part.append(s) }
                    }
                } catch NetlinkError.receive(let e) where e == ENOBUFS && attempt < 3 {
                    // Replies were dropped: this query's dump is not whole; ask again on a new socket.
                    nl = try connect()
                    continue
                } catch NetlinkError.kernel(let what, let e) where [ENOENT, EAFNOSUPPORT, EOPNOTSUPP, EPROTONOSUPPORT].contains(e) {
                    let name = (query.proto == UInt8(IPPROTO_TCP) ? "TCP" : "UDP") + (query.family == UInt8(AF_INET) ? "/IPv4" : "/IPv6")
                    unavailable.append("\(name): \(NetlinkError.kernel(request: what, errno: e))")
                    break
                }
                // sock_diag dumps are not generation-checked; a disturbed one is retried, then the last taken as is.
                if !interrupted || attempt >= 3 { out += part; break }
            }
        }
        return out
    }
}
