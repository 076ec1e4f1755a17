import HostModel
import Testing
@testable import Evaluator

/// A DNATed connection to a container is routed, not delivered: `net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding`
/// and the route decide whether it is forwarded at all, then every forward base chain (all tables, by priority) and
/// postrouting decide, with the route's device as output interface (nftables-netlink.md §3.3).
@Suite struct ForwardHookTests {
    /// The test host plus a Docker-style bridge `docker0` (172.30.0.1/16, 2001:db8:ac::1/64) with a route to it.
    static func containerHost(_ sysctls: Sysctls = Host.forwarding, _ tables: TableBuilder...) -> Evaluator {
        var interfaces = Host.interfaces
        interfaces.append(
            Interface(
                index: 4, name: "docker0", flags: ["up"], kind: "bridge",
                addresses: [
                    InterfaceAddress(family: .ipv4, address: "172.30.0.1", prefixLength: 16),
                    InterfaceAddress(family: .ipv6, address: "2001:db8:ac::1", prefixLength: 64)
                ]))
        var routes = Host.routes
        routes.routes.append(
            Route(family: .ipv4, table: 254, type: "unicast", destination: "172.30.0.0", prefixLength: 16, device: "docker0", deviceIndex: 4))
        routes.routes.append(
            Route(family: .ipv6, table: 254, type: "unicast", destination: "2001:db8:ac::", prefixLength: 64, device: "docker0", deviceIndex: 4))
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"),
            listeners: [tcpListener("0.0.0.0", 8080, name: "docker-proxy")], interfaces: interfaces, routes: routes,
            sysctls: sysctls, firewall: Firewall(status: .ok, tables: tables.map(\.table)))
        return Evaluator(snapshot: snap)
    }

    static func dockerNat() throws -> TableBuilder {
        let n = TableBuilder(family: .ip, name: "nat", ifindex: ["lo": 1, "eth0": 2, "eth1": 3, "docker0": 4])
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["xt match addrtype dst LOCAL jump DOCKER"])
        try n.chain("DOCKER", ["iifname docker0 return", "iifname != docker0 meta l4proto tcp tcp dport 8080 dnat to 172.30.0.2:80"])
        return n
    }

    /// Docker's filter layout as iptables-nft writes it: FORWARD policy drop, DOCKER-USER first, then the per-container
    /// accept in DOCKER for traffic going out to the bridge.
    static func dockerFilter(user: [String] = []) throws -> TableBuilder {
        let f = TableBuilder(family: .ip, name: "filter", ifindex: ["lo": 1, "eth0": 2, "eth1": 3, "docker0": 4])
        try f.chain("INPUT", hook: .input, policy: .drop, ["iifname lo accept"])
        try f.chain(
            "FORWARD", hook: .forward, policy: .drop, ["jump DOCKER-USER", "oifname docker0 jump DOCKER", "iifname docker0 oifname != docker0 accept"]
        )
        try f.chain("DOCKER-USER", user + ["return"])
        try f.chain("DOCKER", ["ip daddr 172.30.0.2 iifname != docker0 oifname docker0 meta l4proto tcp tcp dport 80 accept"])
        return f
    }

    @Test func publishedPortPassesForwardDespiteInputDrop() throws {
        let e = try ForwardHookTests.containerHost(Host.forwarding, ForwardHookTests.dockerNat(), ForwardHookTests.dockerFilter())
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.forwarded)
        #expect(r.translatedTo == "172.30.0.2:80")
        #expect(r.path.contains { $0.hook == .hook(.forward) && $0.chain == "DOCKER" && $0.action == .accept })
        // the same port to the host's own input is dropped: it is only the DNAT that opens it
        let other = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8081, "eth0"))
        #expect(other.verdict == .drop)
        let x = e.fullExposure()
        let p = try #require(x.forwarded.first)
        #expect(x.forwarded.count == 1)
        #expect(p.sources == ["0.0.0.0/0"])
        #expect(p.regions.allSatisfy { $0.verdict == .accept })
        #expect(p.regions.allSatisfy { $0.path.contains { $0.chain == "DOCKER" && $0.hook == .hook(.forward) } })
    }

    @Test func forwardChainRestrictsSources() throws {
        let user = ["iifname eth0 ip saddr != 203.0.113.0/24 drop"]
        let e = try ForwardHookTests.containerHost(Host.forwarding, ForwardHookTests.dockerNat(), ForwardHookTests.dockerFilter(user: user))
        #expect(try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0")).verdict == .accept)
        let denied = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0"))
        #expect(denied.verdict == .drop)
        #expect(denied.path.last?.chain == "DOCKER-USER")
        // eth1 is not restricted by DOCKER-USER
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 8080, "eth1")).verdict == .accept)
        let p = try #require(e.fullExposure().forwarded.first)
        let eth0 = p.regions.filter { $0.interface == "eth0" }
        #expect(!eth0.isEmpty && eth0.allSatisfy { $0.sources == ["203.0.113.0/24"] })
        #expect(p.regions.contains { $0.interface == "eth1" && $0.sources == ["0.0.0.0/0"] })
    }

    @Test func forwardingDisabledDropsAtRouting() throws {
        let off = Sysctls(ipForward: false, ipv6Forwarding: true)
        let e = try ForwardHookTests.containerHost(off, ForwardHookTests.dockerNat(), ForwardHookTests.dockerFilter())
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0"))
        #expect(r.verdict == .drop)
        #expect(!r.forwarded)
        #expect(r.path.last?.action == .note("drop (forwarding disabled: net.ipv4.ip_forward = 0)"))
        #expect(e.fullExposure().forwarded.isEmpty)
    }

    @Test func unrecordedForwardingIsConditional() throws {
        let e = try ForwardHookTests.containerHost(Sysctls(), ForwardHookTests.dockerNat(), ForwardHookTests.dockerFilter())
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["net.ipv4.ip_forward was not recorded"])
    }

    @Test func nativeInetForwardPolicyDropAndOifMatch() throws {
        let n = TableBuilder(family: .inet, name: "pub", ifindex: ["lo": 1, "eth0": 2, "eth1": 3, "docker0": 4])
        try n.chain(
            "pre", hook: .prerouting, type: "nat", priority: -100,
            [
                "ip daddr 192.0.2.1 tcp dport 5432 dnat ip to 172.30.0.3:5432",
                "ip6 daddr 2001:db8::1 tcp dport 5432 dnat ip6 to [2001:db8:ac::3]:5432"
            ])
        try n.chain("fwd", hook: .forward, policy: .drop, ["oifname docker0 meta nfproto ipv6 meta l4proto tcp accept"])
        let e = ForwardHookTests.containerHost(Host.forwarding, n)
        // IPv4 is dropped by the forward policy; IPv6 is accepted towards docker0
        let v4 = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 5432, "eth0"))
        #expect(v4.verdict == .drop && v4.path.last?.action == .policy(.drop) && v4.path.last?.hook == .hook(.forward))
        let v6 = try e.trace(probe(.tcp, "2001:db8::99", "2001:db8::1", 5432, "eth0"))
        #expect(v6.verdict == .accept && v6.forwarded)
        #expect(v6.translatedTo == "[2001:db8:ac::3]:5432")
        let fw = e.fullExposure().forwarded
        #expect(fw.map(\.family) == [.ipv6])
    }

    @Test func forwardChainsOfEveryTableRunByPriority() throws {
        // an accept in the first forward chain ends only that chain: a later one still drops
        let a = TableBuilder(family: .inet, name: "a", ifindex: Host.ifindex)
        try a.chain("fwd", hook: .forward, priority: -10, policy: .accept, ["accept"])
        let b = TableBuilder(family: .ip, name: "b", ifindex: Host.ifindex)
        try b.chain("fwd", hook: .forward, priority: 10, policy: .accept, ["tcp dport 80 drop"])
        let e = try ForwardHookTests.containerHost(Host.forwarding, ForwardHookTests.dockerNat(), a, b)
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.path.map(\.table).filter { !$0.isEmpty }.suffix(2) == ["a", "b"])
    }

    @Test func plainRoutedTrafficWithoutDnatMeetsForwardToo() throws {
        let f = TableBuilder(family: .inet, name: "f", ifindex: Host.ifindex)
        try f.chain("fwd", hook: .forward, policy: .drop, [])
        let e = ForwardHookTests.containerHost(Host.forwarding, f)
        #expect(try e.trace(probe(.tcp, "203.0.113.9", "172.30.0.2", 80, "eth0")).verdict == .drop)
        let open = ForwardHookTests.containerHost(Host.forwarding)
        let r = try open.trace(probe(.tcp, "203.0.113.9", "172.30.0.2", 80, "eth0"))
        #expect(r.verdict == .accept && r.forwarded && !r.delivered)
    }
}

