import HostModel
import Testing
@testable import Evaluator

/// DNAT to a non-local address sends the connection to forward (nftables-netlink.md §3.3): it never reaches a local
/// socket, so exposure lists it per external port with its target, interfaces and translated sources.
@Suite struct ForwardedPortTests {
    func result(_ listeners: [Listener], _ tables: TableBuilder...) -> ExposureResult {
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: listeners,
            interfaces: Host.interfaces, routes: Host.routes, sysctls: Host.forwarding,
            firewall: Firewall(status: .ok, tables: tables.map(\.table)))
        return Evaluator(snapshot: snap).fullExposure()
    }

    @Test func dockerStylePublishedPort() throws {
        let n = table(.ip, "nat")
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["xt match addrtype dst LOCAL jump DOCKER"])
        try n.chain("DOCKER", ["iifname docker0 return", "meta l4proto tcp tcp dport 8080 dnat to 172.30.0.2:80"])
        let f = table(.ip, "filter")
        try f.chain("INPUT", hook: .input, policy: .drop, ["iifname lo accept"])
        let r = result([tcpListener("0.0.0.0", 8080, name: "docker-proxy")], n, f)
        #expect(r.forwarded.count == 1)
        let p = try #require(r.forwarded.first)
        #expect(p.proto == .tcp && p.family == .ipv4 && p.port == 8080)
        #expect(p.target == "172.30.0.2:80")
        #expect(Set(p.destinations) == ["192.0.2.1", "198.51.100.1"])
        #expect(p.interfaces.contains("eth0") && p.interfaces.contains("eth1"))
        #expect(!p.interfaces.contains("docker0") && !p.interfaces.contains("lo"))
        #expect(p.sources == ["0.0.0.0/0"])
        #expect(p.regions.allSatisfy { $0.verdict == .accept && $0.path.last?.action == .note("forward to 172.30.0.2") })
        #expect(p.regions.contains { $0.path.contains { $0.action == .note("dnat to 172.30.0.2:80") } })
        // the docker-proxy listener itself is only reached by the host: forwarded traffic is not attributed to it
        let x = r.listeners[0]
        #expect(x.summary == .localOnly)
        #expect(x.listener.port == 8080)
    }

    @Test func exposureWithoutForwardedIsUnchanged() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 8080 dnat to 172.30.0.2:80"])
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 22)], n)
        let e = Evaluator(snapshot: snap)
        #expect(e.exposure() == e.fullExposure().listeners)
    }

    @Test func udpPortWithoutAnyUdpListener() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["udp dport 5353 dnat to 172.30.0.3:53"])
        let r = result([tcpListener("0.0.0.0", 22)], n)
        #expect(r.forwarded.map { "\($0.proto) \($0.port) \($0.target)" } == ["udp 5353 172.30.0.3:53"])
    }

    @Test func sourceAndInterfaceRestrictedDnat() throws {
        let n = table(.ip, "nat")
        try n.chain(
            "pre", hook: .prerouting, type: "nat", priority: -100,
            [
                "iifname eth0 ip saddr 203.0.113.0/24 tcp dport 9000 dnat to 172.30.0.2:80"
            ])
        let r = result([tcpListener("0.0.0.0", 22)], n)
        let p = try #require(r.forwarded.first)
        #expect(r.forwarded.count == 1)
        #expect(p.interfaces == ["eth0"])
        #expect(p.sources == ["203.0.113.0/24"])
        #expect(p.regions.map(\.interface) == ["eth0", "eth0"])
        #expect(Set(p.regions.map(\.destination)) == ["192.0.2.1", "198.51.100.1"])
    }

    @Test func localDnatIsNotForwarded() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 2222 redirect to :22", "tcp dport 9000 dnat to 192.0.2.1:22"])
        let r = result([tcpListener("0.0.0.0", 22)], n)
        #expect(r.forwarded.isEmpty)
        #expect(r.listeners[0].viaPorts == [2222, 9000])
    }

    @Test func ipv6Target() throws {
        let n = table(.inet, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["ip6 daddr 2001:db8::1 tcp dport 8443 dnat ip6 to [2001:db8::99]:443"])
        let r = result([tcpListener("::", 22)], n)
        let p = try #require(r.forwarded.first)
        #expect(p.family == .ipv6)
        #expect(p.target == "[2001:db8::99]:443")
        #expect(p.destinations == ["2001:db8::1"])
        #expect(p.interfaces.contains("eth0"))
    }

    @Test func undecidableBeforeTheDnatIsConditional() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 9000 unknown osf dnat to 172.30.0.2:80"])
        let r = result([tcpListener("0.0.0.0", 22)], n)
        let p = try #require(r.forwarded.first)
        #expect(p.regions.allSatisfy { $0.verdict == .conditional })
        #expect(p.reasons == ["unknown expression osf"])
    }

    @Test func iptablesDnatTargetWithXtPortMatch() throws {
        // old iptables-nft: `-p tcp -m tcp --dport 8081 -j DNAT --to-destination 172.30.0.4:8000` with both as xt blobs
        let n = table(.ip, "nat")
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["meta l4proto tcp xt match tcp dport 8081"])
        var info = [UInt8](repeating: 0, count: 20)
        info[0] = 1; info[4] = 3  // rangesize 1, flags MAP_IPS|PROTO_SPECIFIED
        info[8...11] = [172, 30, 0, 4]; info[12...15] = [172, 30, 0, 4]
        info[16] = 0x1f; info[17] = 0x40; info[18] = 0x1f; info[19] = 0x40  // 8000 big endian
        n.chains[0].rules[0].expressions.append(.target(Xt(name: "DNAT", revision: 0, info: Bytes(info))))
        let r = result([tcpListener("0.0.0.0", 22)], n)
        #expect(r.forwarded.map { "\($0.port) \($0.target)" } == ["8081 172.30.0.4:8000"])
    }

    /// Exposure asks about each translated (address, port, protocol) as the rules pair them, not the cross product
    /// of every compared address with every compared port: a kube-proxy ClusterIP keeps its service port and
    /// protocol, a NodePort is tried on the host's own addresses, an address compared alone gets every port.
    @Test func natQuestionsArePairedAsTheRulesPairThem() throws {
        let n = table(.ip, "nat")
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["jump SERVICES"])
        try n.chain(
            "SERVICES",
            [
                "ip daddr 203.0.113.10 meta l4proto tcp tcp dport 80 jump SVC1",
                "ip daddr 203.0.113.11 meta l4proto udp udp dport 53 jump SVC2",
                "ip daddr 203.0.113.12 jump SVC3",
                "xt match addrtype dst LOCAL jump NODEPORTS"
            ])
        try n.chain("NODEPORTS", ["meta l4proto tcp tcp dport 30080 jump SVC1"])
        try n.chain("SVC1", ["dnat to 192.0.2.1:8080"])
        try n.chain("SVC2", ["dnat to 192.0.2.1:5353"])
        try n.chain("SVC3", ["meta l4proto tcp tcp dport 443 dnat to 192.0.2.1:8443"])
        let web = tcpListener("0.0.0.0", 8080), tls = tcpListener("0.0.0.0", 8443), dns = udpListener("0.0.0.0", 5353)
        let r = result([web, tls, dns], n)
        func via(_ port: UInt16, _ proto: L4Proto) throws -> [String] {
            let l = try #require(r.listeners.first { $0.listener.port == port && $0.listener.proto == proto })
            return Set(l.regions.filter { $0.verdict == .accept && $0.interface != "lo" }.map { "\($0.destination):\($0.destinationPort)" }).sorted()
        }
        // The ClusterIP with its own port, the NodePort on the host's own addresses, the direct port.
        #expect(try via(8080, .tcp) == ["192.0.2.1:30080", "192.0.2.1:8080", "198.51.100.1:30080", "198.51.100.1:8080", "203.0.113.10:80"])
        #expect(try via(5353, .udp) == ["192.0.2.1:5353", "198.51.100.1:5353", "203.0.113.11:53"])
        // 203.0.113.12 is compared without a port: every compared port is tried on it, and 443 is translated.
        #expect(try via(8443, .tcp).contains("203.0.113.12:443"))
        // A ClusterIP is never asked about another service's port or protocol.
        #expect(try !via(8080, .tcp).contains { $0.hasPrefix("203.0.113.11:") || $0 == "203.0.113.10:53" })
    }
}
