import Foundation
import HostModel
import Evaluator
import Policy
import Checks
import Testing
@testable import Reporting
@testable import Diffing

/// The gate sees widened exposure: a finding present on both sides whose exposure or severity grew counts for
/// `--fail-on` like a new one. Hosts are the recorded fixture's interfaces and routes with a hand-built ruleset, so the
/// real evaluator and the real checks (built-in policy) decide; narrowing must never fail.
@Suite struct WideningTests {
    static func listener(_ address: String, _ port: UInt16, _ name: String, v6only: Bool = false) -> Listener {
        Listener(
            proto: .tcp, family: address.contains(":") ? .ipv6 : .ipv4, address: address, port: port, v6only: v6only, uid: 70,
            processes: [ProcessInfo(pid: 900, name: name)])
    }

    /// The fixture host (eth0 192.0.2.10 + 2001:db8::10, eth1 198.51.100.1) with one listener and `rules` after
    /// `ct state established,related accept; iifname "lo" accept` in a drop-policy input chain.
    static func host(_ l: Listener, _ rules: [Rule]) throws -> Snapshot {
        var s = try DiffGoldenTests.snapshot("old.json")
        s.listeners = [l]
        s.firewall = ExampleRule.firewall([ExampleRule.established(1), ExampleRule.iifname(2, "lo")] + rules)
        return s
    }

    /// `iifname "<name>" tcp dport <port> accept`
    static func onInterface(_ handle: UInt64, _ name: String, _ port: UInt16) -> Rule {
        let iif = ExampleRule.iifname(handle, name).expressions.dropLast()
        return Rule(handle: handle, expressions: Array(iif) + ExampleRule.port(handle, .tcp, port).expressions)
    }

    /// `meta nfproto ipv4 tcp dport <port> accept`
    static func ipv4Only(_ handle: UInt64, _ port: UInt16) -> Rule {
        let nfproto: [HostModel.Expression] = [.meta(Meta(key: 15, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([2])))]
        return Rule(handle: handle, expressions: nfproto + ExampleRule.port(handle, .tcp, port).expressions)
    }

    static func diff(_ old: Snapshot, _ new: Snapshot) throws -> SnapshotDiff {
        SnapshotDiffer.diff(old: old, new: new, policy: try PolicyLoader.builtInDefault(), today: PolicyDate(year: 2026, month: 11, day: 25))
    }

    static func gate(_ d: SnapshotDiff, _ threshold: Severity = .medium) -> Int {
        d.newAudit.failing(threshold: threshold, includeConditional: false).count
    }

    static let postgres = listener("0.0.0.0", 5432, "postgres")
    static let subnetOnly = [ExampleRule.source(3, "198.51.100.0/24", .tcp, 5432)]
    static let world = [ExampleRule.port(3, .tcp, 5432)]

    @Test func databaseFromOneSubnetToTheWorldFailsTheGate() throws {
        let d = try Self.diff(try Self.host(Self.postgres, Self.subnetOnly), try Self.host(Self.postgres, Self.world))
        #expect(d.newFindings.isEmpty, "PW1006 existed before: it is widened, not new")
        let w = try #require(d.widenedFindings.first { $0.finding.ruleId == "PW1006" })
        #expect(w.finding.subject == "listener/tcp/0.0.0.0:5432")
        let sources = try #require(w.widenings.first { $0.kind == .sources })
        #expect(sources.text == "now also reachable from anywhere except 198.51.100.0/24")
        #expect(Self.gate(d) >= 1)
        #expect(Self.gate(d, .high) >= 1)
        #expect(DiffReport.text(d, oldLabel: "a", newLabel: "b").contains("^ HIGH PW1006 widened:"))
        let text = try DiffReport.json(d, oldLabel: "a", newLabel: "b", toolVersion: "t")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let widened = (json["findings"] as? [String: Any])?["widened"] as? [[String: Any]]
        #expect(widened?.contains { ($0["finding"] as? [String: Any])?["ruleId"] as? String == "PW1006" } == true)
        #expect((json["summary"] as? [String: Any])?["widenedFindings"] as? Int == d.widenedFindings.count)
        #expect(d.baselineMarks[w.finding.fingerprint]?.state == .updated)
    }

