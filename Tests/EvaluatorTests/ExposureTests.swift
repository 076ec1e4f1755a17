import HostModel
import Testing
@testable import Evaluator

/// Exposure summaries computed over source-address intervals, per interface.
@Suite struct ExposureTests {
    func exposure(_ listeners: [Listener], _ tables: TableBuilder...) -> [ListenerExposure] {
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: listeners,
            interfaces: Host.interfaces, routes: Host.routes,
            firewall: Firewall(status: .ok, tables: tables.map(\.table)))
        return Evaluator(snapshot: snap).exposure()
    }

    @Test func publicWithoutFirewall() throws {
        let x = exposure([tcpListener("0.0.0.0", 22)])
        #expect(x.count == 1)
        #expect(x[0].summary == .public)
        #expect(x[0].interfaces.contains("eth0") && x[0].interfaces.contains("eth1"))
    }

    @Test func restrictedListsTheExactRanges() throws {
        let t = table(.inet)
        try t.chain(
            "input", hook: .input, policy: .drop,
            ["iif lo accept", "ip saddr 10.0.0.0/8 tcp dport 22 accept", "ip saddr 203.0.113.16-203.0.113.31 tcp dport 22 accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        #expect(x[0].summary == .restricted)
        #expect(x[0].acceptedSources == ["10.0.0.0/8", "203.0.113.16/28"])
        #expect(x[0].interfaces.contains("eth0"))
        let accepted = x[0].regions.filter { $0.verdict == .accept && $0.interface == "eth0" }
        #expect(accepted.contains { $0.path.last?.handle != nil && $0.path.last?.action == .accept })
    }

    @Test func restrictedByInterfaceOnly() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname eth1 tcp dport 22 accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        // accepted from everywhere, but only on eth1: still public (a whole /0 on one interface)
        #expect(x[0].summary == .public)
        #expect(x[0].interfaces == ["eth1"])
    }

    @Test func localOnlyByBindAddress() throws {
        let x = exposure([tcpListener("127.0.0.1", 6379)])
        #expect(x[0].summary == .localOnly)
        #expect(x[0].interfaces.isEmpty)
    }

    @Test func localOnlyByRules() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iif lo accept"])
        let x = exposure([tcpListener("0.0.0.0", 5432)], t)
        #expect(x[0].summary == .localOnly)
    }

    @Test func blocked() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, [])
        let x = exposure([tcpListener("0.0.0.0", 5432)], t)
        #expect(x[0].summary == .blocked)
        #expect(x[0].regions.allSatisfy { $0.verdict == .drop })
        #expect(x[0].regions.contains { $0.path.last?.action == .policy(.drop) })
    }

    @Test func conditionalWithReason() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr 10.0.0.0/8 tcp dport 22 unknown osf accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        #expect(x[0].summary == .conditional)
        #expect(x[0].reasons.contains("unknown expression osf"))
        let cond = x[0].regions.filter { $0.verdict == .conditional && $0.interface == "eth0" && $0.destination == "192.0.2.1" }
        #expect(cond.map(\.sources) == [["10.0.0.0/8"]])
    }

    @Test func blocklistWithSetStaysPublic() throws {
        let t = table(.inet)
        try t.set("bad", [.ipv4], interval: true, elements: ["198.51.100.0/24", "203.0.113.0/24"])
        try t.chain("input", hook: .input, policy: .accept, ["ip saddr @bad drop"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        #expect(x[0].summary == .public)
        let dropped = x[0].regions.filter {
            $0.verdict == .drop && $0.interface == "eth0" && $0.destination == "192.0.2.1" && $0.path.last?.hook != .routing
        }
        #expect(dropped.flatMap(\.sources) == ["198.51.100.0/24", "203.0.113.0/24"])
    }

    @Test func dnatPortReachesListener() throws {
        let n = table(.ip, "nat")
        try n.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["iifname eth0 tcp dport 2222 redirect to :22"])
        let f = table(.inet, "f")
        try f.chain("input", hook: .input, policy: .drop, [])
        // ct status dnat by hand
        f.chains[0].rules = [
            Rule(
                handle: 9,
                expressions: [
                    .ct(Ct(key: 2, dreg: 1)), .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes([0x20, 0, 0, 0]), xor: Bytes([0, 0, 0, 0]))),
                    .cmp(Cmp(sreg: 1, op: .neq, data: Bytes([0, 0, 0, 0]))), .immediate(Immediate(dreg: 0, verdict: .accept))
                ])
        ]
        let x = exposure([tcpListener("0.0.0.0", 22)], n, f)
        #expect(x[0].viaPorts == [2222])
        #expect(x[0].summary == .public)
        #expect(x[0].interfaces == ["eth0"])
    }

    @Test func dualStackCoversBothFamilies() throws {
        let v6 = table(.ip6, "v6")
        try v6.chain("input", hook: .input, policy: .drop, [])
        let x = exposure([tcpListener("::", 2222, v6only: false)], v6)
        #expect(x[0].summary == .public)
        #expect(x[0].regions.contains { $0.family == .ipv6 && $0.verdict == .drop })
        #expect(x[0].regions.contains { $0.family == .ipv4 && $0.verdict == .accept })
    }

    @Test func reversePathSplitsByRoute() throws {
        let t = table(.inet)
        try t.chain("pre", hook: .prerouting, priority: -150, ["fib saddr . iif oif missing drop"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        let eth1 = x[0].regions.filter { $0.interface == "eth1" && $0.verdict == .accept && $0.destination == "198.51.100.1" }
        // the host's own address is routed locally: a packet claiming it as source fails the check
        #expect(eth1.flatMap(\.sources) == ["198.51.100.0", "198.51.100.2-198.51.100.255"])
        let eth0 = x[0].regions.filter { $0.interface == "eth0" && $0.verdict == .accept && $0.destination == "192.0.2.1" }
        #expect(eth0.flatMap(\.sources).contains("203.0.113.0-255.255.255.255") == false)
        #expect(eth0.flatMap(\.sources).contains("1.0.0.0-126.255.255.255"))
    }
}

/// Interfaces that rules name but the host does not have yet, and "any other" interface, are part of the grid.
@Suite struct ExposureInterfaceGridTests {
    @Test func absentInterfaceNamedByRule() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname wg0 tcp dport 51820 accept", "iifname eth* tcp dport 80 accept"])
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 51820), tcpListener("0.0.0.0", 80)], t)
        let x = Evaluator(snapshot: snap).exposure()
        let wg = try #require(x.first { $0.listener.port == 51820 })
        #expect(wg.summary == .public)
        #expect(wg.interfaces == ["wg0"])
        #expect(wg.regions.contains { $0.interface == "wg0" && !$0.interfaceExists })
        let web = try #require(x.first { $0.listener.port == 80 })
        #expect(web.interfaces == ["eth+", "eth0", "eth1"])
        #expect(!web.interfaces.contains("(any other)"))
    }
}
