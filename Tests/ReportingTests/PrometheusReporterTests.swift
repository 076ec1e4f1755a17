import Foundation
import HostModel
import Evaluator
import Policy
import Checks
import Testing
@testable import Reporting

/// The textfile-collector exposition: strict 0.0.4 syntax on every line, each family introduced once, every severity
/// and exposure class present, counts that agree with the audit, escaped label values, and a failed run that says so.
@Suite struct PrometheusReporterTests {
    static let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
    static let label = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*""#
    static let sample = "^\(name)(\\{\(label)(,\(label))*\\})? -?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?$"
    static let help = "^# HELP (\(name)) [^\\n]*$"
    static let type = "^# TYPE (\(name)) (gauge|counter|untyped)$"

    /// Checks the syntax and the HELP/TYPE order; returns each sample line's metric name and the line.
    func validate(_ text: String) throws -> [(metric: String, line: String)] {
        #expect(text.hasSuffix("\n"), "the last line ends with a line feed")
        var declared: Set<String> = [], current: String?, helped: String?
        var samples: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            if line.hasPrefix("# HELP ") {
                let m = try #require(line.firstMatch(of: try Regex(Self.help)), "bad HELP: \(line)")
                helped = String(try #require(m.output[1].substring))
            } else if line.hasPrefix("# TYPE ") {
                let m = try #require(line.firstMatch(of: try Regex(Self.type)), "bad TYPE: \(line)")
                let family = String(try #require(m.output[1].substring))
                #expect(helped == family, "HELP precedes TYPE for \(family)")
                #expect(!declared.contains(family), "\(family) is declared once")
                declared.insert(family)
                current = family
            } else {
                #expect(line.range(of: Self.sample, options: .regularExpression) != nil, "not an exposition sample: \(line)")
                let metric = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(metric == current, "\(metric) follows its own TYPE line")
                samples.append((metric, line))
            }
        }
        return samples
    }

    func value(_ samples: [(metric: String, line: String)], _ prefix: String) -> Int? {
        samples.first { $0.line.hasPrefix(prefix) }.flatMap { Int($0.line.split(separator: " ").last ?? "") }
    }

    @Test func everyLineIsStrictExposition() throws {
        let text = try render(.prometheus)
        let samples = try validate(text)
        let families = Set(samples.map(\.metric))
        #expect(
            families == [
                "portwarden_findings", "portwarden_findings_by_check", "portwarden_findings_suppressed", "portwarden_listeners",
                "portwarden_last_run_timestamp_seconds", "portwarden_last_run_success"
            ])
        #expect(!text.contains("# TYPE portwarden_findings counter"), "gauges: each file replaces the last")
    }

    @Test func countsAgreeWithTheAudit() throws {
        let result = try sampleResult()
        let samples = try validate(try render(.prometheus))
        for s in Severity.allCases {
            let expected = result.findings.filter { !$0.isSuppressed && $0.severity == s }.count
            #expect(value(samples, #"portwarden_findings{host="web-01",severity="\#(s.rawValue)"}"#) == expected, "\(s): zeros included")
        }
        let byCheck = samples.filter { $0.metric == "portwarden_findings_by_check" }
        #expect(
            byCheck.compactMap { Int($0.line.split(separator: " ").last ?? "") }.reduce(0, +) == result.findings.filter { !$0.isSuppressed }.count)
        for f in result.findings where !f.isSuppressed {
            #expect(byCheck.contains { $0.line.contains(#"check="\#(f.ruleId)",severity="\#(f.severity.rawValue)""#) }, "\(f.ruleId)")
        }
        #expect(value(samples, #"portwarden_findings_suppressed{host="web-01"}"#) == result.findings.filter(\.isSuppressed).count)
        let reaches = sampleReaches()
        for c: ExposureSummary in [.public, .conditional, .restricted, .localOnly, .blocked] {
            #expect(
                value(samples, #"portwarden_listeners{host="web-01",exposure="\#(c.rawValue)"}"#) == reaches.filter { $0.summary == c }.count,
                "\(c)")
        }
        #expect(value(samples, #"portwarden_last_run_timestamp_seconds{host="web-01"}"#) == 1_795_599_000)
        #expect(value(samples, #"portwarden_last_run_success{host="web-01"}"#) == 1)
    }

    @Test func unknownExposureIsLeftOutAndTheCollectionTimeStandsInForTheRunTime() throws {
        let result = try sampleResult()
        let text = PrometheusReporter().render(Report(result: result, toolVersion: "t"))
        let samples = try validate(text)
        #expect(!samples.contains { $0.metric == "portwarden_listeners" }, "not computed: not written as zero")
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = try #require(TimeZone(identifier: "UTC"))
        let collected = try #require(utc.date(from: DateComponents(year: 2026, month: 11, day: 25, hour: 9)))
        #expect(value(samples, #"portwarden_last_run_timestamp_seconds{host="web-01"}"#) == Int(collected.timeIntervalSince1970))
    }

    @Test func labelValuesAreEscaped() throws {
        #expect(PrometheusReporter.escapeLabel(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        var result = try sampleResult()
        result.host.hostname = "we\"b\\01\nx"
        result.findings = [Finding(ruleId: "PW\"1\\\n", slug: "odd", severity: .high, message: "m", subject: "host/x", remediation: "r")]
        let text = PrometheusReporter().render(Report(result: result, toolVersion: "t"))
        let samples = try validate(text)
        #expect(samples.contains { $0.line == #"portwarden_findings_by_check{host="we\"b\\01\nx",check="PW\"1\\\n",severity="high"} 1"# }, "\(text)")
        #expect(samples.contains { $0.line == #"portwarden_findings{host="we\"b\\01\nx",severity="high"} 1"# })
    }

    @Test func aFailedRunSaysSoWithoutCounts() throws {
        let text = PrometheusReporter.failedRun(host: "web-01", at: Date(timeIntervalSince1970: 1_795_599_123.9))
        let samples = try validate(text)
        #expect(
            samples.map(\.line) == [
                #"portwarden_last_run_timestamp_seconds{host="web-01"} 1795599123"#,
                #"portwarden_last_run_success{host="web-01"} 0"#
            ])
    }
}