    @Test func narrowingExitsZero() throws {
        let d = try Self.diff(try Self.host(Self.postgres, Self.world), try Self.host(Self.postgres, Self.subnetOnly))
        #expect(d.listeners.first?.changes.map(\.kind) == [.narrowerSources])
        #expect(d.widenedFindings.isEmpty && d.newFindings.isEmpty)
        #expect(Self.gate(d, .info) == 0)
    }

    @Test func unchangedFindingDoesNotFail() throws {
        let d = try Self.diff(try Self.host(Self.postgres, Self.world), try Self.host(Self.postgres, Self.world))
        #expect(d.widenedFindings.isEmpty && Self.gate(d, .info) == 0)
    }

    @Test func wideningByInterface() throws {
        let d = try Self.diff(
            try Self.host(Self.postgres, [Self.onInterface(3, "eth1", 5432)]),
            try Self.host(Self.postgres, [Self.onInterface(3, "eth1", 5432), Self.onInterface(4, "eth0", 5432)]))
        let w = try #require(d.widenedFindings.first { $0.finding.ruleId == "PW1006" })
        #expect(w.widenings.map(\.kind) == [.interfaces])
        #expect(w.widenings.first?.items == ["eth0"])
        #expect(Self.gate(d) >= 1)
        // And back: one interface fewer is narrowing.
        let back = try Self.diff(
            try Self.host(Self.postgres, [Self.onInterface(3, "eth1", 5432), Self.onInterface(4, "eth0", 5432)]),
            try Self.host(Self.postgres, [Self.onInterface(3, "eth1", 5432)]))
        #expect(back.widenedFindings.isEmpty && Self.gate(back, .info) == 0)
    }

    @Test func wideningByFamily() throws {
        let dual = Self.listener("::", 5432, "postgres")
        let d = try Self.diff(try Self.host(dual, [Self.ipv4Only(3, 5432)]), try Self.host(dual, [ExampleRule.port(3, .tcp, 5432)]))
        let w = try #require(d.widenedFindings.first { $0.finding.ruleId == "PW1006" })
        #expect(w.widenings.map(\.kind) == [.families])
        #expect(w.widenings.first?.items == ["ipv6"])
        #expect(Self.gate(d) >= 1)
    }

    @Test func wideningBySeverity() throws {
        // Redis is a critical entry: from a private range it is high, from any address critical.
        let redis = Self.listener("0.0.0.0", 6379, "redis-server")
        let d = try Self.diff(
            try Self.host(redis, [ExampleRule.source(3, "10.0.0.0/8", .tcp, 6379)]),
            try Self.host(redis, [ExampleRule.port(3, .tcp, 6379)]))
        let w = try #require(d.widenedFindings.first { $0.finding.ruleId == "PW1006" })
        #expect(w.previousSeverity == .high && w.finding.severity == .critical)
        #expect(w.widenings.map(\.kind).contains(.severity))
        #expect(Self.gate(d, .critical) == 1, "only the widened critical finding reaches critical")
    }

    @Test func gateCountsWidenedAndNewTogether() throws {
        var new = try Self.host(Self.postgres, Self.world + [ExampleRule.port(4, .tcp, 6379)])
        new.listeners.append(Self.listener("0.0.0.0", 6379, "redis-server"))
        let d = try Self.diff(try Self.host(Self.postgres, Self.subnetOnly), new)
        #expect(d.newFindings.map(\.subject).contains("listener/tcp/0.0.0.0:6379"))
        #expect(d.widenedFindings.map(\.finding.subject) == ["listener/tcp/0.0.0.0:5432"])
        #expect(Self.gate(d, .critical) == 1, "the new public Redis is critical; the widened PostgreSQL is high")
        #expect(Self.gate(d, .high) == d.newFindings.filter { $0.severity >= .high }.count + 1)
        #expect(d.newAudit.findings.count == d.newFindings.count + d.widenedFindings.count)
        let reported = Set(d.widenedFindings.map(\.finding.fingerprint)).union(d.newFindings.map(\.fingerprint))
        #expect(Set(d.newAudit.findings.map(\.fingerprint)) == reported)
    }
}

