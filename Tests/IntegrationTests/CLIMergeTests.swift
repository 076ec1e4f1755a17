import Foundation
import Testing

/// `portwarden merge` on reports the built binary writes from the committed snapshot, renamed per host. No root needed.
@Suite struct CLIMergeTests {
    static let fixture = CLITraceExposureTests.fixture

    func portwarden(_ args: [String]) throws -> CommandResult {
        try run([portwardenBinary] + args, check: false)
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `audit --format json` of the fixture, with its host renamed to `host` and collected at `at`.
    func report(_ dir: URL, _ host: String, at: String = "2026-11-25T09:00:00Z", file: String? = nil) throws -> String {
        let audit = try portwarden(["audit", "--snapshot", Self.fixture, "--format", "json", "--fail-on", "none"])
        #expect(audit.status == 0, "\(audit.stderr)")
        var doc = try #require(try JSONSerialization.jsonObject(with: audit.stdoutData) as? [String: Any])
        var info = try #require(doc["host"] as? [String: Any])
        info["hostname"] = host
        info["collectedAt"] = at
        doc["host"] = info
        let path = dir.appendingPathComponent(file ?? "\(host).json").path
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func failOnDecidesTheExitCodeAcrossHosts() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [try report(dir, "db1"), try report(dir, "web1")]
        // The fixture has a high finding (PW1006) and nothing critical.
        let byDefault = try portwarden(["merge"] + files)
        #expect(byDefault.status == 1, "\(byDefault.stderr)")
        #expect(
            byDefault.stdout.contains("PW1006 sensitive-service-exposed [high]: 2 hosts: db1 tcp 0.0.0.0:5432, web1 tcp 0.0.0.0:5432"),
            "\(byDefault.stdout)")
        #expect(try portwarden(["merge", "--fail-on", "critical"] + files).status == 0)
        #expect(try portwarden(["merge", "--fail-on", "none"] + files).status == 0)
        #expect(try portwarden(["merge", "--fail-on", "HIGH"] + files).status == 1)
    }

    @Test func aFileThatIsNotAReportIsExit2NamingIt() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try report(dir, "db1")
        let garbage = dir.appendingPathComponent("garbage.json").path
        try "not json".write(toFile: garbage, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            (garbage, "not valid JSON"),
            (Self.fixture, "schema is 'portwarden-snapshot/"),
            (dir.path, "not a regular file"),
            (dir.appendingPathComponent("missing.json").path, "No such file")
        ]
        for (bad, why) in cases {
            let r = try portwarden(["merge", good, bad])
            #expect(r.status == 2, "\(bad): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("portwarden: \(bad): ") && lines[0].contains(why), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        #expect(try portwarden(["merge"]).status == 64)
    }

    @Test func theNewerReportOfAHostWinsAndStderrSaysSo() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let newer = try report(dir, "db1", at: "2026-11-26T09:00:00Z", file: "newer.json")
        let older = try report(dir, "db1", at: "2026-11-25T09:00:00Z", file: "older.json")
        let out = dir.appendingPathComponent("fleet.json").path
        let r = try portwarden(["merge", "--format", "json", "--output", out, "--fail-on", "none", newer, older])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("two reports of host db1: kept \(newer) (collected 2026-11-26T09:00:00Z), ignored \(older)"), "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect(doc["schema"] as? String == "portwarden-fleet/1")
        let hosts = try #require(doc["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["collectedAt"] as? String } == ["2026-11-26T09:00:00Z"])
    }

    @Test func sarifHasARunPerHost() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [try report(dir, "web1"), try report(dir, "db1"), try report(dir, "db2")]
        let r = try portwarden(["merge", "--format", "sarif", "--fail-on", "none"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any])
        let ids = (doc["runs"] as? [[String: Any]] ?? []).compactMap { ($0["automationDetails"] as? [String: Any])?["id"] as? String }
        #expect(ids == ["portwarden/db1/", "portwarden/db2/", "portwarden/web1/"])
    }

    /// Every `portwarden merge` command in the README and docs/fleet.md uses only options merge has, with values it accepts.
    @Test func documentedMergeCommandsMatchTheCLI() throws {
        let help = try portwarden(["merge", "--help"])
        let known = Set(help.stdout.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") }.map(String.init))
        #expect(known.isSuperset(of: ["--format", "--output", "--fail-on", "--fail-on-conditional"]), "\(help.stdout)")
        let values = ["--format": ["text", "json", "sarif", "codequality"], "--fail-on": ["info", "low", "medium", "high", "critical", "none"]]
        let repo = URL(fileURLWithPath: FleetTools.repoRoot)
        var checked = 0
        for doc in ["README.md", "docs/fleet.md"] {
            for line in try String(contentsOf: repo.appendingPathComponent(doc), encoding: .utf8).split(separator: "\n") {
                let tokens = line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "`,;()|")) }
                guard let at = tokens.firstIndex(of: "portwarden"), at + 1 < tokens.count, tokens[at + 1] == "merge" else { continue }
                checked += 1
                let args = Array(tokens[(at + 2)...])
                for (i, t) in args.enumerated() where t.hasPrefix("--") {
                    #expect(known.contains(t), "\(doc): `\(t)` is not an option of portwarden merge: \(line)")
                    if let allowed = values[t], i + 1 < args.count {
                        #expect(allowed.contains(args[i + 1]), "\(doc): \(t) \(args[i + 1]): \(line)")
                    }
                }
            }
        }
        #expect(checked >= 6, "the documents show merge commands (\(checked) found)")
    }
}
