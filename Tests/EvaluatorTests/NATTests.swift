import HostModel
import Testing
@testable import Evaluator

/// DNAT/redirect in prerouting change the port (and address) that input rules and socket lookup see.
@Suite struct NATTests {
    func host(_ natRule: String, input: [String], listeners: [Listener]) throws -> Evaluator {
        let n = table(.ip, "nat")
        try n.chain("prerouting", hook: .prerouting, type: "nat", priority: -100, [natRule])
        let f = table(.inet, "filter")
        try f.chain("input", hook: .input, policy: .drop, input)
        return Evaluator(snapshot: snapshot(listeners: listeners, n, f))
    }

    @Test func dnatChangesThePortInputSees() throws {
        let e = try host(
            "tcp dport 9000 dnat to 192.0.2.1:80", input: ["tcp dport 9000 drop", "tcp dport 80 accept"],
            listeners: [tcpListener("0.0.0.0", 80, name: "web")])
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.listener?.port == 80)
        #expect(r.translatedTo == "192.0.2.1:80")
        #expect(r.path.first?.action == .note("dnat to 192.0.2.1:80"))
    }

    @Test func redirectUsesTheInterfaceAddress() throws {
        let e = try host(
            "tcp dport 9001 redirect to :22", input: ["tcp dport 22 ct original proto-dst 9001 drop", "tcp dport 22 accept"],
            listeners: [tcpListener("198.51.100.1", 22, name: "only-eth1")])
        // redirect on eth1 goes to eth1's address: the socket bound there receives it, but the input rule drops it
        let r = try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 9001, "eth1"))
        #expect(r.verdict == .drop)
        #expect(r.translatedTo == "198.51.100.1:22")
        #expect(r.listener?.address == "198.51.100.1")
        // direct to 22: accepted
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth1")).delivered)
    }

    @Test func redirectOnEth0MissesSocketBoundToEth1Address() throws {
        let e = try host("tcp dport 9001 redirect to :22", input: ["accept"], listeners: [tcpListener("198.51.100.1", 22)])
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9001, "eth0"))
        #expect(r.translatedTo == "192.0.2.1:22")
        #expect(r.listener == nil)
    }

    @Test func nonLocalDnatIsForwarded() throws {
        let e = try host("tcp dport 8080 dnat to 172.30.0.2:80", input: [], listeners: [tcpListener("0.0.0.0", 8080, name: "docker-proxy")])
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0"))
        #expect(r.forwarded)
        #expect(!r.delivered)
        #expect(r.listener == nil)
        #expect(r.path.last?.hook == .routing)
    }

    @Test func firstNatBindingWins() throws {
        let n = table(.ip, "nat")
        try n.chain("a", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 9000 dnat to 192.0.2.1:80"])
        try n.chain("b", hook: .prerouting, type: "nat", priority: -90, ["tcp dport 9000 dnat to 192.0.2.1:81"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 80), tcpListener("0.0.0.0", 81)], n))
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0")).listener?.port == 80)
    }
}

/// nat chains run inside the NAT core hook (prerouting -100), ordered among themselves by their own priority:
/// a nat chain at priority 50 still translates before a filter chain at -50 (checked in a namespace with counters).
@Suite struct NATCorePriorityTests {
    @Test func natChainRunsAtTheNatCorePriority() throws {
        let t = table(.ip)
        try t.chain("f", hook: .prerouting, priority: -50, ["tcp dport 9000 drop"])
        try t.chain("n", hook: .prerouting, type: "nat", priority: 50, ["tcp dport 9000 dnat to 192.0.2.1:22"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.path.map(\.chain) == ["n", "f"])
    }

    @Test func untrackedPacketsSkipNat() throws {
        let t = table(.ip)
        try t.chain("raw", hook: .prerouting, priority: -300, ["tcp dport 9000 notrack"])
        try t.chain("n", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 9000 dnat to 192.0.2.1:22"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0"))
        #expect(r.translatedTo == nil)
        #expect(r.listener == nil)
    }
}

/// `payload set` on the destination port changes what later chains and the socket lookup see.
@Suite struct PayloadMangleTests {
    @Test func dportRewriteIsFollowed() throws {
        let t = table(.inet)
        try t.chain("pre", hook: .prerouting, priority: -150, [])
        // tcp dport 9000 tcp dport set 22
        t.chains[0].rules.append(
            Rule(
                handle: 40,
                expressions: [
                    .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                    .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0x23, 0x28]))),
                    .immediate(Immediate(dreg: 1, data: Bytes([0, 22]))), .payload(Payload(base: .transport, offset: 2, length: 2, sreg: 1))
                ]))
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 9000, "eth0")).listener?.port == 22)
    }
}

/// A map lookup loads the element's data into the destination register (here: a DNAT address per port).
@Suite struct MapDataTests {
    @Test func dnatAddressFromMap() throws {
        let t = table(.ip, "nat")
        try t.chain("pre", hook: .prerouting, type: "nat", priority: -100, [])
        // dnat to tcp dport map { 8080 : 192.0.2.1, 8081 : 172.30.0.9 }
        t.sets.append(
            NFTSet(
                name: "__map9", flags: 0xb, keyType: 13, keyLength: 2, dataType: 7, dataLength: 4,
                elements: [
                    SetElement(key: Bytes([0x1f, 0x90]), data: Bytes([192, 0, 2, 1])),
                    SetElement(key: Bytes([0x1f, 0x91]), data: Bytes([172, 30, 0, 9]))
                ]))
        t.chains[0].rules.append(
            Rule(
                handle: 30,
                expressions: [
                    .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                    .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                    .lookup(Lookup(sreg: 1, dreg: 1, set: "__map9")),
                    .nat(Nat(type: 1, family: 2, regAddrMin: 1, flags: 1))
                ]))
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("192.0.2.1", 8080)], t))
        let local = try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 8080, "eth1"))
        #expect(local.translatedTo == "192.0.2.1:8080")
        #expect(local.delivered)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 8081, "eth1")).forwarded)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 8082, "eth1")).translatedTo == nil)
    }

    @Test func iptablesDnatTargetRev2() throws {
        let t = table(.ip, "nat")
        try t.chain("PREROUTING", hook: .prerouting, type: "nat", priority: -100, [])
        // nf_nat_range2: flags u32 (MAP_IPS|PROTO_SPECIFIED), min_addr, max_addr (16 B each), min/max proto (be16), base proto
        var info: [UInt8] = [3, 0, 0, 0]
        info += [192, 0, 2, 1] + [UInt8](repeating: 0, count: 12)
        info += [192, 0, 2, 1] + [UInt8](repeating: 0, count: 12)
        info += [0, 22, 0, 22, 0, 0]
        t.chains[0].rules.append(
            Rule(
                handle: 31,
                expressions: [
                    .payload(Payload(base: .network, offset: 9, length: 1, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                    .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0x08, 0xae]))),
                    .target(Xt(name: "DNAT", revision: 2, info: Bytes(info)))
                ]))
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 2222, "eth1"))
        #expect(r.translatedTo == "192.0.2.1:22")
        #expect(r.delivered)
    }
}
