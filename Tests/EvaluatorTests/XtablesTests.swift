import HostModel
import Testing
@testable import Evaluator

/// iptables-nft compat matches and targets decoded from their info structs.
@Suite struct XtablesTests {
    @Test func multiportConntrackComment() throws {
        let t = table(.ip, "filter")
        try t.chain(
            "INPUT", hook: .input, policy: .drop,
            [
                "xt match conntrack state RELATED,ESTABLISHED accept",
                "meta l4proto tcp xt match multiport dports 80,443 xt match comment web accept",
                "meta l4proto tcp xt match conntrack state NEW xt match tcp dport 22 accept"
            ])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 443, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.udp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func stateAndRejectTarget() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .accept, ["xt match state NEW meta l4proto tcp tcp dport 23 xt target REJECT", "xt target LOG"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .reject)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func unknownMatchIsConditional() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, ["xt match string accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["xt match string"])
    }
}

/// Docker's iptables backend reaches its DNAT through `-m addrtype --dst-type LOCAL`; iprange limits sources.
@Suite struct XtablesAddressTests {
    @Test func addrtypeLocalGuardsDnat() throws {
        let n = table(.ip, "nat")
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["xt match addrtype dst LOCAL jump DOCKER"])
        try n.chain("DOCKER", ["meta l4proto tcp tcp dport 8080 dnat to 172.30.0.2:80"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 8080, name: "docker-proxy")], n))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0"))
        #expect(r.forwarded)
        #expect(!r.delivered)
        // to a non-local destination the DNAT does not apply: still forwarded, but untranslated
        let f = try e.trace(probe(.tcp, "198.51.100.7", "203.0.113.5", 8080, "eth0"))
        #expect(f.translatedTo == nil)
    }

    @Test func iprangeSource() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, ["xt match iprange src 198.51.100.10-198.51.100.20 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.20", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.21", "192.0.2.1", 22, "eth0") == .drop)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].acceptedSources == ["198.51.100.10-198.51.100.20"])
    }
}

/// ufw's IPv6 chains start with `-m rt --rt-type 0 -j DROP`; without a routing header it never matches.
@Suite struct XtablesIPv6HeaderTests {
    @Test func routingHeaderMatchIsFalseWithoutExtensionHeaders() throws {
        let t = table(.ip6, "filter")
        try t.chain("INPUT", hook: .input, policy: .accept, ["xt match rt drop"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], t))
        let r = try e.trace(probe(.tcp, "2001:db8::7", "2001:db8::1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
    }
}
