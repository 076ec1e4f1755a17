import Foundation
import HostModel
@testable import Netlink
import Testing

/// Loads captures by file name (Captures/README.md, "sock_diag and rtnetlink", says how to re-record them).
enum RecordedDatagrams {
    static func load(_ name: String) throws -> [[UInt8]] {
        let dir = try #require(Bundle.module.url(forResource: "Captures", withExtension: nil), "Captures resource missing")
        return try NetlinkRecorder.datagrams(in: Data(contentsOf: dir.appendingPathComponent(name)))
    }
}

/// Decoding of a real sock_diag dump (the four listener queries, recorded in a namespace by
/// `sockdiag-rtnetlink-record.sh` with the sockets of `sockdiag-holder.py`). No privilege needed.
@Suite struct SockDiagCaptureTests {
    let sockets: [RawSocket]

    init() throws {
        let dumps = try SockDiag.splitDumps(RecordedDatagrams.load("sockdiag-listeners.nlcap"))
        try #require(dumps.count == SockDiag.listenerQueries.count, "one dump per listener query")
        var out: [RawSocket] = []
        for (dump, query) in zip(dumps, SockDiag.listenerQueries) {
            for d in dump { try d.withUnsafeBytes { try SockDiag.decode(datagram: $0, proto: query.proto, into: &out) } }
        }
        sockets = out
    }

    struct Key: Hashable, CustomStringConvertible {
        var proto: UInt8, family: UInt8, address: String, port: UInt16, v6only: Bool?, ifindex: UInt32, uid: UInt32
        var description: String { "\(proto)/\(family) \(address):\(port) v6only=\(String(describing: v6only)) if=\(ifindex) uid=\(uid)" }
    }

    func key(_ s: RawSocket) -> Key {
        let text = s.address.count == 4 ? IPv4Address(bytes: s.address).description : IPv6Address(bytes: s.address).description
        return Key(proto: s.proto, family: s.family, address: text, port: s.port, v6only: s.v6only, ifindex: s.interfaceIndex, uid: s.uid)
    }

    @Test func exactlyTheListenersOfTheHolder() throws {
        // d0 was ifindex 3 in the recording namespace (lo 1, d1 2, d0 3: the veth peer is created first).
        let expected: Set<Key> = [
            Key(proto: 6, family: 2, address: "0.0.0.0", port: 8080, v6only: nil, ifindex: 0, uid: 0),
            Key(proto: 6, family: 2, address: "127.0.0.1", port: 631, v6only: nil, ifindex: 0, uid: 0),
            Key(proto: 6, family: 2, address: "192.0.2.10", port: 7000, v6only: nil, ifindex: 0, uid: 65534),
            Key(proto: 6, family: 10, address: "::", port: 9090, v6only: false, ifindex: 0, uid: 0),
            Key(proto: 6, family: 10, address: "::", port: 9091, v6only: true, ifindex: 0, uid: 0),
            Key(proto: 6, family: 10, address: "2001:db8::10", port: 443, v6only: true, ifindex: 0, uid: 0),
            Key(proto: 17, family: 2, address: "192.0.2.10", port: 53, v6only: nil, ifindex: 3, uid: 0),
            Key(proto: 17, family: 2, address: "0.0.0.0", port: 5000, v6only: nil, ifindex: 0, uid: 65534),
            Key(proto: 17, family: 10, address: "::", port: 5353, v6only: false, ifindex: 0, uid: 0)
        ]
        let got = sockets.map(key)
        #expect(got.count == expected.count, "no duplicates, no established or connected sockets: \(got)")
        #expect(Set(got) == expected)
    }

    @Test func statesCookiesAndInodes() {
        for s in sockets {
            #expect(s.state == (s.proto == 6 ? 10 : 7), "TCP LISTEN or UDP CLOSE: \(s)")
            #expect(s.inode != 0)
        }
        #expect(Set(sockets.map(\.cookie)).count == sockets.count, "cookies tell sockets apart")
        #expect(Set(sockets.map(\.inode)).count == sockets.count)
    }

