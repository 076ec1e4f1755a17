import Foundation
import HostModel
import Evaluator
import Policy
import Testing
import Checks
@testable import RulesetSource

/// Findings about a candidate ruleset name FILE:LINE and fix the file: the candidate's handles belong to the
/// throwaway namespace it was loaded into and must never be quoted as commands.
@Suite struct CandidateFixesTests {
    static let text = """
        flush ruleset
        table inet filter {
        \tchain input {
        \t\ttype filter hook input priority filter; policy drop;
        \t\ttcp dport 22 counter accept
        \t\ttcp dport 6379 counter accept
        \t\ttcp dport 9999 counter accept
        \t\tmeta l4proto tcp counter accept
        \t\ttcp dport 8080 counter drop
        \t}
        }

        """

    static func snapshot(_ fw: Firewall) -> Snapshot {
        let sshd = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 22, processes: [ProcessInfo(pid: 1, name: "sshd")])
        let redis = Listener(
            proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 6379, uid: 999, processes: [ProcessInfo(pid: 812, name: "redis-server")])
        return Snapshot(
            host: HostInfo(hostname: "h", kernel: "6.12", collectedAt: "2026-11-25T00:00:00Z", toolVersion: "t"),
            listeners: [sshd, redis],
            interfaces: [
                Interface(index: 1, name: "lo", flags: ["up", "loopback"]),
                Interface(index: 2, name: "eth0", flags: ["up"], addresses: [InterfaceAddress(family: .ipv4, address: "192.0.2.1", prefixLength: 24)])
            ],
            firewall: fw)
    }

    func located() throws -> [Finding] {
        // Handles as a namespace would number them: nothing like the host's.
        let fw = ExampleRule.firewall([
            ExampleRule.port(41, .tcp, 22), ExampleRule.port(42, .tcp, 6379), ExampleRule.port(43, .tcp, 9999),
            ExampleRule.port(44, .tcp, nil), ExampleRule.port(45, .tcp, 8080, .drop)
        ])
        var map = RulesetSourceMap(text: Self.text, file: "/repo/conf/nftables.conf")
        map.bind(to: fw)
        let ctx = AuditContext(
            snapshot: Self.snapshot(fw), policy: try PolicyLoader.builtInDefault(), today: PolicyDate(year: 2026, month: 12, day: 1))
        let findings = Auditor.run(ctx).findings
        return map.locating(findings, reaches: ctx.reaches, baseDirectory: "/repo")
    }

    @Test func findingsNameTheLineAndEditTheFile() throws {
        let found = try located()
        let redis = try #require(found.first { $0.ruleId == "PW1006" })
        #expect(redis.rulesetLocation == SourceLocation(file: "conf/nftables.conf", line: 6, column: 3))
        // Rule 8 (any tcp port) would still accept 6379 after deleting line 6: the fix adds a drop on top of the chain.
        #expect(
            redis.remediation.hasSuffix(
                "or close it: edit conf/nftables.conf: add `iifname != \"lo\" meta nfproto ipv4 tcp dport 6379 drop` "
                    + "as the first rule of chain input of table inet filter (declared at conf/nftables.conf:3)."), "\(redis.remediation)")
        let stale = try #require(found.first { $0.ruleId == "PW1019" })
        #expect(stale.rulesetLocation?.line == 7)
        #expect(stale.remediation == "Delete the opening: edit conf/nftables.conf:7: delete this rule (`tcp dport 9999 counter accept`).")
        let shadowed = try #require(found.first { $0.ruleId == "PW1017" })
        #expect(shadowed.rulesetLocation?.line == 9)
        #expect(shadowed.remediation == "Edit conf/nftables.conf: move the rule at line 9 above the rule at line 8, or delete it.")
        // The message names the lines, not the namespace's handles.
        #expect(
            shadowed.message.hasPrefix(
                "Rule at conf/nftables.conf:9 in inet filter input (`tcp dport 8080 counter drop`) never matches: rule at conf/nftables.conf:8"),
            "\(shadowed.message)")
        #expect(redis.evidence?.path.first?.hasPrefix("inet filter input at conf/nftables.conf:6 ") == true, "\(redis.evidence?.path ?? [])")
        for f in found where f.fix != nil {
            #expect(!f.remediation.contains("nft "), "\(f.ruleId): \(f.remediation)")
            #expect(!f.remediation.contains("handle") && !f.remediation.contains("position"), "\(f.ruleId): \(f.remediation)")
        }
    }

    @Test func anUnmappedChainPointsAtItsDeclarationNeverAtAGuessedLine() throws {
        // `insert rule` makes the chain's order unknown to the map: the fix names the chain, not a line.
        var map = RulesetSourceMap(text: Self.text + "insert rule inet filter input udp dport 53 accept\n", file: "/repo/conf/nftables.conf")
        let fw = ExampleRule.firewall([ExampleRule.port(40, .udp, 53), ExampleRule.port(41, .tcp, 22), ExampleRule.port(42, .tcp, 6379)])
        map.bind(to: fw)
        let fix = RulesetFix(
            lead: "Close it:",
            edit: .delete(FindingRule(family: "inet", table: "filter", chain: "input", handle: 42), text: "`tcp dport 6379 counter accept`"))
        #expect(
            map.fileEdit(fix, baseDirectory: "/repo")
                == "Close it: edit conf/nftables.conf: delete the rule `tcp dport 6379 counter accept` from chain input of table inet filter (declared at conf/nftables.conf:3)."
        )
    }
}
