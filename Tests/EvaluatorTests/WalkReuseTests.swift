import HostModel
import Testing
@testable import Evaluator

/// Exposure reuses one walk for other local destinations and devices when nothing the walk ran could tell them
/// apart. Whatever the rules read (device, name prefix, destination, fib, NAT, ingress hooks, packet type), the
/// result must be exactly the one of walking every question afresh.
@Suite struct WalkReuseTests {
    static let listeners: [Listener] = [
        Host.sshd,
        tcpListener("::", 80),
        tcpListener("::", 443, v6only: true),
        tcpListener("192.0.2.1", 8080),
        tcpListener("198.51.100.1", 8443),
        tcpListener("2001:db8::1", 9090),
        tcpListener("0.0.0.0", 5432, device: "eth1", deviceIndex: 3),
        tcpListener("127.0.0.1", 6379),
        udpListener("0.0.0.0", 53),
        udpListener("::", 123)
    ]

    static let inputs: [[String]] = [
        ["iif lo accept", "tcp dport 22 accept"],
        ["iifname eth0 tcp dport { 22, 80, 8080 } accept", "iifname eth* udp dport 53 accept", "tcp dport 443 accept"],
        ["iifname wlan* accept", "iifname != eth1 tcp dport 5432 accept", "ip saddr 198.51.100.0/24 accept"],
        ["ip daddr 192.0.2.1 tcp dport 22 accept", "ip6 daddr 2001:db8::1 accept", "udp dport 53 drop", "accept"],
        ["fib daddr type local tcp dport 80 accept", "fib saddr . iif oif missing drop", "tcp dport 22 accept"],
        ["tcp dport 8443 counter accept", "ct state new tcp dport 9090 accept", "iif eth1 drop", "accept"],
        ["iifname { eth1, lo } accept", "ip6 saddr 2001:db8::/32 accept", "tcp dport 22 reject"]
    ]

    static let policies: [ChainPolicy] = [.drop, .accept]

    @Test(arguments: 0..<WalkReuseTests.inputs.count)
    func reuseEqualsFreshWalks(_ index: Int) throws {
        for policy in Self.policies {
            let t = table(.inet)
            try t.chain("input", hook: .input, policy: policy, Self.inputs[index])
            let e = Evaluator(snapshot: snapshot(listeners: Self.listeners, t))
            let reused = e.fullExposure()
            let fresh = e.fullExposure(reuseWalks: false)
            #expect(reused.listeners.count == fresh.listeners.count)
            let first = zip(reused.listeners, fresh.listeners).first { $0.0 != $0.1 }
            #expect(
                first == nil,
                "ruleset \(index), policy \(policy): listener \(first.map { "\($0.0.listener.proto) \($0.0.listener.address) \($0.0.listener.port)" } ?? "")"
            )
            #expect(reused.forwarded == fresh.forwarded)
            #expect(!reused.listeners.isEmpty)
        }
    }

    /// Workers split questions by port and listeners by position; the answer must not depend on how many there are.
    @Test(arguments: 0..<WalkReuseTests.inputs.count)
    func workersDoNotChangeTheAnswer(_ index: Int) throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, Self.inputs[index])
        let nat = table(.ip, "nat")
        try nat.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 2222 dnat to 192.0.2.1:22"])
        let e = Evaluator(snapshot: snapshot(listeners: Self.listeners, nat, t))
        let one = e.fullExposure(workers: 1)
        for n in [2, 3, 8] {
            let many = e.fullExposure(workers: n)
            #expect(many.listeners.map(\.listener) == one.listeners.map(\.listener), "workers \(n)")
            let first = zip(many.listeners, one.listeners).first { $0.0 != $0.1 }
            #expect(first == nil, "ruleset \(index), workers \(n): listener \(first.map { "\($0.0.listener.port)" } ?? "")")
            #expect(many.forwarded == one.forwarded)
        }
    }

    @Test func natAndIngressAreNotReusedAcrossQuestions() throws {
        let nat = table(.ip, "nat")
        try nat.chain(
            "pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 2222 dnat to 192.0.2.1:22", "tcp dport 8081 redirect to :8080"])
        let nd = table(.netdev, "nd")
        try nd.chain("ingress", hook: .ingress, priority: 0, devices: ["eth0"], ["ip saddr 203.0.113.0/24 drop"])
        let f = table(.inet, "f")
        try f.chain("input", hook: .input, policy: .drop, ["iif lo accept", "tcp dport { 22, 8080 } accept", "udp dport 53 accept"])
        let e = Evaluator(snapshot: snapshot(listeners: Self.listeners, nat, nd, f))
        let reused = e.fullExposure()
        #expect(reused == e.fullExposure(reuseWalks: false))
        // The ingress drop on eth0 must not leak to eth1 through a reused walk.
        let ssh = try #require(reused.listeners.first { $0.listener.port == 22 })
        let eth0 = ssh.regions.filter { $0.interface == "eth0" && $0.verdict == .drop && $0.path.contains { $0.chain == "ingress" } }
        let eth1 = ssh.regions.filter { $0.interface == "eth1" && $0.path.contains { $0.chain == "ingress" } }
        #expect(!eth0.isEmpty)
        #expect(eth1.isEmpty)
    }
}

