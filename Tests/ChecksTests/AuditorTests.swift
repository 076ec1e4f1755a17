import Foundation
import HostModel
import Evaluator
import Policy
import Testing
@testable import Checks

@Suite struct AuditorTests {
    let redis = ListenerReach.example(.tcp, "0.0.0.0:6379", .public, process: "redis-server", pid: 812, uid: 999)

    func run(_ policy: String, _ reaches: [ListenerReach], options: AuditOptions = AuditOptions()) throws -> AuditResult {
        let p = try PolicyLoader.parse(policy, file: "p.yaml")
        let host = ExampleHost(reaches)
        return Auditor.run(AuditContext(snapshot: host.snapshot, reaches: reaches, policy: p, today: today), options: options)
    }

    @Test func severityGradedByExposure() throws {
        let open = try run("version: 1\n", [redis])
        #expect(open.findings.first { $0.ruleId == "PW1006" }?.severity == .critical)
        let subnet = ListenerReach.example(.tcp, "0.0.0.0:6379", .restricted, process: "redis-server", sources: ["10.0.0.0/8"])
        #expect(try run("version: 1\n", [subnet]).findings.first { $0.ruleId == "PW1006" }?.severity == .high)
        let oneHost = ListenerReach.example(.tcp, "0.0.0.0:6379", .restricted, process: "redis-server", sources: ["192.0.2.7"])
        #expect(try run("version: 1\n", [oneHost]).findings.first { $0.ruleId == "PW1006" }?.severity == .medium)
        let undeclared = try run("version: 1\n", [ListenerReach.example(.tcp, "0.0.0.0:8080", .public)])
        #expect(undeclared.findings.first { $0.ruleId == "PW1001" }?.severity == .high)
    }

    @Test func undeclaredListenerPointsAtTheListenersSection() throws {
        let r = try run("version: 1\n\nlisteners:\n  - {proto: tcp, port: 22}\n", [ListenerReach.example(.tcp, "0.0.0.0:8080", .public)])
        let f = try #require(r.findings.first { $0.ruleId == "PW1001" })
        #expect(f.policyLocation == SourceLocation(file: "p.yaml", line: 3, column: 1))
    }

    @Test func overridesDisableAndIgnore() throws {
        let r = try run("version: 1\nchecks: {PW1006: {severity: low}, undeclared-listener: {disabled: true}}\n", [redis])
        #expect(r.findings.first { $0.ruleId == "PW1006" }?.severity == .low)
        #expect(!r.findings.contains { $0.ruleId == "PW1001" })
        #expect(!r.checks.contains { $0.id == "PW1001" })
        let ignored = try run("version: 1\n", [redis], options: AuditOptions(ignore: ["sensitive-service-exposed"]))
        #expect(!ignored.findings.contains { $0.ruleId == "PW1006" })
    }

    @Test func suppressionsStayVisibleAndExpire() throws {
        let r = try run(
            """
            version: 1
            suppressions:
              - {rule: PW1006, port: 6379, reason: "cache for the lab, isolated VLAN"}
              - {rule: PW1001, port: 6379, reason: old waiver, expires: 2025-01-01}
            """, [redis])
        let pw1006 = try #require(r.findings.first { $0.ruleId == "PW1006" })
        #expect(pw1006.suppression?.reason == "cache for the lab, isolated VLAN")
        #expect(pw1006.suppression?.location.line == 3)
        #expect(r.findings.first { $0.ruleId == "PW1001" }?.isSuppressed == false, "an expired suppression no longer suppresses")
        #expect(r.findings.contains { $0.ruleId == "PW1022" && $0.policyLocation?.line == 4 })
        #expect(r.counts.values.reduce(0, +) == r.findings.filter { !$0.isSuppressed }.count, "suppressed findings are not counted")
        #expect(r.failing(threshold: .high, includeConditional: false).allSatisfy { $0.ruleId != "PW1006" })
    }

    @Test func conditionalFindingsFailOnlyWhenAsked() throws {
        let cond = ListenerReach.example(.tcp, "0.0.0.0:6379", .conditional, process: "redis-server", sources: [], reasons: ["limit"])
        let r = try run("version: 1\n", [cond])
        let f = try #require(r.findings.first { $0.ruleId == "PW1006" })
        #expect(f.conditional)
        #expect(f.severity == .high, "critical lowered one step because the verdict is conditional")
        #expect(r.failing(threshold: .low, includeConditional: false).isEmpty)
        #expect(!r.failing(threshold: .low, includeConditional: true).isEmpty)
    }

