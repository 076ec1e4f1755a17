import HostModel
import Testing
@testable import Evaluator

/// Undecidable matches make the result conditional only where both branches differ.
@Suite struct ConditionalTests {
    /// A token bucket starts full: a first new connection gets through a limit, so the limit decides nothing about
    /// who can connect; it is named instead (a rate-limited world-open port is still world-open).
    @Test func limitBeforeAcceptLetsAFirstConnectionThroughAndIsNamed() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 limit rate 10/second accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.reasons.isEmpty)
        #expect(r.limits == ["limit rate 10/second"])
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: [tcpListener("0.0.0.0", 22)],
            interfaces: Host.interfaces, routes: Host.routes, firewall: Firewall(status: .ok, tables: [t.table]))
        let x = try #require(Evaluator(snapshot: snap).exposure().first)
        #expect(x.summary == ExposureSummary.public)
        #expect(x.limits == ["limit rate 10/second"])
    }

    /// `limit rate over … drop` does not match a first connection: the accept after it decides, and the limit is named.
    @Test func limitOverDropIsPassedAndNamed() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 limit rate over 5/second drop", "tcp dport 22 accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.limits == ["limit rate over 5/second"])
        // A rule the packet never reaches the limit of names nothing.
        let other = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0"))
        #expect(other.limits == nil)
    }

    /// A limit in a rule that does not match in the end (a later match fails) is not named.
    @Test func limitOfARuleThatDoesNotMatchIsNotNamed() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["limit rate 10/second tcp dport 23 accept", "tcp dport 22 accept"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.limits == nil)
    }

    /// A quota is decided by the bytes it had counted when the ruleset was read: `until` matches below it, `over`
    /// above it; near the end, or with no count recorded (older snapshots), it is conditional.
    @Test(arguments: [
        ("quota 1000000 used 10 accept", PacketVerdict.accept),
        ("quota 1000000 used 1000000 accept", .drop),
        ("quota over 1000000 used 2000000 drop", .drop),
        ("quota over 1000000 used 10 drop", .accept),
        ("quota 1000000 used 999990 accept", .conditional),
        ("quota 1000000 accept", .conditional)
    ])
    func quotaIsDecidedByItsCount(rule: String, verdict: PacketVerdict) throws {
        let t = table(.inet)
        let rules = rule.hasSuffix("drop") ? ["tcp dport 22 " + rule, "tcp dport 22 accept"] : ["tcp dport 22 " + rule]
        try t.chain("input", hook: .input, policy: .drop, rules)
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == verdict, "\(rule)")
        if verdict == .accept { #expect(r.limits?.first?.hasPrefix("quota ") == true, "\(rule)") }
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
        t.chains[0].rules[0] = Rule(
            handle: 70,
            expressions: [
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0, 22]))),
                .payload(Payload(base: .network, offset: 12, length: 4, dreg: 1)),
                .dynset(Dynset(op: 0, set: "seen", sregKey: 1, expressions: ["limit"])),
                .immediate(Immediate(dreg: 0, verdict: .drop))
            ])
        let e = Evaluator(snapshot: snapshot(t))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        let r80 = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0"))
        #expect(r80.verdict == .conditional)
        #expect(r80.reasons == ["dynamic set @seen"])
    }
}
