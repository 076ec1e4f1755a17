import HostModel
import Testing
@testable import Evaluator

/// `fib` from the snapshot's addresses and routes.
@Suite struct FibTests {
    @Test func daddrTypeLocal() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["fib daddr type local tcp dport 8080 dnat to 192.0.2.1:22"])
        let e = Evaluator(snapshot: snapshot(n))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0"))
        #expect(r.listener?.port == 22)
        #expect(r.delivered)
        // a non-local destination is not translated (and is forwarded)
        let f = try e.trace(probe(.tcp, "198.51.100.7", "203.0.113.50", 8080, "eth0"))
        #expect(f.translatedTo == nil)
        #expect(f.forwarded)
    }

    @Test func reversePathCheck() throws {
        let t = table(.inet)
        try t.chain("pre", hook: .prerouting, priority: -150, ["fib saddr . iif oif missing drop"])
        let e = Evaluator(snapshot: snapshot(t))
        // 198.51.100.0/24 is routed via eth1: arriving there passes, arriving on eth0 is spoofed
        #expect(try e.verdict(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth1") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        // the default route points to eth0
        #expect(try e.verdict(.tcp, "203.0.113.9", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "203.0.113.9", "198.51.100.1", 22, "eth1") == .drop)
        // loopback traffic passes in prerouting
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo") == .accept)
    }
}

/// `fib … mark` depends on the packet mark only when a policy rule selects by fwmark.
@Suite struct FibMarkTests {
    func trace(_ rules: [RoutingRule]) throws -> TraceResult {
        let t = table(.inet)
        try t.chain("pre", hook: .prerouting, priority: -150, [])
        // fib saddr . mark . iif oif missing drop
        t.chains[0].rules.append(
            Rule(
                handle: 60,
                expressions: [
                    .fib(Fib(dreg: 1, result: 1, flags: 1 | 4 | 8 | 32)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0]))),
                    .immediate(Immediate(dreg: 0, verdict: .drop))
                ]))
        var snap = snapshot(t)
        snap.routes.rules = rules
        return try Evaluator(snapshot: snap).trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth1"))
    }

    @Test func decidedWithoutFwmarkRules() throws {
        #expect(try trace([]).verdict == .accept)
    }

    @Test func conditionalWithFwmarkRule() throws {
        let r = try trace([
            RoutingRule(family: .ipv4, priority: 100, table: 100, action: "to_tbl", fwmark: 1, fwmask: 0xffff_ffff),
            RoutingRule(family: .ipv4, priority: 32766, table: 254, action: "to_tbl")
        ])
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["routing by packet mark"])
    }
}

/// inet `ingress` chains run for their devices, before prerouting, for both families.
@Suite struct InetIngressTests {
    @Test func inetIngressOnDevice() throws {
        let t = table(.inet)
        try t.chain("ing", hook: .ingress, priority: 0, devices: ["eth1"], ["ip saddr 198.51.100.66 drop"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.66", "198.51.100.1", 22, "eth1") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.66", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.66", "198.51.100.1", 22, "lo") == .accept)
    }
}