/// Addresses only rules compare (a ClusterIP) are routed by their address: their walks are reused for other devices
/// only, and a rule for another IPv4 destination is stepped over by its guard's destination alone.
@Suite struct ClusterAddressReuseTests {
    static let listeners = [tcpListener("192.0.2.1", 8080), tcpListener("198.51.100.1", 8443)]

    func evaluator() throws -> Evaluator {
        let nat = table(.ip, "nat")
        try nat.chain(
            "pre", hook: .prerouting, type: "nat", priority: -100,
            [
                "ip daddr 203.0.113.10 tcp dport 80 dnat to 192.0.2.1:8080",
                "ip daddr 203.0.113.11 tcp dport 80 dnat to 198.51.100.1:8443",
                "ip daddr 203.0.113.12 tcp dport 80 dnat to 192.0.2.1:8080"
            ])
        let f = table(.inet, "f")
        try f.chain(
            "input", hook: .input, policy: .drop, ["iif lo accept", "iifname eth1 tcp dport 8080 accept", "iifname eth0 tcp dport 8443 accept"])
        try f.chain("forward", hook: .forward, policy: .drop, ["iifname eth0 accept"])
        return Evaluator(snapshot: snapshot(listeners: Self.listeners, nat, f))
    }

    @Test func reuseEqualsFreshWalks() throws {
        let e = try evaluator()
        #expect(e.fullExposure() == e.fullExposure(reuseWalks: false))
        #expect(e.fullExposure() == e.fullExposure(workers: 1))
    }

    @Test func eachClusterAddressKeepsItsOwnDevices() throws {
        let r = try evaluator().fullExposure()
        func accepted(_ port: UInt16, _ destination: String) -> [String] {
            let l = r.listeners.first { $0.listener.port == port }
            return (l?.regions ?? []).filter { $0.destination == destination && $0.destinationPort == 80 && $0.verdict == .accept }
                .map(\.interface).sorted()
        }
        #expect(accepted(8080, "203.0.113.10") == ["eth1"])
        #expect(accepted(8080, "203.0.113.12") == ["eth1"])
        #expect(accepted(8443, "203.0.113.11") == ["eth0"])
        #expect(accepted(8443, "203.0.113.10").isEmpty)
    }

    @Test func destinationGuardsAreKeyedForSkipping() throws {
        let e = try evaluator()
        let nat = try #require(e.rs.tables.first { $0.name == "nat" })
        let pre = try #require(nat.chainIndex["pre"])
        let keys = nat.destinationKeys[pre]
        #expect(keys.count == 3)
        #expect(keys[0] == 1 << 32 | 0xCB00_710A)
        #expect(keys[2] == 1 << 32 | 0xCB00_710C)
        // A rule reading the input interface keeps its guard (its outcome is recorded for reuse).
        let f = try #require(e.rs.tables.first { $0.name == "f" })
        #expect(f.destinationKeys.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }
}

/// A guard that reads the device and the port, after a DNAT that changed the port: a walk reused for another device
/// must test the guard on the translated port it saw, not on the question's own.
@Suite struct TranslatedGuardReuseTests {
    @Test func guardAfterDnatIsTestedOnTheTranslatedPort() throws {
        let nat = table(.ip, "nat")
        try nat.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 2222 dnat to 192.0.2.1:22"])
        let f = table(.inet, "f")
        try f.chain("input", hook: .input, policy: .drop, ["iif lo accept", "iifname eth1 tcp dport 22 accept"])
        let e = Evaluator(snapshot: snapshot(listeners: [Host.sshd], nat, f))
        let reused = e.fullExposure()
        #expect(reused == e.fullExposure(reuseWalks: false))
        let ssh = try #require(reused.listeners.first)
        let via2222 = ssh.regions.filter { $0.destinationPort == 2222 && $0.verdict == .accept && $0.destination == "192.0.2.1" }
        #expect(via2222.map(\.interface) == ["eth1"])
    }
}
