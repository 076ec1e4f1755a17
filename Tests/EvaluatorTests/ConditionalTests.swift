import HostModel
import Testing
@testable import Evaluator

/// Undecidable matches make the result conditional only where both branches differ.
@Suite struct ConditionalTests {
    @Test func limitBeforeAcceptIsConditional() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 limit rate 10/second accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["rate limit"])
        #expect(!r.delivered)
    }

    @Test func limitBeforeCounterIsDecided() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 limit rate 10/second counter", "tcp dport 22 accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.reasons.isEmpty)
    }

    @Test func limitWhoseBothBranchesDropIsDecided() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["limit rate 5/second accept"])
        let t2 = table(.ip, "later")
        try t2.chain("input", hook: .input, priority: 10, ["drop"])
        let r = try Evaluator(snapshot: snapshot(t, t2)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
    }

    @Test func unknownExpressionIsConditional() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["tcp dport 22 unknown osf drop"])
        let e = Evaluator(snapshot: snapshot(t))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["unknown expression osf"])
        // a packet the rule's decidable part does not match is not affected
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .accept)
    }

    @Test func sourcePortUnknownOnlyWhenTested() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp sport 1024-65535 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .conditional)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0", sport: 40000) == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0", sport: 80) == .drop)
    }

    @Test func thDportHasNoProtocolDependency() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["th dport 99 accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 99, "eth0") == .accept)
        #expect(try e.verdict(.udp, "198.51.100.7", "192.0.2.1", 99, "eth0") == .accept)
    }
}

/// An unreadable ruleset or legacy iptables beside nf_tables: accepts are not claimed, drops by nft stay drops.
@Suite struct BlindSpotTests {
    @Test func legacyTablesMakeAcceptConditional() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["tcp dport 23 drop"])
        var snap = snapshot(t)
        snap.firewall.legacyTables = LegacyTables(ipv4: ["filter"])
        let e = Evaluator(snapshot: snap)
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(!r.delivered)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .drop)
        #expect(e.exposure()[0].summary == .conditional)
    }

    @Test func unreadableFirewallIsNotNoFirewall() throws {
        var snap = snapshot()
        snap.firewall = Firewall(status: .unreadable, error: "EPERM")
        let e = Evaluator(snapshot: snap)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .conditional)
        #expect(e.exposure()[0].summary == .conditional)
    }
}

/// A meter (dynset with an attached limit) is a sometimes-match; the set it fills makes later lookups dynamic.
@Suite struct MeterTests {
    @Test func meterLimitIsConditionalAndSetIsDynamic() throws {
        let t = table(.inet)
        try t.set("seen", [.ipv4], elements: [])
        try t.chain("input", hook: .input, policy: .accept, ["tcp dport 22 counter drop", "ip saddr @seen drop"])
        // tcp dport 22 add @seen { ip saddr limit rate over 10/minute } drop
        t.chains[0].rules[0] = Rule(handle: 70, expressions: [
            .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
            .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0, 22]))),
            .payload(Payload(base: .network, offset: 12, length: 4, dreg: 1)),
            .dynset(Dynset(op: 0, set: "seen", sregKey: 1, expressions: ["limit"])),
            .immediate(Immediate(dreg: 0, verdict: .drop)),
        ])
        let e = Evaluator(snapshot: snapshot(t))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        let r80 = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0"))
        #expect(r80.verdict == .conditional)
        #expect(r80.reasons == ["dynamic set @seen"])
    }
}