    @Test func fingerprintIgnoresPidsAndMessages() throws {
        let a = try run("version: 1\n", [redis])
        let moved = ListenerReach.example(.tcp, "0.0.0.0:6379", .restricted, process: "redis-server", pid: 4242, uid: 999, sources: ["0.0.0.0/1"])
        let b = try run("version: 1\n", [moved])
        let fa = try #require(a.findings.first { $0.ruleId == "PW1006" })
        let fb = try #require(b.findings.first { $0.ruleId == "PW1006" })
        #expect(fa.message != fb.message)
        #expect(fa.fingerprint == fb.fingerprint)
        #expect(fa.fingerprint.count == 32)
        #expect(Fingerprint.of(ruleId: "PW1001", subject: "x") != Fingerprint.of(ruleId: "PW1002", subject: "x"))
        #expect(r2 == Fingerprint.of(ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379"))
        let baseline = Set([fa.fingerprint])
        #expect(b.failing(threshold: .low, includeConditional: false, baseline: baseline).allSatisfy { $0.ruleId != "PW1006" })
    }
    var r2: String { Fingerprint.of(ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") }

    @Test func findingsAreSortedBySeverity() throws {
        let r = try run("version: 1\n", [redis, ListenerReach.example(.tcp, "0.0.0.0:8080", .public)])
        let sev = r.findings.map(\.severity)
        #expect(sev == sev.sorted(by: >))
    }
}

/// The whole path with the real evaluator: snapshot → exposure → checks.
@Suite struct EvaluatorAuditTests {
    static let interfaces = [
        Interface(
            index: 1, name: "lo", flags: ["up", "loopback"],
            addresses: [InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host")]),
        Interface(index: 2, name: "eth0", flags: ["up"], addresses: [InterfaceAddress(family: .ipv4, address: "192.0.2.1", prefixLength: 24)])
    ]
    static let routes = Routing(routes: [
        Route(family: .ipv4, table: 254, type: "unicast", destination: "192.0.2.0", prefixLength: 24, device: "eth0", deviceIndex: 2),
        Route(family: .ipv4, table: 255, type: "local", destination: "192.0.2.1", prefixLength: 32, device: "eth0", deviceIndex: 2),
        Route(family: .ipv4, table: 255, type: "local", destination: "127.0.0.0", prefixLength: 8, device: "lo", deviceIndex: 1)
    ])

    func snapshot(_ listeners: [Listener], firewall: Firewall) -> Snapshot {
        Snapshot(
            host: HostInfo(hostname: "h", kernel: "6.12", collectedAt: "2026-11-25T00:00:00Z", toolVersion: "t"),
            listeners: listeners, interfaces: Self.interfaces, routes: Self.routes,
            sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipUnprivilegedPortStart: 1024), firewall: firewall)
    }

    let redis = Listener(
        proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 6379, uid: 999, processes: [ProcessInfo(pid: 812, name: "redis-server")])
    let sshd = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 22, processes: [ProcessInfo(pid: 1, name: "sshd")])
    let local = Listener(proto: .tcp, family: .ipv4, address: "127.0.0.1", port: 5432, uid: 70, processes: [ProcessInfo(pid: 2, name: "postgres")])

    @Test func noFirewallMakesRedisPublic() throws {
        let s = snapshot([redis, sshd, local], firewall: Firewall(status: .absent))
        let ctx = AuditContext(snapshot: s, policy: try PolicyLoader.builtInDefault(), today: today)
        #expect(ctx.reaches.first { $0.listener.port == 6379 }?.summary == .public)
        #expect(ctx.reaches.first { $0.listener.port == 5432 }?.summary == .localOnly)
        let r = Auditor.run(ctx)
        let ids = r.findings.map { "\($0.ruleId) \($0.subject)" }
        #expect(ids == ["PW1006 listener/tcp/0.0.0.0:6379", "PW1013 host/firewall"])
        let redisFinding = try #require(r.findings.first)
        #expect(redisFinding.severity == .critical)
        // No input chain at all: the command creates one (valid nft, checked in a namespace by FixCommandTests).
        #expect(
            redisFinding.remediation.contains(
                #"`nft 'add table inet portwarden; add chain inet portwarden input { type filter hook input priority filter; policy accept; }; add rule inet portwarden input iifname != "lo" meta nfproto ipv4 tcp dport 6379 drop'`"#
            ),
            "\(redisFinding.remediation)")
    }

    @Test func acceptRuleGivesDeleteCommand() throws {
        let fw = ExampleRule.firewall(policy: .drop, [ExampleRule.port(4, .tcp, 22), ExampleRule.port(7, .tcp, 6379)])
        let s = snapshot([redis, sshd], firewall: fw)
        let ctx = AuditContext(snapshot: s, policy: try PolicyLoader.builtInDefault(), today: today)
        let r = Auditor.run(ctx)
        let f = try #require(r.findings.first { $0.ruleId == "PW1006" })
        #expect(f.remediation.contains("nft delete rule inet filter input handle 7"), "\(f.remediation)")
        #expect(f.evidence?.path.contains { $0.contains("#7") } == true, "\(f.evidence?.path ?? [])")
        #expect(!r.findings.contains { $0.ruleId == "PW1013" || $0.ruleId == "PW1014" })
    }

    /// The listed sources stop after 64 ranges; the check judges the exact sets, so a source beyond them still counts.
    @Test func aSourceBeyondTheListedRangesIsStillTooWide() throws {
        let pg = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 5432, uid: 70, processes: [ProcessInfo(pid: 2, name: "postgres")])
        var rules = (0..<70).map { i in ExampleRule.source(UInt64(10 + i), "10.0.0.\(2 * i + 1)/32", .tcp, 5432) }
        rules.append(ExampleRule.source(200, "192.0.2.200/32", .tcp, 5432))
        let s = snapshot([pg], firewall: ExampleRule.firewall(policy: .drop, rules))
        let policy = try PolicyLoader.parse(
            "version: 1\nlisteners: [{proto: tcp, port: 5432, exposure: {sources: [10.0.0.0/8]}}]\n", file: "p.yaml")
        let ctx = AuditContext(snapshot: s, policy: policy, today: today)
        let reach = try #require(ctx.reaches.first { $0.listener.port == 5432 })
        #expect(reach.sources.count == ExposureRegion.maxListed, "the display list is cut: \(reach.sources.count)")
        #expect(!reach.sources.contains("192.0.2.200"))
        #expect(reach.sourceSets.map { $0.ranges.count } == [71])
        let r = Auditor.run(ctx)
        let f = try #require(r.findings.first { $0.ruleId == "PW1004" }, "\(r.findings.map(\.ruleId))")
        #expect(f.message.contains("sources outside 10.0.0.0/8"), "\(f.message)")
        // Only the 10.0.0.0/8 hosts: within the policy, nothing to report.
        let inside = snapshot([pg], firewall: ExampleRule.firewall(policy: .drop, Array(rules.dropLast())))
        #expect(!Auditor.run(AuditContext(snapshot: inside, policy: policy, today: today)).findings.contains { $0.ruleId == "PW1004" })
        #expect(reach.width == .singleHosts)
    }

