import Foundation
import Testing

// Every kind of command a fix quotes, pasted into a shell inside the `pwt-` host namespace it was computed for: the
// finding must be gone afterwards, the ruleset must differ only by what the command says (compared with
// `nft -j list ruleset`), and the other listeners must keep their exposure. Real connections from the peer namespace
// check the closed port and a port that must stay open. Documentation addresses only; nothing outside the test
// namespaces is touched.

/// The parts of a JSON report the fix tests read.
struct FixReport: Decodable {
    struct Entry: Decodable { var ruleId: String; var subject: String; var remediation: String }
    var findings: [Entry]
}

/// A ruleset as `nft -j list ruleset` lists it: its objects (`table`, `chain`, `rule`, `set`) as canonical JSON, in order.
struct RulesetObjects {
    var objects: [String]

    init(_ data: Data) throws {
        let doc = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let items = (doc?["nftables"] as? [[String: Any]]) ?? []
        objects = try items.filter { $0["metainfo"] == nil }.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    /// Objects only in `self` (removed by the change) and only in `after` (added by it).
    func changes(to after: RulesetObjects) -> (removed: [String], added: [String]) {
        (objects.filter { !after.objects.contains($0) }, after.objects.filter { !objects.contains($0) })
    }

    /// The rules of one chain, in chain order.
    func rules(_ family: String, _ table: String, _ chain: String) -> [String] {
        objects.filter {
            $0.hasPrefix("{\"rule\":") && $0.contains("\"chain\":\"\(chain)\"") && $0.contains("\"family\":\"\(family)\"")
                && $0.contains("\"table\":\"\(table)\"")
        }
    }
}

/// A rule object without its handle (the same rule after a move has a new one).
func withoutHandle(_ rule: String) -> String {
    rule.replacingOccurrences(of: #""handle":[0-9]+,?"#, with: "", options: .regularExpression)
}

@Suite(.serialized) struct FixCommandTests {
    static let head = """
        flush ruleset
        table inet filter {
            chain input {
                type filter hook input priority filter; policy drop;
                iifname "lo" accept
                ct state established,related accept

        """
    static let tail = "    }\n}\n"

    /// What one pasted fix did.
    struct Applied {
        var commands: [String]
        var removed: [String]
        var added: [String]
        var before: RulesetObjects
        var after: RulesetObjects
        var findingsAfter: [FixReport.Entry]
        var otherExposureKept: Bool
    }

    /// Loads `ruleset`, starts redis on 6379 and sshd on 22, audits, pastes every command the finding quotes into a
    /// shell in the namespace, and audits again. `check` sees the result while the namespaces still exist.
    /// `subject` nil: the first finding of `ruleId` about a rule (rule subjects carry the namespace's handles).
    /// `setup`: commands that build the ruleset instead (iptables-nft).
    func paste(_ tag: String, ruleset: String, setup: [[String]] = [], ruleId: String, subject: String?, _ check: (AuditHost, Applied) throws -> Void)
        throws
    {
        let h = try AuditHost(tag)
        defer { h.cleanup() }
        try h.host.exec(["nft", "flush", "ruleset"])
        if !ruleset.isEmpty { try h.host.nft(ruleset) }
        for c in setup { try h.host.exec(c) }
        try h.start("sshd", ["tcp:0.0.0.0:22"])
        try h.start("redis-server", ["tcp:0.0.0.0:6379"])
        let report = try audit(h)
        let finding = try #require(
            report.findings.first { f in f.ruleId == ruleId && (subject.map { f.subject == $0 } ?? f.subject.hasPrefix("rule/")) },
            "no \(ruleId) \(subject) in \(report.findings.map { "\($0.ruleId) \($0.subject)" })")
        let commands = Self.commands(in: finding.remediation)
        try #require(!commands.isEmpty, "no command quoted: \(finding.remediation)")
        let before = try RulesetObjects(try h.host.exec(["nft", "-j", "list", "ruleset"]).stdoutData)
        let exposureBefore = try otherExposure(h)
        for c in commands {
            let r = try h.host.exec(["sh", "-c", c], check: false)
            try #require(r.status == 0, "`\(c)` failed: \(r.stderr)")
        }
        let after = try RulesetObjects(try h.host.exec(["nft", "-j", "list", "ruleset"]).stdoutData)
        let (removed, added) = before.changes(to: after)
        let findingsAfter = try audit(h).findings
        #expect(!findingsAfter.contains { $0.ruleId == ruleId && $0.subject == finding.subject }, "still there after \(commands)")
        try check(
            h,
            Applied(
                commands: commands, removed: removed, added: added, before: before, after: after,
                findingsAfter: findingsAfter, otherExposureKept: try otherExposure(h) == exposureBefore))
    }

    func audit(_ h: AuditHost) throws -> FixReport {
        let r = try h.portwarden(["audit", "--format", "json", "--fail-on", "none"])
        try #require(r.status == 0, "audit failed: \(r.stderr)")
        return try JSONDecoder().decode(FixReport.self, from: r.stdoutData)
    }

    /// Who reaches every listener but redis (summary, interfaces, accepted sources and ranges; not the deciding
    /// rules, which a new base chain with policy accept legitimately joins), as canonical JSON.
    func otherExposure(_ h: AuditHost) throws -> [String] {
        let r = try h.portwarden(["exposure", "--format", "json"])
        let doc = try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any]
        let listeners = (doc?["listeners"] as? [[String: Any]]) ?? []
        let kept = ["listener", "summary", "interfaces", "acceptedSources", "acceptedRanges", "reasons"]
        return try listeners.filter { (($0["listener"] as? [String: Any])?["port"] as? Int) != 6379 }.map { l in
            String(decoding: try JSONSerialization.data(withJSONObject: l.filter { kept.contains($0.key) }, options: [.sortedKeys]), as: UTF8.self)
        }.sorted()
    }

