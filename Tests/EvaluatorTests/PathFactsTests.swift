import HostModel
import Testing
@testable import Evaluator

/// The facts the forward-path checks read: what input would do with a published port, open forwarding between
/// interfaces, and IPv6 neighbour discovery through the input path (ICMPv6 135/136, untracked by conntrack).
@Suite struct PathFactsTests {
    @Test func publishedPortAgainstTheInputPath() throws {
        let e = try ForwardHookTests.containerHost(Host.forwarding, ForwardHookTests.dockerNat(), ForwardHookTests.dockerFilter())
        let fw = e.fullExposure().forwarded
        #expect(fw.count == 1, "\(fw)")
        let facts = e.publishedPaths(fw)
        let p = try #require(facts.first)
        #expect(facts.count == 1)
        #expect(p.port.port == 8080)
        #expect(p.inputVerdict == .drop)
        #expect(p.inputPath.last?.action == .policy(.drop) && p.inputPath.last?.chain == "INPUT")
        // an input chain that opens 8080 itself: the publish bypasses nothing
        let f = try ForwardHookTests.dockerFilter()
        f.chains[0].rules += try table(.ip, "x").chain("c", ["tcp dport 8080 accept"]).chains[0].rules
        let open = ForwardHookTests.containerHost(Host.forwarding, try ForwardHookTests.dockerNat(), f)
        #expect(open.publishedPaths(open.fullExposure().forwarded).first?.inputVerdict == .accept)
    }

    @Test func openForwardingNeedsForwardingOnAndNoFilter() throws {
        let none = ForwardHookTests.containerHost(Host.forwarding)
        let open = none.openForwarding()
        #expect(open.contains { $0.family == .ipv4 && $0.from == "eth0" && $0.to == "eth1" })
        #expect(open.contains { $0.family == .ipv4 && $0.from == "eth1" && $0.to == "eth0" })
        // never from the container bridge, never twice for one pair
        #expect(!open.contains { $0.from == "docker0" })
        #expect(Set(open.map { "\($0.family)\($0.from)\($0.to)" }).count == open.count)
        #expect(ForwardHookTests.containerHost(Sysctls(ipForward: false, ipv6Forwarding: false)).openForwarding().isEmpty)
        let f = table(.inet, "f")
        try f.chain("fwd", hook: .forward, policy: .drop, ["ct state established,related accept"])
        #expect(ForwardHookTests.containerHost(Host.forwarding, f).openForwarding().isEmpty)
        // a filter that lets only one port through is not "accepts everything"
        let g = table(.inet, "g")
        try g.chain("fwd", hook: .forward, policy: .drop, ["tcp dport 22 accept"])
        #expect(ForwardHookTests.containerHost(Host.forwarding, g).openForwarding().isEmpty)
    }

    @Test func neighbourDiscoveryThroughInput() throws {
        let dropAll = table(.inet, "filter")
        try dropAll.chain("input", hook: .input, policy: .drop, ["iif lo accept", "ct state established,related accept"])
        let blocked = Evaluator(snapshot: snapshot(dropAll)).neighbourDiscovery()
        // eth0 is the only interface with IPv6; conntrack does not track ND, so the established rule does not help
        #expect(blocked.map(\.interface) == ["eth0", "eth0"])
        #expect(Set(blocked.map(\.message)) == ["neighbour solicitation", "neighbour advertisement"])
        let nd = table(.inet, "filter")
        try nd.chain("input", hook: .input, policy: .drop, ["iif lo accept", "meta l4proto 58 accept"])
        #expect(Evaluator(snapshot: snapshot(nd)).neighbourDiscovery().isEmpty)
        let untracked = table(.inet, "filter")
        try untracked.chain("input", hook: .input, policy: .drop, ["ct state untracked accept"])
        #expect(Evaluator(snapshot: snapshot(untracked)).neighbourDiscovery().isEmpty)
        // an IPv4-only table does not see IPv6 at all
        let v4 = table(.ip, "filter")
        try v4.chain("input", hook: .input, policy: .drop, [])
        #expect(Evaluator(snapshot: snapshot(v4)).neighbourDiscovery().isEmpty)
    }
}