    @Test func ruleFactsDecodeNftExpressions() {
        let fw = ExampleRule.firewall([ExampleRule.iifname(1, "lo"), ExampleRule.established(2), ExampleRule.port(3, .tcp, 22)])
        let facts = Evaluator.rules(of: fw)
        #expect(facts.map(\.nft) == ["iifname \"lo\" accept", "ct state established,related accept", "tcp dport 22 counter accept"])
        #expect(facts.map(\.text) == ["`iifname \"lo\" accept`", "`ct state established,related accept`", "`tcp dport 22 counter accept`"])
        #expect(facts[2].ref.deleteCommand == "nft delete rule inet filter input handle 3")
    }
}

@Suite struct RuleMatchTests {
    @Test func sourcePrefixesAsNftGeneratesThem() {
        let fw = ExampleRule.firewall([
            ExampleRule.source(1, "10.0.0.0/8", .tcp, 22), ExampleRule.source(2, "10.20.16.0/20", nil, nil),
            ExampleRule.source(3, "192.0.2.7/32", .udp, 53)
        ])
        let facts = Evaluator.rules(of: fw)
        #expect(facts.map(\.sourceTexts) == [["10.0.0.0/8"], ["10.20.16.0/20"], ["192.0.2.7"]])
        #expect(facts.map { $0.sources?.map(\.prefixLength) } == [[8], [20], [32]])
        #expect(facts.map(\.nfproto) == [.ipv4, .ipv4, .ipv4])
        #expect(facts[0].dports == [PortRange(first: 22, last: 22)])
        #expect(facts.allSatisfy { $0.opaque.isEmpty })
    }

    @Test func unknownExpressionsAreKeptAsOpaque() {
        let rule = Rule(
            handle: 7,
            expressions: [.limit(Limit(rate: 10, unit: 60, burst: 5, type: 0, inverted: false)), .immediate(Immediate(dreg: 0, verdict: .accept))])
        let facts = Evaluator.rules(of: ExampleRule.firewall([rule]))
        #expect(facts.first?.opaque == ["limit"])
        #expect(facts.first?.matchesAnyTraffic == false)
    }
}