    /// The commands a remediation quotes (backquoted spans starting with `nft ` or `sysctl `), each once: a command
    /// quoted again as the alternative (`…, then X; or delete it: X`) is the same step.
    static func commands(in text: String) -> [String] {
        var out: [String] = []
        for (i, span) in text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
        where i % 2 == 1 && (span.hasPrefix("nft ") || span.hasPrefix("sysctl ")) && !out.contains(String(span)) {
            out.append(String(span))
        }
        return out
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func deleteByHandleRemovesOnlyThatRule() throws {
        let ruleset = Self.head + "        tcp dport 22 accept\n        tcp dport 6379 accept\n" + Self.tail
        try paste("fixdel", ruleset: ruleset, ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") { h, a in
            #expect(a.commands.count == 1 && a.commands[0].hasPrefix("nft delete rule inet filter input handle "), "\(a.commands)")
            #expect(a.added.isEmpty, "\(a.added)")
            #expect(a.removed.count == 1 && a.removed[0].contains("6379"), "\(a.removed)")
            #expect(a.otherExposureKept)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func insertAtTheTopAddsOneDropAndKeepsTheSharedRule() throws {
        // The accepting rule also opens 22: deleting it would close SSH, so the fix adds a drop instead.
        let ruleset = Self.head + "        tcp dport { 22, 6379 } accept\n" + Self.tail
        try paste("fixtop", ruleset: ruleset, ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") { h, a in
            #expect(a.commands == [#"nft insert rule inet filter input 'iifname != "lo" meta nfproto ipv4 tcp dport 6379 drop'"#], "\(a.commands)")
            #expect(a.removed.isEmpty, "\(a.removed)")
            #expect(a.added.count == 1)
            #expect(a.after.rules("inet", "filter", "input").first == a.added.first, "the drop is the chain's first rule")
            #expect(a.otherExposureKept)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func anAcceptBehindAJumpGetsADropOnTopOfTheInputChain() throws {
        // svc is also jumped to from forward: the drop must not go into svc, where it would drop forwarded traffic too.
        let ruleset =
            Self.head + "        jump svc\n    }\n    chain routed {\n        type filter hook forward priority filter; policy accept;\n"
            + "        jump svc\n    }\n    chain svc {\n        tcp dport { 22, 6379 } accept\n" + Self.tail
        try paste("fixjump", ruleset: ruleset, ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") { h, a in
            #expect(a.commands == [#"nft insert rule inet filter input 'iifname != "lo" meta nfproto ipv4 tcp dport 6379 drop'"#], "\(a.commands)")
            #expect(a.removed.isEmpty, "\(a.removed)")
            #expect(a.added.count == 1 && a.after.rules("inet", "filter", "input").first == a.added.first, "\(a.added)")
            #expect(a.after.rules("inet", "filter", "svc") == a.before.rules("inet", "filter", "svc"))
            #expect(a.otherExposureKept)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func withoutAnInputChainANewTableHoldsTheDrop() throws {
        try paste("fixnew", ruleset: "", ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") { h, a in
            #expect(a.commands.count == 1 && a.commands[0].hasPrefix("nft 'add table inet portwarden;"), "\(a.commands)")
            #expect(a.removed.isEmpty, "\(a.removed)")
            #expect(
                a.added.count == 3 && a.added.allSatisfy { $0.contains("\"table\":\"portwarden\"") || $0.contains("\"name\":\"portwarden\"") },
                "\(a.added)")
            #expect(a.otherExposureKept)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func chainPolicyChangesOnlyThePolicy() throws {
        let ruleset =
            "flush ruleset\ntable ip fw {\n    chain INPUT {\n        type filter hook input priority filter; policy accept;\n"
            + "        iifname \"lo\" accept\n        tcp dport 22 accept\n" + Self.tail
        try paste("fixpol", ruleset: ruleset, ruleId: "PW1014", subject: "host/firewall/input") { h, a in
            #expect(a.commands == ["nft chain ip fw INPUT '{ policy drop; }'"], "\(a.commands)")
            #expect(a.removed.count == 1 && a.added.count == 1)
            #expect(
                a.removed.first?.replacingOccurrences(of: "\"policy\":\"accept\"", with: "\"policy\":\"drop\"") == a.added.first,
                "\(a.removed) → \(a.added)")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func shadowedRuleMovesAboveTheRuleThatShadowsIt() throws {
        let ruleset = Self.head + "        tcp dport 22 accept\n        tcp dport { 6000-7000 } accept\n        tcp dport 6379 drop\n" + Self.tail
        try paste("fixmove", ruleset: ruleset, ruleId: "PW1017", subject: nil) { h, a in
            #expect(a.commands.count == 2 && a.commands[0].contains(" position ") && a.commands[1].hasPrefix("nft delete rule"), "\(a.commands)")
            #expect(a.removed.count == 1 && a.added.count == 1)
            #expect(a.removed.first.map(withoutHandle) == a.added.first.map(withoutHandle), "the same rule, moved")
            let input = a.after.rules("inet", "filter", "input")
            let moved = try #require(input.firstIndex { $0 == a.added.first }), range = try #require(input.firstIndex { $0.contains("6000") })
            #expect(moved == range - 1)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func staleOpeningDeleteRemovesOnlyThatRule() throws {
        let ruleset = Self.head + "        tcp dport 22 accept\n        tcp dport 6379 accept\n        tcp dport 9999 accept\n" + Self.tail
        try paste("fixstale", ruleset: ruleset, ruleId: "PW1019", subject: nil) { _, a in
            #expect(a.commands.count == 1 && a.commands[0].hasPrefix("nft delete rule inet filter input handle "), "\(a.commands)")
            #expect(a.added.isEmpty && a.removed.count == 1 && a.removed[0].contains("9999"), "\(a.removed)")
            #expect(a.otherExposureKept)
        }
    }

    // A table iptables-nft manages: the inserted drop is one iptables-nft reads back, so `iptables -S` keeps working.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func aDropInAnIptablesNftTableStaysReadableByIptables() throws {
        let setup = [
            ["iptables-nft", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
            ["iptables-nft", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "22,6379", "-j", "ACCEPT"],
            ["iptables-nft", "-P", "INPUT", "DROP"]
        ]
        try paste("fixipt", ruleset: "", setup: setup, ruleId: "PW1006", subject: "listener/tcp/0.0.0.0:6379") { h, a in
            #expect(a.commands == [#"nft insert rule ip filter INPUT 'iifname != "lo" tcp dport 6379 drop'"#], "\(a.commands)")
            #expect(a.removed.isEmpty && a.added.count == 1, "\(a.removed) \(a.added)")
            let rules = try h.host.exec(["iptables-nft", "-S", "INPUT"]).stdout
            #expect(rules.contains("-A INPUT ! -i lo -p tcp -m tcp --dport 6379 -j DROP"), "\(rules)")
            #expect(a.otherExposureKept)
            let open6379 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379)
            #expect(!open6379, "port 6379 must be closed")
            let open22 = try h.connects(from: "192.0.2.1", to: "192.0.2.10", 22)
            #expect(open22, "port 22 must stay open")
        }
    }

    // With --ruleset FILE the candidate's handles belong to a throwaway namespace: findings name FILE:LINE in text and
    // JSON, and the fix is an edit of FILE, never an nft command.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func candidateFindingsNameTheLineAndEditTheFile() throws {
        let dir = try TempDir("fix-cand")
        let ns = try listenerNamespace("fixcand", dir: dir)
        defer { ns.cleanup() }
        let file = try CandidateRulesetTests.writeRuleset(dir)
        try ns.spawn([
            "python3", "-c",
            "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',5432))\ns.listen()\nopen('\(dir.file("pg"))','w').close()\ntime.sleep(60)"
        ])
        try waitForFile(dir.file("pg"))
        try ns.exec([portwardenBinary, "collect", "--output", dir.file("host.json")])
        let args = ["--snapshot", dir.file("host.json"), "--ruleset", file, "--fail-on", "none"]

        let json = try run([portwardenBinary, "audit", "--format", "json"] + args)
        let doc = try JSONSerialization.jsonObject(with: json.stdoutData) as? [String: Any]
        let findings = (doc?["findings"] as? [[String: Any]]) ?? []
        let pg = try #require(findings.first { $0["ruleId"] as? String == "PW1006" && ($0["subject"] as? String)?.hasSuffix(":5432") == true })
        let loc = pg["rulesetLocation"] as? [String: Any]
        #expect((loc?["file"] as? String)?.hasSuffix("conf/nftables.conf") == true && loc?["line"] as? Int == 11, "\(pg)")
        let fix = try #require(pg["remediation"] as? String)
        #expect(fix.contains("edit ") && fix.contains("nftables.conf"), "\(fix)")
        for f in findings where (f["ruleId"] as? String).map({ ["PW1006", "PW1001", "PW1017", "PW1018", "PW1019", "PW1020"].contains($0) }) == true {
            let text = (f["remediation"] as? String) ?? ""
            #expect(!text.contains("`nft ") && !text.contains("handle"), "\(f["ruleId"] ?? "") quotes a namespace command: \(text)")
        }

        let text = try run([portwardenBinary, "audit"] + args).stdout
        #expect(text.contains("    ruleset: \(file):11:"), "\(text)")
        let diff = try run([portwardenBinary, "diff"] + args).stdout
        #expect(diff.contains("      at \(file):12:"), "the new PW1019 of line 12: \(diff)")
    }
}
