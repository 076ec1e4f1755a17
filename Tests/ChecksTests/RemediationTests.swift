import Foundation
import HostModel
import Evaluator
import Policy
import Testing
@testable import Checks

/// What the fixes quote: rule text that is valid nft (or a description, never a placeholder), and commands whose
/// kind matches what they can do. FixCommandTests (IntegrationTests) pastes each kind into a namespace.
@Suite struct RemediationTests {
    let base = EvaluatorAuditTests()

    func audit(_ listeners: [Listener], _ fw: Firewall, sysctls: Sysctls? = nil) throws -> [Finding] {
        var s = base.snapshot(listeners, firewall: fw)
        if let sysctls { s.sysctls = sysctls }
        return Auditor.run(AuditContext(snapshot: s, policy: try PolicyLoader.builtInDefault(), today: today)).findings
    }

    /// `ip saddr @admins tcp dport 5432 accept` as nft generates it in an inet table.
    static func adminsRule(_ handle: UInt64) -> Rule {
        Rule(
            handle: handle,
            expressions: [
                .meta(Meta(key: 15, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([2]))),
                .payload(Payload(base: .network, offset: 12, length: 4, dreg: 1)),
                .lookup(Lookup(sreg: 1, set: "admins")),
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0x15, 0x38]))),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
    }

    static func withAdmins(_ rules: [Rule]) -> Firewall {
        var fw = ExampleRule.firewall(rules)
        fw.tables[0].sets = [
            NFTSet(
                name: "admins", flags: 0x4, keyType: 7, keyLength: 4,
                elements: [SetElement(key: Bytes([198, 51, 100, 0])), SetElement(key: Bytes([198, 51, 101, 0]), flags: 1)])
        ]
        return fw
    }

    let postgres = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 5432, uid: 70, processes: [ProcessInfo(pid: 2, name: "postgres")])
    let redis = Listener(
        proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 6379, uid: 999, processes: [ProcessInfo(pid: 812, name: "redis-server")])

    @Test func setReferencesPrintAsNftNotPlaceholders() throws {
        let facts = Evaluator.rules(of: Self.withAdmins([Self.adminsRule(6)]))
        #expect(facts.first?.nft == "ip saddr @admins tcp dport 5432 accept")
        let f = try #require(try audit([postgres], Self.withAdmins([Self.adminsRule(6)])).first { $0.ruleId == "PW1006" })
        #expect(
            f.remediation.contains(
                "`nft delete rule inet filter input handle 6` removes the rule that opens it (`ip saddr @admins tcp dport 5432 accept`)"),
            "\(f.remediation)")
        #expect(!f.remediation.contains("<"))
    }

    @Test func rulesWithoutAFaithfulNftFormAreDescribed() {
        let rule = Rule(
            handle: 7,
            expressions: [
                .connlimit(Connlimit(count: 3, inverted: true)),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let facts = Evaluator.rules(of: ExampleRule.firewall([rule, ExampleRule.source(8, "10.0.0.0/8", .tcp, 22)]))
        #expect(facts[0].nft == nil)
        #expect(facts[0].text == "a rule with connlimit (not shown as nft), verdict accept")
        #expect(facts[1].nft == "ip saddr 10.0.0.0/8 tcp dport 22 counter accept")
    }

    /// Limits and quotas print as `nft list ruleset` prints them (nft's default burst of 5 packets left out).
    @Test(arguments: [
        (Limit(rate: 10, unit: 60, burst: 5, type: 0, inverted: false), "limit rate 10/minute"),
        (Limit(rate: 3, unit: 1, burst: 20, type: 0, inverted: true), "limit rate over 3/second burst 20 packets"),
        (Limit(rate: 1_048_576, unit: 1, burst: 0, type: 1, inverted: false), "limit rate 1 mbytes/second")
    ])
    func limitsPrintAsNft(limit: Limit, text: String) {
        let rule = Rule(handle: 7, expressions: [.limit(limit), .immediate(Immediate(dreg: 0, verdict: .accept))])
        let facts = Evaluator.rules(of: ExampleRule.firewall([rule]))
        #expect(facts[0].nft == "\(text) accept")
        #expect(Quota(bytes: 100 << 20, inverted: false, consumed: 5).nftText == "quota until 100 mbytes")
        #expect(Quota(bytes: 1500, inverted: true).nftText == "quota over 1500 bytes")
    }

    @Test func portRangesAndLoopbackIndexAreDecoded() {
        // `tcp dport 6000-7000 accept` (nft emits cmp gte + cmp lte) and `iif "lo" accept` (index 1 in every namespace).
        let range = Rule(
            handle: 4,
            expressions: [
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                .cmp(Cmp(sreg: 1, op: .gte, data: Bytes([0x17, 0x70]))), .cmp(Cmp(sreg: 1, op: .lte, data: Bytes([0x1b, 0x58]))),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let lo = Rule(
            handle: 3,
            expressions: [
                .meta(Meta(key: 4, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([1, 0, 0, 0]))),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let other = Rule(
            handle: 5,
            expressions: [
                .meta(Meta(key: 4, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([2, 0, 0, 0]))),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let facts = Evaluator.rules(of: ExampleRule.firewall([lo, range, other]))
        #expect(facts.map(\.nft) == ["iif \"lo\" accept", "tcp dport 6000-7000 accept", nil])
        #expect(facts[1].dports == [PortRange(first: 6000, last: 7000)] && facts[1].opaque.isEmpty)
        #expect(facts[0].loopbackOnly && !facts[2].loopbackOnly)
    }

    @Test func deletionIsQuotedOnlyWhenItCloses() throws {
        // A later range accept would still let 6379 in after the deletion: a drop goes on top of the chain instead.
        let range = Rule(
            handle: 9,
            expressions: [
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                .range(RangeExpr(sreg: 1, inverted: false, from: Bytes([0x17, 0x70]), to: Bytes([0x1b, 0x58]))),
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let fw = ExampleRule.firewall([ExampleRule.established(2), ExampleRule.port(7, .tcp, 6379), range])
        let f = try #require(try audit([redis], fw).first { $0.ruleId == "PW1006" })
        #expect(
            f.remediation.contains("`nft insert rule inet filter input 'iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop'`"),
            "\(f.remediation)")
        #expect(
            f.fix?.edit
                == .insertFirst(
                    ChainRef(family: "inet", table: "filter", chain: "input"), rule: "iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop"))
        // Without it (an established-only accept never matches a new connection), deleting rule 7 closes the port.
        let g = try #require(
            try audit([redis], ExampleRule.firewall([ExampleRule.established(2), ExampleRule.port(7, .tcp, 6379)])).first { $0.ruleId == "PW1006" })
        #expect(g.remediation.contains("`nft delete rule inet filter input handle 7`"), "\(g.remediation)")
    }

    @Test func aLaterVerdictMapKeepsTheDeletionFromClosing() throws {
        // `tcp dport vmap { 6379 : accept }` after the accept: deleting rule 7 would leave 6379 open through the map.
        let vmap = Rule(
            handle: 9,
            expressions: [
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                .lookup(Lookup(sreg: 1, dreg: 0, set: "__map0"))
            ])
        var fw = ExampleRule.firewall([ExampleRule.established(2), ExampleRule.port(7, .tcp, 6379), vmap])
        fw.tables[0].sets = [
            NFTSet(
                name: "__map0", flags: 0x9, keyType: 13, keyLength: 2, dataType: 0xffff_ff00, dataLength: 16,
                elements: [SetElement(key: Bytes([0x18, 0xeb]), verdict: .accept)])
        ]
        #expect(Evaluator.rules(of: fw).last?.verdict == .map("__map0"))
        let f = try #require(try audit([redis], fw).first { $0.ruleId == "PW1006" })
        #expect(!f.remediation.contains("nft delete rule"), "\(f.remediation)")
        #expect(
            f.fix?.edit
                == .insertFirst(
                    ChainRef(family: "inet", table: "filter", chain: "input"), rule: "iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop"))
    }

    @Test func anAcceptInARegularChainGetsADropOnTopOfTheInputChainThatJumpsThere() throws {
        // svc may be jumped to from forward too: a drop inside it would also drop forwarded traffic.
        var fw = ExampleRule.firewall([Rule(handle: 3, expressions: [.immediate(Immediate(dreg: 0, verdict: .jump("svc")))])])
        fw.tables[0].chains.append(Chain(name: "svc", rules: [ExampleRule.port(5, .tcp, 6379)]))
        let f = try #require(try audit([redis], fw).first { $0.ruleId == "PW1006" })
        #expect(
            f.remediation.contains("`nft insert rule inet filter input 'iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop'`"),
            "\(f.remediation)")
        // Without the jump on the path, no command: the rule to add is named, not pasted into a chain forward may share.
        let step = PathStep(
            table: "filter", family: .table(.inet), chain: "svc", hook: .hook(.input), priority: 0, handle: 5, action: .accept)
        let reach = ListenerReach.example(.tcp, "0.0.0.0:6379", .public, process: "redis-server", path: [step])
        let text = closeRemediation(reach, rules: Evaluator.rules(of: fw))
        #expect(!text.contains("`nft "), "\(text)")
        #expect(
            text.contains("(`iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop`) in front of the accepting rule #5 of inet filter svc"),
            "\(text)")
    }

    @Test func aSpecificBindDropsOnlyItsAddress() throws {
        let l = Listener(
            proto: .tcp, family: .ipv4, address: "192.0.2.1", port: 6379, uid: 999, processes: [ProcessInfo(pid: 812, name: "redis-server")])
        let f = try #require(try audit([l], ExampleRule.firewall(policy: .accept, [])).first { $0.ruleId == "PW1006" })
        #expect(f.remediation.contains("'iifname != \"lo\" ip daddr 192.0.2.1 tcp dport 6379 drop'"), "\(f.remediation)")
    }

    @Test func shadowedRuleMoveQuotesTheWholeRule() throws {
        let fw = ExampleRule.firewall([ExampleRule.port(2, .tcp, nil), ExampleRule.port(3, .tcp, 6379, .drop)])
        let f = try #require(try audit([], fw).first { $0.ruleId == "PW1017" })
        #expect(
            f.remediation == "Move rule #3 above #2: `nft insert rule inet filter input position 2 'tcp dport 6379 counter drop'`, then "
                + "`nft delete rule inet filter input handle 3`; or delete it: `nft delete rule inet filter input handle 3`.")
        #expect(!f.remediation.contains("…"))
    }

    @Test func inputAcceptsAllNamesTheHostsOwnChain() throws {
        let fw = Firewall(
            status: .ok, generation: 1,
            tables: [
                Table(
                    family: .ip, name: "fw",
                    chains: [
                        Chain(
                            name: "INPUT", base: BaseChain(type: "filter", hook: .input, priority: 0, policy: .accept),
                            rules: [ExampleRule.port(2, .tcp, 22)])
                    ])
            ])
        let f = try #require(try audit([], fw).first { $0.ruleId == "PW1014" })
        #expect(f.remediation.contains("`nft chain ip fw INPUT '{ policy drop; }'`"), "\(f.remediation)")
        #expect(!f.remediation.contains("inet filter"))
    }

    @Test func reservingAPortKeepsThePortsReservedToday() throws {
        let l = Listener(proto: .tcp, family: .ipv4, address: "127.0.0.1", port: 45000, processes: [ProcessInfo(pid: 5, name: "app")])
        let sysctls = Sysctls(
            ipLocalPortRange: PortRange(first: 32768, last: 60999),
            ipLocalReservedPorts: [PortRange(first: 8080, last: 8080), PortRange(first: 40000, last: 40010)])
        let f = try #require(try audit([l], ExampleRule.firewall([]), sysctls: sysctls).first { $0.ruleId == "PW1010" })
        #expect(f.remediation.contains("`sysctl -w net.ipv4.ip_local_reserved_ports=8080,40000-40010,45000`"), "\(f.remediation)")
    }

    @Test func shellQuotingSurvivesSingleQuotes() {
        #expect(shellQuoted("log prefix \"it's\" accept") == "'log prefix \"it'\\''s\" accept'")
    }
}
