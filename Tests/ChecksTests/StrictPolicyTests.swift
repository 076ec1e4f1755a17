import HostModel
import Policy
import Testing
@testable import Checks

/// A policy is strict about what it names: a check that does not exist is an error at the name's place with the
/// nearest valid id, and a suppression's `port:` waives that port only, for rule findings too.
@Suite struct StrictPolicyTests {
    @Test(arguments: [("PW1O06", "PW1006"), ("PW9999", nil), ("sensitive-service-exposd", "sensitive-service-exposed")] as [(String, String?)])
    func unknownCheckInChecksIsAnErrorAtItsName(_ name: String, _ nearest: String?) throws {
        let text = "version: 1\nchecks:\n  PW1001: {severity: low}\n  \(name): {severity: low}\n"
        let policy = try PolicyLoader.parse(text, file: "p.yaml")
        do {
            try CheckNames.validate(policy)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.location == SourceLocation(file: "p.yaml", line: 4, column: 3))
            #expect(error.description.contains("unknown check '\(name)'"), "\(error)")
            if let nearest { #expect(error.description.hasSuffix("did you mean '\(nearest)'?"), "\(error)") }
        }
    }

    @Test func unknownCheckInSuppressionsIsAnErrorAtTheRuleValue() throws {
        let text = "version: 1\nsuppressions:\n  - rule: undeclared-listenr\n    reason: typo\n"
        let policy = try PolicyLoader.parse(text, file: "p.yaml")
        #expect(throws: PolicyError.self) { try CheckNames.validate(policy) }
        do { try CheckNames.validate(policy) } catch {
            #expect(error.location == SourceLocation(file: "p.yaml", line: 3, column: 11))
            #expect(error.description.hasSuffix("did you mean 'undeclared-listener'?"), "\(error)")
        }
    }

    @Test func everyIdAndSlugOfTheCatalogIsAccepted() throws {
        let names = builtInChecks.flatMap { [$0.metadata.id, $0.metadata.slug] }
        let text = "version: 1\nchecks:\n" + names.map { "  \($0): {severity: low}\n" }.joined()
        try CheckNames.validate(try PolicyLoader.parse(text, file: "p.yaml"))
    }

    @Test func suppressionPortMatchesARuleFindingsPortOnly() throws {
        // Two accepts of tcp/22: the second is redundant (PW1018, a rule finding whose message says "22").
        let fw = ExampleRule.firewall(policy: .drop, [ExampleRule.port(4, .tcp, 22), ExampleRule.port(7, .tcp, 22)])
        let host = ExampleHost([])
        var snapshot = host.snapshot
        snapshot.firewall = fw
        func suppressed(_ port: UInt16, proto: String = "tcp") throws -> Bool {
            let policy = try PolicyLoader.parse(
                "version: 1\nsuppressions:\n  - {rule: redundant-rule, port: \(port), proto: \(proto), reason: r}\n", file: "p.yaml")
            let r = Auditor.run(AuditContext(snapshot: snapshot, reaches: [], policy: policy, today: try #require(PolicyDate("2026-12-01"))))
            let f = try #require(r.findings.first { $0.ruleId == "PW1018" })
            #expect(f.rule?.handle == 7)
            return f.isSuppressed
        }
        #expect(try suppressed(22))
        #expect(try !suppressed(2))  // a substring of "22" in the message is not the port
        #expect(try !suppressed(222))
        #expect(try !suppressed(22, proto: "udp"))
    }

    @Test func policyWarningsAreCaveatsOfEveryAudit() throws {
        let policy = try PolicyLoader.parse("version: 1\nhosts: [\"db-*\"]\n", file: "p.yaml", hostname: "web-01")
        let r = Auditor.run(
            AuditContext(snapshot: ExampleHost([]).snapshot, reaches: [], policy: policy, today: try #require(PolicyDate("2026-12-01"))),
            caveats: ["from the evaluator"])
        #expect(r.caveats == policy.warnings + ["from the evaluator"])
        #expect(r.caveats.first?.contains("does not match this host 'web-01'") == true)
    }
}
