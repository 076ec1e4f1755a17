import Foundation
import HostModel
import Evaluator
import Policy
import Checks
import Testing
import TestSupport
@testable import Reporting
import Serialization

let repoRoot = repositoryRoot
let goldens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens")

/// The listeners of `sampleResult`: three public, one conditional.
func sampleReaches() -> [ListenerReach] {
    let step = PathStep(
        table: "filter", family: .table(.inet), chain: "input", hook: .hook(.input), priority: 0, handle: 9, action: .accept)
    return [
        .example(.tcp, "0.0.0.0:6379", .public, process: "redis-server", pid: 812, uid: 999, path: [step]),
        .example(.tcp, "0.0.0.0:22", .public, process: "sshd", pid: 640),
        .example(.tcp, "0.0.0.0:8080", .public, process: "python3", pid: 2000, uid: 1000),
        .example(.udp, "0.0.0.0:5353", .conditional, process: "avahi-daemon", pid: 700, uid: 105, sources: [], reasons: ["limit rate 5/second"])
    ]
}

/// A fixed audit covering every finding shape: listener, rule, host fact, policy entry, suppressed, expired, conditional.
func sampleResult() throws -> AuditResult {
    let policy = try PolicyLoader.parse(
        """
        version: 1
        listeners:
          - name: ssh
            proto: tcp
            port: 22
            exposure: {sources: [10.0.0.0/8]}
            owner: {process: sshd}
          - {proto: tcp, port: 443, required: true}
        suppressions:
          - {rule: PW1001, port: 8080, reason: "demo app, removed in the next sprint", expires: 2027-01-01}
          - {rule: PW1010, reason: "old waiver", expires: 2026-01-01}
        """, file: "ci/portwarden.yaml")
    let reaches = sampleReaches()
    let host = ExampleHost(reaches, firewall: ExampleRule.firewall([ExampleRule.port(9, nil, nil), ExampleRule.port(12, .tcp, 8443)]))
    var snapshot = host.snapshot
    snapshot.host = HostInfo(hostname: "web-01", kernel: "6.12.0", collectedAt: "2026-11-25T09:00:00Z", toolVersion: "0.1.0")
    let ctx = AuditContext(snapshot: snapshot, reaches: reaches, policy: policy, today: PolicyDate(year: 2026, month: 11, day: 25))
    return Auditor.run(ctx, caveats: ["example caveat: owners of other users' sockets were not readable"])
}

/// The sample report in `format`; the run time is fixed (2026-11-25T09:30:00Z) so the Prometheus golden is stable.
func render(_ format: ReportFormat, color: Bool = false) throws -> String {
    try format.reporter.render(
        Report(
            result: try sampleResult(), toolVersion: "9.9.9-test", color: color,
            exposure: PrometheusReporter.exposureCounts(sampleReaches()), runAt: Date(timeIntervalSince1970: 1_795_599_000)))
}

/// Compares with Goldens/report.<ext> (`${VERSION}` stands for the version); RECORD_GOLDENS=1 rewrites the file.
func assertGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    try expectGolden(
        text.replacingOccurrences(of: "9.9.9-test", with: "${VERSION}"), at: goldens.appendingPathComponent(name),
        sourceLocation: sourceLocation)
}

