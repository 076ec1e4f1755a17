import HostModel
import Testing
@testable import Evaluator

/// A dual-stack `[::]` socket receives IPv4 that only ip/inet-IPv4 rules filter; v6only sockets do not.
@Suite struct DualStackTests {
    func host(_ l: Listener) throws -> Evaluator {
        let v4 = table(.ip, "v4")
        try v4.chain("input", hook: .input, policy: .accept, ["tcp dport 2222 accept"])
        let v6 = table(.ip6, "v6")
        try v6.chain("input", hook: .input, policy: .drop, [])
        return Evaluator(snapshot: snapshot(listeners: [l], v4, v6))
    }

    @Test func dualStackReceivesIPv4FilteredByIpRules() throws {
        let e = try host(tcpListener("::", 2222, v6only: false))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 2222, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.listener?.address == "::")
        #expect(!r.path.contains { $0.table == "v6" })
        let r6 = try e.trace(probe(.tcp, "2001:db8::7", "2001:db8::1", 2222, "eth0"))
        #expect(r6.verdict == .drop)
    }

    @Test func v6onlyDoesNotReceiveIPv4() throws {
        let e = try host(tcpListener("::", 2222, v6only: true))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 2222, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.listener == nil)
        #expect(!r.delivered)
    }

    @Test func mappedBindIsAnIPv4Listener() throws {
        let e = try host(tcpListener("::ffff:192.0.2.1", 2222, family: .ipv6))
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 2222, "eth0")).delivered)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 2222, "eth1")).listener == nil)
    }

    @Test func inetIpRulesDoNotMatchIPv6() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["ip saddr 198.51.100.0/24 drop"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], t))
        #expect(try e.verdict(.tcp, "2001:db8::7", "2001:db8::1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }
}
