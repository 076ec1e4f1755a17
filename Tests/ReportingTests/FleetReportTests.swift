import Foundation
import HostModel
import Policy
import Checks
import Testing
@testable import Reporting
import Serialization

/// `merge`: host reports read back from the JSON `audit` writes, joined into one fleet report per format.
@Suite struct FleetReportTests {
    /// The JSON report of `result` as `audit --format json` writes it, renamed to `host` and collected at `at`.
    static func hostReport(_ result: AuditResult, host: String, at: String = "2026-11-25T09:00:00Z", file: String? = nil) throws -> HostReport {
        var r = result
        r.host.hostname = host
        r.host.collectedAt = at
        let json = try JSONReporter().render(Report(result: r, toolVersion: "9.9.9-test"))
        return try HostReport.read(file: file ?? "reports/\(host).json", data: Data(json.utf8))
    }

    /// Three hosts: two with the sample audit (custom policy), one with the built-in policy.
    static func fleet(failOnConditional: Bool = false) throws -> FleetReport {
        let sample = try sampleResult()
        let builtIn = try SARIFTrackingTests.result(host: "x", policy: PolicyLoader.builtInDefault())
        return FleetReport(
            hosts: [
                try hostReport(sample, host: "web-02"), try hostReport(builtIn, host: "db-01"),
                try hostReport(sample, host: "web-01")
            ],
            toolVersion: "9.9.9-test", failOnConditional: failOnConditional)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func aReportReadsBackAsTheAuditThatWroteIt() throws {
        let sample = try sampleResult()
        let h = try Self.hostReport(sample, host: "web-01")
        #expect(h.hostname == "web-01")
        #expect(h.toolVersion == "9.9.9-test")
        #expect(h.result.policySource == sample.policySource)
        #expect(h.result.caveats == sample.caveats)
        #expect(h.result.findings.map(\.fingerprint) == sample.findings.map(\.fingerprint))
        #expect(h.result.counts == sample.counts)
    }

    @Test func aFindingsFileOfAnotherKindIsRefusedWithTheReason() throws {
        #expect(throws: FindingsJSON.ReadError.self) { try HostReport.read(file: "x", data: Data(#"{"schema":"portwarden-snapshot/2"}"#.utf8)) }
        do {
            _ = try HostReport.read(file: "x", data: Data(#"{"schema":"portwarden-findings/1","findings":[]}"#.utf8))
            Issue.record("a report without a host was accepted")
        } catch {
            #expect("\(error)".contains("no 'tool' field") || "\(error)".contains("no 'host' field"), "\(error)")
        }
    }

    @Test func hostsAreSortedAndTheNewestReportOfAHostWins() throws {
        let sample = try sampleResult()
        let old = try Self.hostReport(sample, host: "web-01", at: "2026-11-25T09:00:00Z", file: "old.json")
        let new = try Self.hostReport(sample, host: "web-01", at: "2026-11-26T09:00:00Z", file: "new.json")
        let other = try Self.hostReport(sample, host: "a-host", file: "a.json")
        for order in [[old, new, other], [new, old, other]] {
            let (kept, replaced) = FleetReport.deduplicated(order)
            #expect(kept.map(\.file).sorted() == ["a.json", "new.json"])
            #expect(
                replaced == [
                    ReplacedReport(
                        hostname: "web-01", kept: "new.json", keptAt: "2026-11-26T09:00:00Z",
                        dropped: "old.json", droppedAt: "2026-11-25T09:00:00Z")
                ])
        }
        let tie = try Self.hostReport(sample, host: "web-01", at: "2026-11-25T09:00:00Z", file: "tie.json")
        #expect(FleetReport.deduplicated([old, tie]).kept.map(\.file) == ["tie.json"])
        #expect(FleetReport(hosts: [old, other], toolVersion: "t").hosts.map(\.hostname) == ["a-host", "web-01"])
    }

    @Test func textGroupsFindingsByCheckAcrossHosts() throws {
        let fleet = try Self.fleet()
        let text = FleetTextReporter().render(fleet)
        #expect(text.contains("fleet report: 3 hosts"))
        let hostLines = text.split(separator: "\n").filter { $0.hasPrefix("  db-01 (") || $0.hasPrefix("  web-0") }
        #expect(hostLines.count == 3, "\(text)")
        // web-01's line carries its counts and the public listeners its findings name.
        let web = try #require(hostLines.first { $0.hasPrefix("  web-01 (collected 2026-11-25T09:00:00Z)") })
        let counts = try sampleResult().counts
        #expect(web.contains("\(counts[.high] ?? 0) high") && web.contains("public: ") && web.contains("tcp 0.0.0.0:6379"), "\(web)")
        #expect(text.contains("caveat: example caveat"))
        // PW1006 (redis exposed) is on all three hosts, in one line.
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("  PW1006 ") })
        #expect(line.contains("3 hosts: "), "\(line)")
        for host in ["db-01 tcp 0.0.0.0:6379", "web-01 tcp 0.0.0.0:6379", "web-02 tcp 0.0.0.0:6379"] { #expect(line.contains(host), "\(line)") }
        // The suppressed finding (PW1001 on 8080) is counted per host but never listed under its check.
        #expect(!text.contains("web-01 tcp 0.0.0.0:8080"))
        #expect(web.contains("1 suppressed"))
    }

    @Test func jsonHasHostsAndByCheck() throws {
        let fleet = try Self.fleet()
        let doc = try Self.json(FleetJSONReporter().render(fleet))
        #expect(doc["schema"] as? String == "portwarden-fleet/1")
        let hosts = try #require(doc["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["host"] as? String } == ["db-01", "web-01", "web-02"])
        let web = hosts[1]
        #expect((web["findings"] as? [Any])?.count == (try sampleResult()).findings.count)
        #expect((web["counts"] as? [String: Int])?["suppressed"] == 1)
        #expect(web["report"] as? String == "reports/web-01.json")
        let checks = try #require(doc["byCheck"] as? [[String: Any]])
        let pw1006 = try #require(checks.first { $0["ruleId"] as? String == "PW1006" })
        #expect(pw1006["hosts"] as? [String] == ["db-01", "web-01", "web-02"])
        // Highest severity first.
        let order = checks.compactMap { ($0["severity"] as? String).flatMap(Severity.init(rawValue:)) }
        #expect(order == order.sorted(by: >))
    }

    @Test func jsonMatchesTheFleetSchema() throws {
        let file = try tempFile("fleet.json", FleetJSONReporter().render(try Self.fleet()))
        defer { try? FileManager.default.removeItem(at: file) }
        let schemas = repoRoot.appendingPathComponent("schemas").path
        // The fleet schema refers to the findings schema's definitions; both generations of python3-jsonschema.
        let script = """
            import json, sys, os, jsonschema
            d = sys.argv[1]
            fleet = json.load(open(os.path.join(d, "fleet-1.schema.json"))); findings = json.load(open(os.path.join(d, "findings-1.schema.json")))
            doc = json.load(open(sys.argv[2]))
            cls = jsonschema.validators.validator_for(fleet); cls.check_schema(fleet)
            try:
                from referencing import Registry, Resource
                v = cls(fleet, registry=Registry().with_resource(findings["$id"], Resource.from_contents(findings)))
            except ImportError:
                v = cls(fleet, resolver=jsonschema.RefResolver.from_schema(fleet, store={findings["$id"]: findings}))
            errors = list(v.iter_errors(doc))
            for e in errors: print(list(e.absolute_path), e.message)
            sys.exit(1 if errors else 0)
            """
        let (status, out) = try run(["python3", "-W", "ignore", "-c", script, schemas, file.path])
        if out.contains("No module named 'jsonschema'") {
            Issue.record("python3-jsonschema is missing: it is needed to check the fleet schema")
            return
        }
        #expect(status == 0, "\(out)")
    }

    @Test func sarifHasOneRunPerHostEachAsAuditWritesIt() throws {
        let fleet = try Self.fleet()
        let text = try FleetFormat.sarif.render(fleet)
        let runs = try #require(try Self.json(text)["runs"] as? [[String: Any]])
        #expect(runs.count == 3)
        let ids = runs.compactMap { ($0["automationDetails"] as? [String: Any])?["id"] as? String }
        #expect(ids == ["portwarden/db-01/", "portwarden/web-01/", "portwarden/web-02/"])
        for (run, host) in zip(runs, fleet.hosts) {
            let alone = try Self.json(SARIFReporter().render(fleet.report(host)))
            let expected = try #require((alone["runs"] as? [[String: Any]])?.first)
            #expect(NSDictionary(dictionary: run).isEqual(to: expected), "run of \(host.hostname) differs from its own SARIF")
        }
        // The built-in policy is not a file: db-01's results point at its report file instead.
        let db = try #require(runs.first?["results"] as? [[String: Any]])
        let uris = db.compactMap { r in
            (((r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])?["artifactLocation"] as? [String: Any])?["uri"]
                as? String
        }
        #expect(!db.isEmpty && uris.count == db.count && Set(uris) == ["reports/db-01.json"], "\(uris)")
        guard let tool = sarifValidator() else { return }
        let file = try tempFile("fleet.sarif", text)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, out) = try run([tool.path, file.path])
        #expect(status == 0, "\(out)")
    }