/// Runs a command and returns its status and combined output.
func run(_ argv: [String], stdin: String? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `../shared/tools/validate-sarif` (the official schema plus code scanning's rules), or nil when it is absent; absence
/// is a failed expectation, so a test that validates SARIF never passes without validating it.
func sarifValidator() -> URL? {
    let tool = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/tools/validate-sarif")
    guard FileManager.default.isExecutableFile(atPath: tool.path) else {
        Issue.record("\(tool.path) is missing: it is needed to validate SARIF output")
        return nil
    }
    return tool
}

func tempFile(_ name: String, _ text: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)-\(name)")
    try Data(text.utf8).write(to: url)
    return url
}

@Suite struct ReporterTests {
    @Test(arguments: ReportFormat.allCases)
    func golden(_ format: ReportFormat) throws {
        try assertGolden(try render(format), "report.\(format.fileExtension)")
    }

    @Test func sampleCoversEveryShape() throws {
        let r = try sampleResult()
        let ids = Set(r.findings.map(\.ruleId))
        for id in ["PW1001", "PW1002", "PW1004", "PW1006", "PW1019", "PW1020", "PW1021", "PW1022"] { #expect(ids.contains(id), "\(id)") }
        #expect(r.findings.contains { $0.isSuppressed })
        #expect(r.findings.contains { $0.conditional })
    }

    @Test func textColourOnlyWhenAsked() throws {
        #expect(!(try render(.text)).contains("\u{1B}["))
        #expect(try render(.text, color: true).contains("\u{1B}[1;35mCRITICAL"))
    }

    @Test func jsonMatchesItsSchema() throws {
        let json = try render(.json)
        let file = try tempFile("report.json", json)
        defer { try? FileManager.default.removeItem(at: file) }
        let schema = repoRoot.appendingPathComponent("schemas/findings-1.schema.json").path
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.validators.validator_for(schema).check_schema(schema)
            errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
            for e in errors: print(list(e.absolute_path), e.message)
            sys.exit(1 if errors else 0)
            """
        let (status, out) = try run(["python3", "-c", script, schema, file.path])
        if out.contains("No module named 'jsonschema'") {
            // Without the validator, fall back to the structural contract.
            let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(obj?["schema"] as? String == "portwarden-findings/1")
            return
        }
        #expect(status == 0, "\(out)")
    }

    @Test func baselineReadsFingerprintsBack() throws {
        let json = try render(.json)
        let fps = try FindingsJSON.fingerprints(fromReport: Data(json.utf8))
        #expect(fps == Set(try sampleResult().findings.map(\.fingerprint)))
        #expect(throws: FindingsJSON.ReadError.self) { try FindingsJSON.fingerprints(fromReport: Data("{}".utf8)) }
        // Whatever is wrong with it, a baseline that is not a report is said in one short line.
        func why(_ text: String) -> String {
            do { _ = try FindingsJSON.fingerprints(fromReport: Data(text.utf8)); return "" } catch { return error.description }
        }
        let prefix = "the baseline is not a portwarden JSON report (\(JSONReporter.schema)): "
        #expect(why("garbage") == prefix + "not valid JSON")
        #expect(why("{}") == prefix + "no 'schema' field")
        #expect(why(#"{"schema":"portwarden-snapshot/2"}"#) == prefix + "schema is 'portwarden-snapshot/2'")
        #expect(why(#"{"schema":"\#(JSONReporter.schema)","findings":7}"#) == prefix + "field 'findings' has the wrong type")
    }

    @Test func sarifShape() throws {
        let sarif = try render(.sarif)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(sarif.utf8)) as? [String: Any])
        let run = try #require((doc["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try #require(driver["rules"] as? [[String: Any]])
        #expect(rules.count == builtInChecks.count)
        #expect(rules.first?["helpUri"] == nil, "no link to documentation that may not exist; help carries the text")
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.count == (try sampleResult()).findings.count)
        for r in results {
            #expect((r["locations"] as? [Any])?.isEmpty == false)
            #expect((r["partialFingerprints"] as? [String: String])?["portwarden/v2"]?.count == 32)
        }
        #expect(results.contains { $0["suppressions"] != nil })
        #expect(results.contains { ($0["properties"] as? [String: Any])?["conditional"] as? Bool == true && $0["level"] as? String == "note" })
    }

    /// The shared validator (official schema + code scanning's rules) must accept our SARIF.
    @Test func sarifPassesValidateSarif() throws {
        guard let tool = sarifValidator() else { return }
        let file = try tempFile("report.sarif", try render(.sarif))
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, out) = try run([tool.path, file.path])
        #expect(status == 0, "\(out)")
        let empty = try ReportFormat.sarif.reporter.render(
            Report(
                result: AuditResult(
                    host: HostInfo(hostname: "h", kernel: "k", collectedAt: "t", toolVersion: "v"), policySource: "policies/default.yaml",
                    policyFiles: ["policies/default.yaml"], findings: [], checks: [], caveats: []), toolVersion: "1.0.0"))
        let emptyFile = try tempFile("empty.sarif", empty)
        defer { try? FileManager.default.removeItem(at: emptyFile) }
        let (s2, out2) = try run([tool.path, emptyFile.path])
        #expect(s2 == 0, "\(out2)")
    }
}