    @Test func inodesMatchWhatSsPrintedAtRecordingTime() throws {
        // ss -tulpneH ran right after the dump; its `ino:` fields are the same sockets.
        let dir = try #require(Bundle.module.url(forResource: "Captures", withExtension: nil))
        let ss = try String(contentsOf: dir.appendingPathComponent("sockdiag-listeners.ss.txt"), encoding: .utf8)
        let inodes = ss.split(separator: " ").compactMap { $0.hasPrefix("ino:") ? UInt32($0.dropFirst(4)) : nil }
        #expect(Set(inodes) == Set(sockets.map(\.inode)))
    }

    @Test func requestLayout() {
        let q = SockDiag.listenerQueries[1]
        let bytes = SockDiag.request(q, seq: 7)
        #expect(bytes.count == 16 + 56, "nlmsghdr + inet_diag_req_v2")
        #expect(bytes[4] == 20 && bytes[5] == 0, "SOCK_DIAG_BY_FAMILY")
        #expect(bytes[6] == 0x01 && bytes[7] == 0x03, "NLM_F_REQUEST | NLM_F_DUMP")
        #expect(bytes[16] == 10 && bytes[17] == 6, "AF_INET6, IPPROTO_TCP")
        #expect(Array(bytes[20..<24]) == [0x00, 0x04, 0x00, 0x00], "1 << TCP_LISTEN, host order")
        #expect(SockDiag.listenerQueries.map(\.states) == [1 << 10, 1 << 10, 1 << 7, 1 << 7])
    }
}

/// Decoding of hand-made messages: odd families, short payloads, missing attributes.
@Suite struct SockDiagSyntheticTests {
    func message(family: UInt8, port: UInt16 = 22, attrs: [UInt8] = []) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: 72)
        m[0] = family
        m[1] = 10
        m[4] = UInt8(port >> 8); m[5] = UInt8(port & 0xff)
        m[8] = 192; m[9] = 0; m[10] = 2; m[11] = 1
        m[40] = 5  // ifindex 5
        m[44] = 0x78; m[48] = 0x01  // cookie low 0x78, high 1
        m[64] = 0xe8; m[65] = 0x03  // uid 1000
        m[68] = 0x39; m[69] = 0x30  // inode 12345
        return m + attrs
    }

    @Test func decodesTheFixedHeader() throws {
        let s = try message(family: 2, port: 0x1f90).withUnsafeBytes { try SockDiag.decode(payload: $0, proto: 6) }
        let got = try #require(s)
        #expect(got.port == 8080)
        #expect(got.address == [192, 0, 2, 1])
        #expect(got.interfaceIndex == 5)
        #expect(got.cookie == 0x1_0000_0078)
        #expect(got.uid == 1000)
        #expect(got.inode == 12345)
        #expect(got.v6only == nil)
    }

    @Test func readsV6onlyAttribute() throws {
        // nlattr{len 5, type 11 (INET_DIAG_SKV6ONLY)}, value 1, 3 bytes padding
        let s = try message(family: 10, attrs: [5, 0, 11, 0, 1, 0, 0, 0]).withUnsafeBytes { try SockDiag.decode(payload: $0, proto: 6) }
        #expect(s?.v6only == true)
        #expect(s?.address.count == 16)
    }

    @Test func otherFamiliesAreSkippedNotFatal() throws {
        for family: UInt8 in [0, 1, 17, 44] {
            let s = try message(family: family).withUnsafeBytes { try SockDiag.decode(payload: $0, proto: 6) }
            #expect(s == nil)
        }
    }

    @Test func shortPayloadIsMalformed() {
        #expect(throws: NetlinkError.self) {
            try [UInt8](repeating: 0, count: 40).withUnsafeBytes { try SockDiag.decode(payload: $0, proto: 6) }
        }
    }

    @Test func otherMessageTypesInADatagramAreIgnored() throws {
        // A NOOP (type 1) message then a SOCK_DIAG_BY_FAMILY one.
        func nlmsg(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            let len = UInt32(16 + payload.count)
            return withUnsafeBytes(of: len) { Array($0) } + [UInt8(type & 0xff), UInt8(type >> 8), 0, 0] + [UInt8](repeating: 0, count: 8) + payload
        }
        let datagram = nlmsg(1, [1, 2, 3, 4]) + nlmsg(20, message(family: 2))
        var out: [RawSocket] = []
        try datagram.withUnsafeBytes { try SockDiag.decode(datagram: $0, proto: 17, into: &out) }
        #expect(out.count == 1)
        #expect(out.first?.proto == 17)
    }
}
