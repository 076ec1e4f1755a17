internal import CNetfilter

/// Where a `NetlinkSocket` sends requests and receives datagrams: a libmnl socket in every real run; recorded
/// datagrams in tests, so the receive loop, dump interruption and the reader's retries run without root.
public protocol NetlinkTransport: AnyObject {
    /// The port id replies are addressed to (0 is accepted too).
    var portID: UInt32 { get }
    /// Sends one request. - Throws: `NetlinkError.send`.
    func send(_ request: [UInt8]) throws
    /// Receives one datagram into `buffer` and returns its length. - Throws: `NetlinkError.receive` (ENOBUFS when
    /// the kernel dropped messages).
    func receive(into buffer: inout [UInt8]) throws -> Int
}

/// The real transport: a bound libmnl socket with a large receive buffer.
final class MnlTransport: NetlinkTransport {
    private let socket: OpaquePointer
    let portID: UInt32

    init(protocol proto: Int32) throws {
        let names = [Int32(NETLINK_NETFILTER): "nfnetlink", Int32(NETLINK_SOCK_DIAG): "sock_diag", Int32(NETLINK_ROUTE): "rtnetlink"]
        guard let s = mnl_socket_open(proto) else { throw NetlinkError.open(protocolName: names[proto] ?? "\(proto)", errno: pw_errno()) }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = pw_errno()
            mnl_socket_close(s)
            throw NetlinkError.open(protocolName: names[proto] ?? "\(proto)", errno: e)
        }
        // A larger kernel-side buffer keeps big dumps from overrunning (ENOBUFS) while we decode.
        var size: Int32 = 8 << 20
        _ = setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        socket = s
        portID = mnl_socket_get_portid(s)
    }

    deinit { mnl_socket_close(socket) }

    func send(_ request: [UInt8]) throws {
        let sent = request.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == request.count else { throw NetlinkError.send(errno: pw_errno()) }
    }

    func receive(into buffer: inout [UInt8]) throws -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if n >= 0 { return n }
            let e = pw_errno()
            if e == EINTR { continue }
            throw NetlinkError.receive(errno: e)
        }
    }
}
