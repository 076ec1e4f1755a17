import Foundation
import HostModel
import Serialization
import Testing
import Checks
import Evaluator

/// The nft text a fix quotes for a rule is faithful: every rule of a varied ruleset that portwarden prints as nft,
/// added back with `nft add rule` in a `pwt-` namespace, gives the kernel exactly the rule it came from (compared as
/// `nft -j` expressions). Rules without a faithful text must print nothing, never an approximation.
@Suite(.serialized) struct RuleTextRoundTripTests {
    static let varied = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NetlinkTests/Captures/varied.nft").path

    /// `nft -j list ruleset`'s rules: (family, table, chain, handle) → expressions as canonical JSON (counters zeroed).
    static func rules(_ ns: TestNamespace) throws -> [String: String] {
        let doc = try JSONSerialization.jsonObject(with: try ns.exec(["nft", "-j", "list", "ruleset"]).stdoutData) as? [String: Any]
        var out: [String: String] = [:]
        for item in (doc?["nftables"] as? [[String: Any]]) ?? [] {
            guard let r = item["rule"] as? [String: Any], let expr = r["expr"] as? [[String: Any]] else { continue }
            let zeroed = expr.map { $0["counter"] != nil ? ["counter": [String: Any]()] : $0 }
            var e = String(decoding: try JSONSerialization.data(withJSONObject: zeroed, options: [.sortedKeys]), as: UTF8.self)
            if let c = r["comment"] as? String { e += " comment \(c)" }
            out["\(r["family"] ?? "") \(r["table"] ?? "") \(r["chain"] ?? "") \(r["handle"] ?? "")"] = e
        }
        return out
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func printedRulesLoadBackAsTheSameRule() throws {
        let ns = try TestNamespace("rtext")
        defer { ns.cleanup() }
        try ns.exec(["ip", "link", "add", "pwveth0", "type", "veth", "peer", "name", "pwveth1"])
        try ns.exec(["nft", "-f", Self.varied])
        // Every form of limit and quota the rule text prints (burst, over, byte rates, both quota kinds).
        try ns.nft(
            """
            table inet pwlimits {
                chain c {
                    type filter hook input priority 10; policy accept;
                    tcp dport 1 limit rate over 3/second burst 20 packets drop
                    tcp dport 2 limit rate 1 mbytes/second accept
                    tcp dport 3 limit rate 10/minute accept
                    tcp dport 4 quota over 1500 bytes drop
                    tcp dport 5 quota until 100 mbytes accept
                }
            }
            """)
        let snapshot = try SnapshotCodec.decode(try ns.exec([portwardenBinary, "collect"]).stdoutData)
        let facts = Evaluator.rules(of: snapshot.firewall)
        let printed = facts.filter { $0.nft != nil }
        #expect(printed.filter { $0.table == "pwlimits" }.count == 5, "\(facts.filter { $0.table == "pwlimits" }.map(\.text))")
        #expect(printed.count >= 12, "only \(printed.count) of \(facts.count) rules printed: \(facts.map(\.text))")
        // Rules nft itself cannot express without what portwarden does not print: no text, a description instead.
        for r in facts where r.nft == nil { #expect(!r.text.hasPrefix("`"), "\(r.text)") }

        var chains = Set<String>()
        for r in printed {
            let key = "\(r.family.rawValue) \(r.table)"
            if chains.insert(key).inserted { try ns.exec(["nft", "add", "chain", r.family.rawValue, r.table, "pwprobe"]) }
            let added = try ns.exec(["sh", "-c", "nft add rule \(key) pwprobe \(shellQuoted(r.nft ?? ""))"], check: false)
            #expect(added.status == 0, "`\(r.nft ?? "")` does not load: \(added.stderr)")
        }
        let all = try Self.rules(ns)
        let probes = all.filter { $0.key.contains(" pwprobe ") }.sorted {
            UInt64($0.key.split(separator: " ").last ?? "") ?? 0 < UInt64($1.key.split(separator: " ").last ?? "") ?? 0
        }
        try #require(probes.count == printed.count)
        // The probes were added in `printed` order, one chain per table: pair them table by table.
        var byTable: [String: [String]] = [:]
        for p in probes { byTable[p.key.split(separator: " ").prefix(2).joined(separator: " "), default: []].append(p.value) }
        var seen: [String: Int] = [:]
        for r in printed {
            let table = "\(r.family.rawValue) \(r.table)"
            let i = seen[table, default: 0]
            seen[table] = i + 1
            let original = all["\(table) \(r.chain) \(r.handle)"]
            #expect(byTable[table]?[i] == original, "\(r.nft ?? "") did not load back as rule #\(r.handle) of \(table) \(r.chain)")
        }
    }
}
