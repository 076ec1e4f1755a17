import HostModel
import Testing
@testable import Evaluator

/// Host-local traffic leaves through output/postrouting, loops back on `lo` (no netdev ingress, no prerouting NAT)
/// and is NATed on output instead.
@Suite struct LocalTrafficTests {
    @Test func outputPolicyDropBlocksLocalTraffic() throws {
        let t = table(.inet)
        try t.chain("output", hook: .output, policy: .drop, ["oifname eth0 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        let r = try e.trace(probe(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo"))
        #expect(r.verdict == .drop)
        #expect(r.path.last?.hook == .hook(.output))
        // remote traffic does not pass output
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0")).delivered)
    }

    @Test func outputSeesOifLoAndNoIif() throws {
        let t = table(.inet)
        try t.chain("output", hook: .output, policy: .drop, ["iifname lo drop", "oifname lo accept"])
        #expect(try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "127.0.0.1", "192.0.2.1", 22, "lo")).delivered)
    }

    @Test func prerouting_nat_does_not_apply_to_local_traffic() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 2222 redirect to :22"])
        let e = Evaluator(snapshot: snapshot(n))
        #expect(try e.trace(probe(.tcp, "127.0.0.1", "127.0.0.1", 2222, "lo")).listener == nil)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 2222, "eth0")).listener?.port == 22)
    }

    @Test func outputNatRedirectsLocalTrafficToLoopback() throws {
        let n = table(.ip, "nat")
        try n.chain("out", hook: .output, type: "nat", priority: -100, ["tcp dport 2222 redirect to :6379"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("127.0.0.1", 6379)], n))
        let r = try e.trace(probe(.tcp, "192.0.2.1", "192.0.2.1", 2222, "lo"))
        #expect(r.translatedTo == "127.0.0.1:6379")
        #expect(r.delivered)
    }

    @Test func rawBelowMinus200SeesNewForLocalTraffic() throws {
        let t = table(.inet)
        try t.chain("raw", hook: .prerouting, priority: -300, ["ct state invalid drop"])
        let e = Evaluator(snapshot: snapshot(t))
        // looped-back packets already carry their conntrack entry from output
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }
}
