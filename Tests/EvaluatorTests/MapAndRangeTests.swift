import HostModel
import Testing
@testable import Evaluator

/// vmap hit = that verdict, miss = no match; `range neq`; byteorder before ranges on host-endian meta keys.
@Suite struct MapAndRangeTests {
    @Test func vmapHitAndMiss() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport vmap { 5000 : accept, 5001 : jump sub, 5002 : drop }", "tcp dport 5003 accept"])
        try t.chain("sub", ["accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 5000, "eth0") == .accept)
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 5001, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.path.map(\.action) == [.jump("sub"), .accept])
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 5002, "eth0") == .drop)
        // a miss is "no match": the next rule still runs
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 5003, "eth0") == .accept)
    }

    @Test func rangeNeq() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["tcp dport != 1000-2000 drop"])
        #expect(
            t.chains[0].rules[0].expressions.contains {
                if case .range(let r) = $0 { return r.inverted }; return false
            })
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 1500, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 999, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 2001, "eth0") == .drop)
    }

    @Test func byteorderThenRangeOnMark() throws {
        let t = table(.inet)
        try t.chain("pre", hook: .prerouting, priority: -150, ["meta mark set 1500"])
        try t.chain("input", hook: .input, policy: .drop, ["meta mark 1000-2000 accept"])
        #expect(
            t.chains[1].rules[0].expressions.contains {
                if case .byteorder = $0 { return true }; return false
            })
        #expect(try Evaluator(snapshot: snapshot(t)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        let u = table(.inet)
        try u.chain("pre", hook: .prerouting, priority: -150, ["meta mark set 2001"])
        try u.chain("input", hook: .input, policy: .drop, ["meta mark 1000-2000 accept"])
        // 2001 = 0x7d1: little-endian bytes would compare wrongly without the byteorder conversion
        #expect(try Evaluator(snapshot: snapshot(u)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func unknownMarkIsConditional() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["meta mark 7 accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons.contains("packet mark"))
    }

    @Test func prefixesAndMasks() throws {
        let t = table(.inet)
        try t.chain(
            "input", hook: .input, policy: .drop,
            ["ip saddr 172.16.0.0/12 accept", "ip saddr 10.0.0.0/8 accept", "ip saddr != 192.168.0.0/16 ip saddr 203.0.113.0/24 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "172.31.255.255", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "172.32.0.0", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "10.9.9.9", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "203.0.113.5", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "192.168.1.1", "192.0.2.1", 22, "eth0") == .drop)
    }
}