    @Test func codeQualityJoinsEveryHostsIssues() throws {
        let fleet = try Self.fleet()
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(FleetFormat.codequality.render(fleet).utf8)) as? [[String: Any]])
        let perHost = fleet.hosts.map { h in h.result.findings.filter { !$0.isSuppressed }.count }
        #expect(issues.count == perHost.reduce(0, +))
        let fingerprints = issues.compactMap { $0["fingerprint"] as? String }
        #expect(Set(fingerprints).count == fingerprints.count, "the same finding on two hosts must be two issues")
    }

    @Test func failingCountsEveryHostAboveTheThreshold() throws {
        let fleet = try Self.fleet()
        let expected = fleet.hosts.map { $0.result.failing(threshold: .high, includeConditional: false).count }.reduce(0, +)
        #expect(expected > 0)
        #expect(fleet.failing(threshold: .high).count == expected)
        #expect(fleet.failing(threshold: .critical).count < fleet.failing(threshold: .info).count)
        let conditional = fleet.hosts.flatMap(\.result.findings).filter { $0.conditional && !$0.isSuppressed }.count
        #expect(conditional > 0)
        #expect(try Self.fleet(failOnConditional: true).failing(threshold: .info).count == fleet.failing(threshold: .info).count + conditional)
    }
}
