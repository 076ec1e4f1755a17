import HostModel
import Testing
@testable import Evaluator

/// `Evaluator.rules`: the input path's rules as typed matches, decoded in the same pass that builds the walk's guards.
@Suite struct RuleMatchTests {
    func inputTable() throws -> TableBuilder {
        let t = table(.inet, "filter")
        try t.set("admins", [.ipv4], interval: true, elements: ["198.51.100.0/24"])
        try t.chain(
            "input", hook: .input, policy: .drop,
            [
                "iifname != eth* tcp dport 22 accept",
                "ip saddr @admins tcp dport 5432 accept",
                "ip saddr 203.0.113.0/24 jump web",
                "udp dport 53 counter",
                "tcp dport 25 reject"
            ])
        try t.chain("web", ["tcp dport 80 accept", "return"])
        try t.chain("fwd", hook: .forward, policy: .drop, ["tcp dport 8080 accept"])
        return t
    }

    @Test func fieldsAreTyped() throws {
        let rules = Evaluator(snapshot: snapshot(try inputTable())).rules
        // The forward chain is not on the input path; the regular chain of the same table is.
        #expect(rules.map(\.chain) == ["input", "input", "input", "input", "input", "web", "web"])
        #expect(rules.map(\.verdict) == [.accept, .accept, .jump("web"), .none, .reject, .accept, .return])
        #expect(rules.map(\.isTerminal) == [true, true, false, false, true, true, false])

        #expect(rules[0].interface == InterfaceMatch(name: "eth*", negated: true))
        #expect(rules[0].interface?.isPrefix == true)
        #expect(rules[0].proto == .tcp && rules[0].dports == [PortRange(first: 22, last: 22)])
        #expect(rules[0].nft == "iifname != \"eth*\" tcp dport 22 accept")

        // A named set is referenced, not expanded: no sources, the set kept as an opaque match.
        #expect(rules[1].sources == nil && rules[1].opaque == ["@admins"])
        #expect(rules[1].nft == "ip saddr @admins tcp dport 5432 accept")

        #expect(rules[2].sources == [try #require(CIDR("203.0.113.0/24"))])
        #expect(rules[2].sourceTexts == ["203.0.113.0/24"] && rules[2].nfproto == .ipv4)
        #expect(rules[5].hook == nil && rules[5].index == 0 && rules[6].index == 1)
        #expect(rules[0].hook == .input && rules[0].chainPolicy == .drop)
    }

    @Test func coverageComparesTypedMatches() throws {
        let t = table(.inet, "filter")
        try t.chain(
            "input", hook: .input, policy: .drop,
            [
                "tcp dport 1-1024 accept",
                "ip saddr 198.51.100.0/24 tcp dport 22 drop",
                "ct state established accept",
                "iifname eth0 tcp dport 22 accept"
            ])
        let r = Evaluator.rules(of: snapshot(t).firewall)
        #expect(r[1].isCovered(by: r[0]))
        #expect(!r[0].isCovered(by: r[1]))
        // An opaque match (ct state) never covers anything; an interface match covers only the same interface.
        #expect(!r[1].isCovered(by: r[2]))
        #expect(r[3].isCovered(by: r[0]) && !r[0].isCovered(by: r[3]))
    }

    @Test func aVerdictMapIsAVerdict() throws {
        let t = table(.inet, "filter")
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport vmap { 22 : accept, 23 : drop }"])
        let r = try #require(Evaluator.rules(of: snapshot(t).firewall).first)
        guard case .map(let set) = r.verdict else {
            Issue.record("verdict \(r.verdict)")
            return
        }
        #expect(t.table.set(named: set)?.isMap == true)
        #expect(r.opaque == ["lookup"] && r.nft == nil && !r.isTerminal)
    }

    @Test func noRulesWhenTheFirewallIsNotReadable() throws {
        var fw = snapshot(try inputTable()).firewall
        #expect(!Evaluator.rules(of: fw).isEmpty)
        fw.status = .unreadable
        #expect(Evaluator.rules(of: fw).isEmpty)
    }

    /// Guards come from the same pass: compares right after a load, up to the first expression with an effect.
    @Test func guardsStopAtTheFirstEffect() throws {
        let t = table(.ip, "filter")
        try t.chain(
            "input", hook: .input, policy: .drop,
            [
                "ip daddr 192.0.2.1 tcp dport 22 accept",
                "meta mark set 1 tcp dport 22 accept",
                "counter tcp dport 1000-2000 accept"
            ])
        let e = Evaluator(snapshot: snapshot(t))
        let guards = e.rs.tables[0].guards[0]
        #expect(guards[0].tests.map(\.field) == [.daddr4, .l4proto, .dport])
        #expect(guards[0].portBounds == 22 << 16 | 22)
        // After `meta mark set` a compare is no condition on the arriving packet: no guard at all.
        #expect(guards[1].isEmpty && guards[1].portBounds == 0xffff)
        // A counter has no effect on the packet: the port bounds after it still guard (`gte` then `lte`).
        #expect(guards[2].tests.map(\.field) == [.l4proto, .dport, .dport] && guards[2].tests.map(\.op) == [0, 5, 3])
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 1500, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 2500, "eth0") == .drop)
    }
}
