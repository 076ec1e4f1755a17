import Foundation
import HostModel
import Serialization
import Testing

/// `--ruleset FILE`: the candidate is loaded in a private namespace the tool makes and destroys itself; these tests
/// compare it with really applying the file, look for leftovers, and run it without privilege.
@Suite(.serialized) struct CandidateRulesetTests {
    static let ruleset = """
        #!/usr/sbin/nft -f
        flush ruleset
        include "parts/admins.nft"

        table inet filter {
        \tchain input {
        \t\ttype filter hook input priority filter; policy drop;
        \t\tct state established,related accept
        \t\tiif "lo" accept
        \t\ttcp dport 22 ip saddr @admins accept
        \t\tiif "d0" tcp dport 5432 accept
        \t\ttcp dport { 80, 81,
        \t\t            8088 } accept
        \t}
        }
        table ip nat {
        \tchain pre { type nat hook prerouting priority dstnat; tcp dport 8443 redirect to :443; }
        }

        """
    static let admins = """
        table inet filter {
        \tset admins { type ipv4_addr; flags interval; elements = { 198.51.100.0/24, 203.0.113.7 } }
        }

        """

    /// Writes the ruleset (main file + include) into `dir/conf/`.
    static func writeRuleset(_ dir: TempDir, main: String = ruleset) throws -> String {
        try FileManager.default.createDirectory(
            atPath: dir.file("conf/parts"), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o755])
        try main.write(toFile: dir.file("conf/nftables.conf"), atomically: true, encoding: .utf8)
        try admins.write(toFile: dir.file("conf/parts/admins.nft"), atomically: true, encoding: .utf8)
        for f in ["conf/nftables.conf", "conf/parts/admins.nft"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir.file(f))
        }
        return dir.file("conf/nftables.conf")
    }

    /// The firewall as JSON with handles, generation, set ids and run-time state (recent lists, quota counts) removed
    /// (they depend on the load history).
    static func normalized(_ fw: Firewall) throws -> String {
        let data = try JSONEncoder().encode(fw)
        func strip(_ v: Any) -> Any {
            if let d = v as? [String: Any] {
                var out: [String: Any] = [:]
                for (k, x) in d where !["handle", "generation", "setId", "recentLists", "consumed"].contains(k) { out[k] = strip(x) }
                return out
            }
            if let a = v as? [Any] { return a.map(strip) }
            return v
        }
        let out = try JSONSerialization.data(
            withJSONObject: strip(try JSONSerialization.jsonObject(with: data)), options: [.sortedKeys, .prettyPrinted])
        return String(decoding: out, as: UTF8.self)
    }

    /// Everything that could outlive a run: named namespaces, network namespaces with a process whose command line
    /// names `marker`, and processes naming it.
    struct Residue: Equatable {
        var namedNamespaces: [String]
        var markedNamespaces: Int
        var markedProcesses: Int
    }

    static func residue(_ marker: String) throws -> Residue {
        let named = try run(["ip", "netns", "list"], check: false).stdout.split(whereSeparator: \.isNewline)
            .map { String($0.split(separator: " ").first ?? "") }.filter { !$0.hasPrefix("pwt-") }.sorted()
        let lsns = try run(["lsns", "-t", "net", "-n", "-o", "NS,PID,COMMAND"], check: false).stdout
        let marked = lsns.split(whereSeparator: \.isNewline).filter { $0.contains(marker) }.count
        let procs = try run(["pgrep", "-f", marker], check: false).stdout.split(whereSeparator: \.isNewline).count
        return Residue(namedNamespaces: named, markedNamespaces: marked, markedProcesses: procs)
    }

    /// Waits until nothing names `marker` any more (a killed run's loader dies with it, its namespace with the loader).
    static func settled(_ marker: String, before: Residue) throws -> Residue {
        var now = try residue(marker)
        for _ in 0..<50 where now != before {
            usleep(100_000)
            now = try residue(marker)
        }
        return now
    }

    // (a) The candidate equals what `collect` reads after really applying the file.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func candidateEqualsTheAppliedRuleset() throws {
        let dir = try TempDir("cand")
        let ns = try listenerNamespace("cand", dir: dir)
        defer { ns.cleanup() }
        let file = try Self.writeRuleset(dir)
        // The snapshot before the change (no ruleset), then the same file applied for real in the test namespace.
        try ns.exec([portwardenBinary, "collect", "--netns", "host", "--output", dir.file("before.json")])
        try ns.exec(["nft", "-I", dir.file("conf"), "-f", file])
        let applied = try SnapshotCodec.decode(try ns.exec([portwardenBinary, "collect", "--netns", "host"]).stdoutData)
        let before = try SnapshotCodec.load(path: dir.file("before.json"))
        #expect(before.firewall.tables.isEmpty)

        let interfaces = before.interfaces.filter { $0.name != "lo" }.flatMap { ["--interface", "\($0.name)=\($0.index)"] }
        let loaded = try ns.exec([portwardenBinary, "__load-ruleset", "--file", file] + interfaces, check: false)
        try #require(loaded.status == 0, "stderr: \(loaded.stderr)")
        struct Out: Decodable { var firewall: Firewall }
        let candidate = try JSONDecoder().decode(Out.self, from: loaded.stdoutData).firewall
        #expect(try Self.normalized(candidate) == Self.normalized(applied.firewall))

        // And the public commands agree: exposure of before+candidate == exposure of the applied host.
        let viaCandidate = try ns.exec([portwardenBinary, "exposure", "--format", "json", "--snapshot", dir.file("before.json"), "--ruleset", file])
        try #require(viaCandidate.status == 0)
        try ns.exec([portwardenBinary, "collect", "--netns", "host", "--output", dir.file("after.json")])
        let viaApplied = try ns.exec([portwardenBinary, "exposure", "--format", "json", "--snapshot", dir.file("after.json")])
        // Regions with equal sort keys come in no particular order: compare them as sets. Listeners refer to cells
        // of the document's `regions` table, and cells to its `paths` and `addressSets` (schema 3): resolve them,
        // since the two documents number their tables on their own.
        func listeners(_ r: CommandResult) throws -> String {
            let o = try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any]
            let cells = (o?["regions"] as? [[String: Any]]) ?? []
            let paths = (o?["paths"] as? [Any]) ?? []
            let sets = (o?["addressSets"] as? [Any]) ?? []
            var ls = (o?["listeners"] as? [[String: Any]]) ?? []
            for i in ls.indices {
                let regions: [[String: Any]] = ((ls[i]["regions"] as? [Int]) ?? []).map { c in
                    var cell = cells[c]
                    if let p = cell.removeValue(forKey: "pathIndex") as? Int { cell["path"] = paths[p] }
                    if let s = cell.removeValue(forKey: "sourceSet") as? Int { cell["sourceSet"] = sets[s] }
                    return cell
                }
                ls[i]["regions"] = try regions.map {
                    String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
                }.sorted()
            }
            return String(decoding: try JSONSerialization.data(withJSONObject: ls, options: [.sortedKeys]), as: UTF8.self)
        }
        #expect(try listeners(viaCandidate) == listeners(viaApplied))
    }

    // SARIF findings point at the file's lines; a file that does not load is exit 2 with nft's file:line:column.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func findingsPointAtTheRulesetAndLoadErrorsAreExit2() throws {
        let dir = try TempDir("cand-sarif")
        let ns = try listenerNamespace("csarif", dir: dir)
        defer { ns.cleanup() }
        let file = try Self.writeRuleset(dir)
        try ns.spawn([
            "python3", "-c",
            "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',5432))\ns.listen()\nopen('\(dir.file("pg"))','w').close()\ntime.sleep(60)"
        ])
        try waitForFile(dir.file("pg"))
        try ns.exec([portwardenBinary, "collect", "--netns", "host", "--output", dir.file("host.json")])
        func located(_ args: [String]) throws -> [(String, String, Int)] {
            let sarif = try run(
                [portwardenBinary] + args + ["--snapshot", dir.file("host.json"), "--ruleset", file, "--format", "sarif", "--fail-on", "none"])
            let doc = try JSONSerialization.jsonObject(with: sarif.stdoutData) as? [String: Any]
            let results = ((doc?["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]]) ?? []
            return results.compactMap { r -> (String, String, Int)? in
                guard let id = r["ruleId"] as? String, let loc = (r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any],
                    let uri = (loc["artifactLocation"] as? [String: Any])?["uri"] as? String,
                    let line = (loc["region"] as? [String: Any])?["startLine"] as? Int
                else { return nil }
                return (id, uri, line)
            }
        }
        // PostgreSQL on 5432 is opened on d0 by line 11 of the file: the audit's finding points there.
        let audit = try located(["audit"])
        #expect(audit.contains { $0.0 == "PW1006" && $0.1.hasSuffix("conf/nftables.conf") && $0.2 == 11 }, "\(audit)")
        // The diff reports new findings only: 5432 was already public (no firewall before); the rule on line 12
        // opens ports nothing listens on (PW1019), which is new.
        let diff = try located(["diff"])
        #expect(!diff.contains { $0.0 == "PW1006" }, "\(diff)")
        #expect(diff.contains { $0.0 == "PW1019" && $0.1.hasSuffix("conf/nftables.conf") && $0.2 == 12 }, "\(diff)")

        _ = try Self.writeRuleset(dir, main: "table inet t {\n\tchain c {\n\t\ttcp dport 22 acept\n\t}\n}\n")
        let bad = try run([portwardenBinary, "audit", "--snapshot", dir.file("host.json"), "--ruleset", file], check: false)
        #expect(bad.status == 2, "stderr: \(bad.stderr)")
        #expect(bad.stderr.contains("\(file):3:"), "nft's own file:line:column: \(bad.stderr)")
        #expect(bad.stderr.contains("syntax error"))
    }

    // (b) Nothing is left behind: after success, after a load failure, and when the run is killed mid-way.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func nothingIsLeftBehind() throws {
        let dir = try TempDir("cand-left")
        let file = try Self.writeRuleset(dir)
        let snapshot = Snapshot(
            host: HostInfo(hostname: "web-01", kernel: "6.12.0", collectedAt: "2026-11-25T09:00:00Z", toolVersion: "0.1.0"),
            interfaces: [Interface(index: 1, name: "lo", flags: ["up", "loopback"]), Interface(index: 2, name: "d0", flags: ["up"])])
        try SnapshotCodec.encode(snapshot).write(to: URL(fileURLWithPath: dir.file("host.json")))
        let marker = dir.path
        let before = try Self.residue(marker)
        #expect(before.markedNamespaces == 0 && before.markedProcesses == 0)

        let ok = try run([portwardenBinary, "exposure", "--snapshot", dir.file("host.json"), "--ruleset", file], check: false)
        #expect(ok.status == 0, "stderr: \(ok.stderr)")
        #expect(try Self.settled(marker, before: before) == before)

        try "table inet t { chain c { nonsense } }\n".write(toFile: dir.file("bad.nft"), atomically: true, encoding: .utf8)
        let bad = try run([portwardenBinary, "exposure", "--snapshot", dir.file("host.json"), "--ruleset", dir.file("bad.nft")], check: false)
        #expect(bad.status == 2)
        #expect(try Self.settled(marker, before: before) == before)

        // A ruleset big enough that loading takes a while; kill portwarden (SIGKILL) while the loader is at work.
        var big = "flush ruleset\ntable inet big {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n"
        for i in 0..<30_000 { big += "\t\tip saddr 198.51.\(i / 250 % 250).\(i % 250) tcp dport \(1024 + i % 60000) accept\n" }
        big += "\t}\n}\n"
        try big.write(toFile: dir.file("big.nft"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: portwardenBinary)
        p.arguments = ["exposure", "--snapshot", dir.file("host.json"), "--ruleset", dir.file("big.nft")]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var sawLoader = false
        for _ in 0..<100 {
            if try Self.residue(marker).markedProcesses > 1 { sawLoader = true; break }
            usleep(20_000)
        }
        usleep(200_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(sawLoader, "the loader was never seen running; the kill test proves less")
        #expect(try Self.settled(marker, before: before) == before)
    }

    // (c) Without privilege: works where user namespaces are enabled; says what is missing where they are not.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func worksUnprivilegedAndExplainsWhenUserNamespacesAreMissing() throws {
        let dir = try TempDir("cand-user")
        let file = try Self.writeRuleset(dir)
        let binary = try CollectPrivilegeTests.publicBinary(in: dir)
        do {
            // A real snapshot (the holder listens on 0.0.0.0:22, d0 has 192.0.2.10), taken as root.
            let ns = try listenerNamespace("cuser", dir: dir)
            defer { ns.cleanup() }
            try ns.exec([portwardenBinary, "collect", "--netns", "host", "--output", dir.file("host.json")])
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir.file("host.json"))
        let asNobody = [
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary, "trace", "--snapshot", dir.file("host.json"), "--ruleset", file,
            "--proto", "tcp", "--src", "198.51.100.7", "--dst", "192.0.2.10", "--dport", "22", "--iif", "d0"
        ]
        func sysctl(_ p: String) -> String? { try? String(contentsOfFile: p, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        let usernsEnabled = sysctl("/proc/sys/user/max_user_namespaces") != "0" && sysctl("/proc/sys/kernel/unprivileged_userns_clone") != "0"
        let r = try run(asNobody, check: false)
        if usernsEnabled {
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(r.stdout.contains("verdict: accept"), "\(r.stdout)")
            #expect(r.stdout.contains("inet filter input"))
        } else {
            #expect(r.status == 3)
            #expect(r.stderr.contains("user namespaces"))
        }
        // Where they are not available (simulated: the test must not change the host's sysctls).
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PORTWARDEN_TEST_DENY_USERNS"] = "1"
        let denied = try run(asNobody, environment: env, check: false)
        #expect(denied.status == 3, "stderr: \(denied.stderr)")
        #expect(denied.stderr.contains("unprivileged user namespaces are not available"))
        #expect(denied.stdout.isEmpty)
    }
}
