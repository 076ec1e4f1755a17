import Foundation
import HostModel
import Testing
@testable import Evaluator

/// The summary thresholds (documented on `ExposureSummary`) and the exact accepted ranges they are judged from.
@Suite struct ExposureSummaryTests {
    func exposure(_ listeners: [Listener], _ tables: TableBuilder...) -> [ListenerExposure] {
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: listeners,
            interfaces: Host.interfaces, routes: Host.routes,
            firewall: Firewall(status: tables.isEmpty ? .absent : .ok, tables: tables.map(\.table)))
        return Evaluator(snapshot: snap).exposure()
    }

    func ranges(_ x: ListenerExposure, _ iface: String, _ fam: IPFamily) -> AcceptedRanges? {
        x.acceptedRanges.first { $0.interface == iface && $0.family == fam }
    }

    @Test func restrictedRangesAreExactPerInterface() throws {
        let t = table(.inet)
        try t.chain(
            "input", hook: .input, policy: .drop,
            [
                "iifname eth0 ip saddr 10.0.0.0/8 accept", "iifname eth1 ip saddr 203.0.113.16-203.0.113.31 accept"
            ])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        #expect(x.summary == .restricted)
        #expect(x.acceptedRanges.map(\.interface) == ["eth0", "eth1"])
        let eth0 = try #require(ranges(x, "eth0", .ipv4))
        #expect(eth0.set.descriptions == ["10.0.0.0/8"])
        #expect(!eth0.allRoutable)
        #expect(try #require(ranges(x, "eth1", .ipv4)).set.descriptions == ["203.0.113.16/28"])
    }

    @Test func denyListIsPublicWithTheExactRest() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["ip saddr 10.0.0.0/8 drop"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        #expect(x.summary == .public)
        let eth0 = try #require(ranges(x, "eth0", .ipv4))
        #expect(!eth0.allRoutable)
        #expect(!eth0.set.contains(addressValue([10, 1, 2, 3])))
        #expect(eth0.set.contains(addressValue([11, 0, 0, 0])))
        #expect(!eth0.set.contains(addressValue([127, 0, 0, 1])))  // martian: the kernel drops it before input
    }

    @Test func noFirewallIsEveryRoutableSource() throws {
        let x = exposure([tcpListener("::", 22)])[0]
        #expect(x.summary == .public)
        let eth1v4 = try #require(ranges(x, "eth1", .ipv4))
        #expect(eth1v4.allRoutable)
        #expect(x.acceptedRanges.contains { $0.interface == "eth0" && $0.family == .ipv6 && $0.allRoutable })
        #expect(!x.acceptedRanges.contains { $0.interface == "lo" })
    }

    @Test func privateRangesTogetherStayRestricted() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        #expect(x.summary == .restricted)
        #expect(try #require(ranges(x, "eth0", .ipv4)).set.descriptions == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
    }

    @Test func halfTheSpaceOnOneInterfaceIsPublic() throws {
        // everything but 0/1 on eth1: 128.0.0.0/1 minus martians is under half, everything but 10/8 is over
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname eth0 ip saddr != 10.0.0.0/8 accept", "iifname eth1 ip saddr 128.0.0.0/1 accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        #expect(x.summary == .public)
        let halfOnly = table(.inet)
        try halfOnly.chain("input", hook: .input, policy: .drop, ["ip saddr 128.0.0.0/1 accept"])
        let u = exposure([tcpListener("0.0.0.0", 22)], halfOnly)[0]
        #expect(u.summary == .restricted)
    }

    @Test func conditionalSourcesAreNotInAcceptedRanges() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr 198.51.100.0/24 accept", "tcp dport 22 unknown osf accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        #expect(x.summary == .conditional)
        #expect(try #require(ranges(x, "eth0", .ipv4)).set.descriptions == ["198.51.100.0/24"])
    }

    @Test func jsonCarriesTheExactRangesAndRoundTrips() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr { 10.0.0.0/8, 203.0.113.7, 198.51.100.10-198.51.100.20 } accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)[0]
        let data = try JSONEncoder().encode(x)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ar = try #require(obj["acceptedRanges"] as? [[String: Any]])
        let eth0 = try #require(ar.first { $0["interface"] as? String == "eth0" && $0["family"] as? String == "ipv4" })
        #expect(eth0["ranges"] as? [String] == ["10.0.0.0/8", "198.51.100.10-198.51.100.20", "203.0.113.7"])
        #expect(eth0["omitted"] as? Int == 0)
        #expect(eth0["count"] as? Double == Double((1 << 24) + 11 + 1))
        let back = try JSONDecoder().decode(ListenerExposure.self, from: data)
        #expect(back.acceptedRanges == x.acceptedRanges)
    }
}