/// kube-proxy marks a packet in nat prerouting (KUBE-MARK-MASQ: `--set-xmark 0x4000/0x4000`) and accepts it in the
/// forward hook by that bit (KUBE-FORWARD: `-m mark --mark 0x4000/0x4000`). The mark from outside is unknown, but the
/// bit the path set is not: the verdict is decided.
@Suite struct PathSetMarkTests {
    static let markBit: [UInt8] = [0x00, 0x40, 0x00, 0x00]  // 0x4000 in host byte order (x86_64)

    static func kubeHost(setMark: Bool, nativeMatch: Bool) throws -> Evaluator {
        let n = table(.ip, "nat")
        try n.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 30080 dnat to 172.30.0.5:8080"])
        if setMark {
            // -j MARK --set-xmark 0x4000/0x4000 (xt_mark_tginfo2 {mark, mask})
            n.chains[0].rules[0].expressions.insert(.target(Xt(name: "MARK", revision: 2, info: Bytes(markBit + markBit))), at: 0)
        }
        let f = table(.ip, "filter")
        try f.chain("FORWARD", hook: .forward, policy: .drop, [])
        let test: [Expression] =
            nativeMatch
            ? [
                .meta(Meta(key: 3, dreg: 1)), .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes(markBit), xor: Bytes([0, 0, 0, 0]))),
                .cmp(Cmp(sreg: 1, op: .eq, data: Bytes(markBit)))
            ]
            : [.match(Xt(name: "mark", revision: 1, info: Bytes(markBit + markBit + [0, 0, 0, 0])))]
        f.chains[0].rules.append(Rule(handle: 40, expressions: test + [.immediate(Immediate(dreg: 0, verdict: .accept))]))
        return ForwardHookTests.containerHost(Host.forwarding, n, f)
    }

    @Test(arguments: [false, true])
    func markSetOnThePathDecidesTheForwardAccept(native: Bool) throws {
        let e = try PathSetMarkTests.kubeHost(setMark: true, nativeMatch: native)
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 30080, "eth0"))
        #expect(r.verdict == .accept, "\(r.reasons)")
        #expect(r.path.contains { $0.hook == .hook(.forward) && $0.handle == 40 && $0.action == .accept })
        let p = try #require(e.fullExposure().forwarded.first)
        #expect(p.summary == .public && p.reasons.isEmpty)
    }

    @Test func nativeMarkSetThenNativeMatch() throws {
        // `meta mark set meta mark or 0x4000` as nft compiles it: load, & 0xffffbfff ^ 0x4000, set
        let e = try PathSetMarkTests.kubeHost(setMark: false, nativeMatch: true)
        var snap = e.snapshot
        let set: [Expression] = [
            .meta(Meta(key: 3, dreg: 1)),
            .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes([0xff, 0xbf, 0xff, 0xff]), xor: Bytes(PathSetMarkTests.markBit))),
            .meta(Meta(key: 3, sreg: 1))
        ]
        snap.firewall.tables[0].chains[0].rules[0].expressions.insert(contentsOf: set, at: 0)
        let r = try Evaluator(snapshot: snap).trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 30080, "eth0"))
        #expect(r.verdict == .accept, "\(r.reasons)")
    }

    @Test(arguments: [false, true])
    func unsetMarkFromOutsideStaysConditional(native: Bool) throws {
        let e = try PathSetMarkTests.kubeHost(setMark: false, nativeMatch: native)
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 30080, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons.contains("packet mark"))
    }
}
