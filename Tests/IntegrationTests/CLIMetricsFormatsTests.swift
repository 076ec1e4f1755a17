import Foundation
import Testing

/// `audit --format prometheus|codequality` and `diff --format codequality` through the built binary, on the committed
/// snapshot: the metrics file is replaced by the run, also by a failed one (success 0, no counts). No root needed.
@Suite struct CLIMetricsFormatsTests {
    static let fixture = CLITraceExposureTests.fixture

    func portwarden(_ args: [String]) throws -> CommandResult {
        try run([portwardenBinary] + args, check: false)
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The value of the sample line that starts with `prefix`.
    func value(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func prometheusWritesTheMetricsFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("portwarden.prom").path
        let before = Date().timeIntervalSince1970.rounded(.down)
        let r = try portwarden(["audit", "--snapshot", Self.fixture, "--format", "prometheus", "--output", file, "--fail-on", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(value(text, #"portwarden_last_run_success{host="fixture-host"}"#) == 1, "\(text)")
        let at = try #require(value(text, #"portwarden_last_run_timestamp_seconds{host="fixture-host"}"#))
        #expect(at >= before && at <= Date().timeIntervalSince1970 + 1, "the time of the run, not of the snapshot")
        let listeners = text.split(separator: "\n").filter { $0.hasPrefix("portwarden_listeners{") }
        #expect(listeners.count == 5, "every exposure class")
        #expect(listeners.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +) > 0)
        #expect(value(text, #"portwarden_findings{host="fixture-host",severity="critical"}"#) != nil)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["portwarden.prom"], "written beside and renamed into place: \(leftovers)")
    }

    @Test func aFailedRunReplacesTheMetricsWithSuccessZero() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("portwarden.prom").path
        try "portwarden_last_run_success{host=\"fixture-host\"} 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let missing = try portwarden([
            "audit", "--snapshot", dir.appendingPathComponent("missing.json").path, "--format", "prometheus", "--output", file
        ])
        #expect(missing.status == 2, "\(missing.stderr)")
        var text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(value(text, #"portwarden_last_run_success{host="unknown"}"#) == 0, "\(text)")
        #expect(value(text, #"portwarden_last_run_timestamp_seconds{host="unknown"}"#) != nil)
        #expect(!text.contains("portwarden_findings"), "counts are unknown, not zero")

        let policy = dir.appendingPathComponent("bad.yaml").path
        try "version: 1\nlisteners:\n  - proto: tcp\n    exposur: public\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let bad = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", policy, "--format", "prometheus", "--output", file])
        #expect(bad.status == 2, "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yaml:4:5"), "\(bad.stderr)")
        text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(value(text, #"portwarden_last_run_success{host="fixture-host"}"#) == 0, "the snapshot was read: its hostname")

        // Other formats keep the rule that a failed run leaves the file as it was.
        let json = dir.appendingPathComponent("report.json").path
        try "previous\n".write(toFile: json, atomically: true, encoding: .utf8)
        let r = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", policy, "--format", "json", "--output", json])
        #expect(r.status == 2)
        #expect(try String(contentsOfFile: json, encoding: .utf8) == "previous\n")
    }

    @Test func codeQualityFromAuditAndDiff() throws {
        let audit = try portwarden(["audit", "--snapshot", Self.fixture, "--format", "CodeQuality", "--fail-on", "none"])
        #expect(audit.status == 0, "\(audit.stderr)")
        let issues = try #require(try JSONSerialization.jsonObject(with: audit.stdoutData) as? [[String: Any]])
        #expect(!issues.isEmpty)
        for issue in issues {
            let path = (issue["location"] as? [String: Any])?["path"] as? String
            #expect(path?.hasSuffix("trace-exposure-snapshot.json") == true, "the snapshot given, not the built-in policy: \(issue)")
        }
        let same = try portwarden(["diff", Self.fixture, Self.fixture, "--format", "codequality"])
        #expect(same.status == 0, "\(same.stderr)")
        let none = try #require(try JSONSerialization.jsonObject(with: same.stdoutData) as? [Any], "\(same.stdout)")
        #expect(none.isEmpty, "no change, no issue: \(same.stdout)")
        let prom = try portwarden(["diff", Self.fixture, Self.fixture, "--format", "prometheus"])
        #expect(prom.status == 64, "prometheus is for audit: \(prom.stderr)")
    }
}