/// `FindingWidener` on findings alone: the rule `audit --baseline` uses against an earlier report.
@Suite struct FindingWidenerTests {
    static func finding(
        _ severity: Severity = .high, exposure: String = "restricted", sources: [String] = ["198.51.100.0/24"],
        interfaces: [String] = ["eth0"], conditional: Bool = false
    ) -> Finding {
        Finding(
            ruleId: "PW1006", slug: "sensitive-service-exposed", severity: severity, message: "m", subject: "listener/tcp/0.0.0.0:5432",
            evidence: Evidence(exposure: exposure, interfaces: interfaces, sources: sources), remediation: "r", conditional: conditional)
    }

    @Test func eachKind() {
        let base = Self.finding()
        func kinds(_ new: Finding) -> [WideningKind] { FindingWidener.widenings(old: base, new: new).map(\.kind) }
        #expect(kinds(Self.finding(sources: ["198.51.100.0/24", "203.0.113.0/24"])) == [.sources])
        #expect(kinds(Self.finding(interfaces: ["eth0", "eth1"])) == [.interfaces])
        #expect(kinds(Self.finding(sources: ["198.51.100.0/24", "2001:db8::/32"])) == [.families])
        #expect(kinds(Self.finding(.critical)) == [.severity])
        #expect(FindingWidener.widenings(old: Self.finding(conditional: true), new: base).map(\.kind) == [.certain])
        let local = Self.finding(exposure: "localOnly", sources: [], interfaces: [])
        #expect(FindingWidener.widenings(old: local, new: base).map(\.kind) == [.reachable])
        let moved = FindingWidener.widenings(old: base, new: Self.finding(sources: ["203.0.113.0/24"]))
        #expect(moved.map(\.kind) == [.sources] && moved.first?.items == ["203.0.113.0/24"], "other sources than before are new exposure")
    }

    @Test func narrowingAndRewordingAreNotWidening() {
        let wide = Self.finding(.critical, exposure: "public", sources: ["0.0.0.0/0"], interfaces: ["eth0", "eth1"])
        #expect(FindingWidener.widenings(old: wide, new: Self.finding()).isEmpty)
        var reworded = Self.finding()
        reworded.message = "different words, same exposure"
        #expect(FindingWidener.widenings(old: Self.finding(), new: reworded).isEmpty)
        #expect(FindingWidener.widenings(old: Self.finding(sources: ["198.51.100.0/23"]), new: Self.finding()).isEmpty)
    }

    @Test func unparsableSourceCountsAsWider() {
        let w = FindingWidener.widenings(old: Self.finding(), new: Self.finding(sources: ["198.51.100.0/24", "@dynamic-set"]))
        #expect(w.map(\.kind) == [.sources] && w.first?.items == ["@dynamic-set"])
    }

    @Test func baselineMarks() {
        let unchanged = Self.finding()
        let updated = Finding(
            ruleId: "PW1001", slug: "undeclared-listener", severity: .high, message: "m", subject: "listener/tcp/0.0.0.0:22",
            evidence: Evidence(exposure: "public", interfaces: ["eth0"], sources: ["0.0.0.0/0"]), remediation: "r")
        var before = updated
        before.evidence = Evidence(exposure: "restricted", interfaces: ["eth0"], sources: ["198.51.100.0/24"])
        let new = Finding(ruleId: "PW1013", slug: "x", severity: .low, message: "m", subject: "host/firewall", remediation: "r")
        let marks = FindingWidener.marks(baseline: [unchanged, before], current: [unchanged, updated, new])
        #expect(marks[unchanged.fingerprint]?.state == .unchanged)
        #expect(marks[updated.fingerprint]?.state == .updated)
        #expect(marks[updated.fingerprint]?.widened.isEmpty == false)
        #expect(marks[new.fingerprint]?.state == .new)
    }
}
