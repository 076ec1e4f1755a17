import HostModel
import Testing
@testable import Evaluator

/// A NEW packet reads `new` from -200 on, `invalid` below it, and `untracked` after `notrack`.
@Suite struct ConntrackStateTests {
    @Test func establishedRuleDoesNotAdmitNewPackets() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["ct state established,related accept"])
        #expect(try Evaluator(snapshot: snapshot(t)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        let u = table(.inet)
        try u.chain("input", hook: .input, policy: .drop, ["ct state new accept"])
        #expect(try Evaluator(snapshot: snapshot(u)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func invalidBelowMinus200() throws {
        let t = table(.inet)
        try t.chain("raw", hook: .prerouting, priority: -300, ["ct state invalid tcp dport 22 drop"])
        try t.chain("mangle", hook: .prerouting, priority: -150, ["ct state invalid tcp dport 23 drop"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .accept)
    }

    @Test func notrackMakesStateUntracked() throws {
        let t = table(.inet)
        try t.chain("raw", hook: .prerouting, priority: -300, ["udp dport 53 notrack"])
        try t.chain("input", hook: .input, policy: .drop, ["ct state new udp dport 53 accept"])
        let snap = snapshot(listeners: [udpListener("0.0.0.0", 53)], t)
        #expect(try Evaluator(snapshot: snap).verdict(.udp, "198.51.100.7", "192.0.2.1", 53, "eth0") == .drop)
        let t2 = table(.inet)
        try t2.chain("raw", hook: .prerouting, priority: -300, ["udp dport 53 notrack"])
        try t2.chain("input", hook: .input, policy: .drop, ["ct state { new, untracked } udp dport 53 accept"])
        let r = try Evaluator(snapshot: snapshot(listeners: [udpListener("0.0.0.0", 53)], t2)).trace(
            probe(.udp, "198.51.100.7", "192.0.2.1", 53, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
    }

    @Test func ctStatusDnat() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 9000 dnat to 192.0.2.1:22"])
        let f = table(.inet, "f")
        try f.chain("input", hook: .input, policy: .accept, [])
        // ct status dnat: ct status → bitwise & 0x20 → cmp neq 0
        f.chains[0].rules.append(
            Rule(
                handle: 50,
                expressions: [
                    .ct(Ct(key: 2, dreg: 1)), .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes([0x20, 0, 0, 0]), xor: Bytes([0, 0, 0, 0]))),
                    .cmp(Cmp(sreg: 1, op: .neq, data: Bytes([0, 0, 0, 0]))), .immediate(Immediate(dreg: 0, verdict: .drop))
                ]))
        let e = Evaluator(snapshot: snapshot(n, f))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }
}
