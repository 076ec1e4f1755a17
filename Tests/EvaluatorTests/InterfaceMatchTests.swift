import HostModel
import Testing
@testable import Evaluator

/// `iifname` without a NUL in the data is a prefix match; with NUL padding it is exact; `iif` compares an index.
@Suite struct InterfaceMatchTests {
    @Test func wildcardIsPrefix() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname eth* accept"])
        let cmp = t.chains[0].rules[0].expressions.compactMap {
            if case .cmp(let c) = $0 { return c }; return nil
        }.first
        #expect(cmp?.data.bytes == Array("eth".utf8))
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth1") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "wlan0") == .drop)
    }

    @Test func exactNameNeedsNul() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname eth accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func iptablesStyleThreeByteName() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, [])
        // iptables-nft `-i lo`: cmp over "lo\0" (3 bytes)
        t.chains[0].rules.append(
            Rule(
                handle: 99,
                expressions: [
                    .meta(Meta(key: 6, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0x6c, 0x6f, 0]))),
                    .immediate(Immediate(dreg: 0, verdict: .accept))
                ]))
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func iifComparesIndex() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iif eth1 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth1") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func localTrafficArrivesOnLoEvenToLanAddress() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iif lo accept"])
        let e = Evaluator(snapshot: snapshot(t))
        let r = try e.trace(probe(.tcp, "192.0.2.1", "192.0.2.1", 22, "lo"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func netdevIngressOnlyOnItsDeviceAndNotForLocal() throws {
        let n = table(.netdev, "nd")
        try n.chain("ingress", hook: .ingress, priority: 0, devices: ["eth0"], ["ip saddr 198.51.100.7 drop"])
        let i = table(.inet, "f")
        try i.chain("input", hook: .input, ["accept"])
        let e = Evaluator(snapshot: snapshot(n, i))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth1") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.8", "192.0.2.1", 22, "eth0") == .accept)
        // the netdev table uses `meta protocol`, not nfproto
        #expect(
            n.chains[0].rules[0].expressions.contains {
                if case .meta(let m) = $0 { return m.key == 1 }; return false
            })
    }
}

/// `iifname { "lo", "eth*" }` is an interval set over 16-byte names: the wildcard becomes ["eth", "eti").
@Suite struct InterfaceSetTests {
    @Test func wildcardInIntervalSet() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname { wlan0, eth* } accept"])
        let s = try #require(t.sets.first)
        #expect(s.isInterval)
        #expect(s.elements.contains { $0.isIntervalEnd && $0.key.bytes.prefix(4) == [0x65, 0x74, 0x69, 0] })  // "eti\0…" END
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "wlan0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "wlan1") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "et") == .drop)
    }
}
