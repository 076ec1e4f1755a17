import Foundation
import Checks
import HostModel
import Policy

/// The findings contract (`portwarden-findings/1`, schema in `schemas/findings-1.schema.json`): stable keys, sorted, versioned.
public struct JSONReporter: Reporter {
    public static let format = ReportFormat.json
    public static let schema = "portwarden-findings/1"

    public init() {}

    struct Document: Encodable {
        var schema: String
        var tool: Tool
        var host: Host
        var policy: PolicyInfo
        var summary: [String: Int]
        var caveats: [String]
        var findings: [Finding]
    }

    struct Tool: Encodable { var name: String; var version: String }
    struct Host: Encodable { var hostname: String; var kernel: String; var collectedAt: String }
    struct PolicyInfo: Encodable { var source: String; var files: [String] }

    public func render(_ report: Report) -> String {
        let r = report.result
        var summary: [String: Int] = [:]
        let counts = r.counts
        for s in Severity.allCases { summary[s.rawValue] = counts[s] ?? 0 }
        summary["suppressed"] = r.findings.filter(\.isSuppressed).count
        summary["total"] = r.findings.count
        var findings = r.findings
        for i in findings.indices {
            if let loc = findings[i].policyLocation { findings[i].policyLocation?.file = report.relative(loc.file) }
            if let loc = findings[i].rulesetLocation { findings[i].rulesetLocation?.file = report.relative(loc.file) }
            if let s = findings[i].suppression { findings[i].suppression?.location.file = report.relative(s.location.file) }
        }
        let doc = Document(
            schema: Self.schema, tool: Tool(name: "portwarden", version: report.toolVersion),
            host: Host(hostname: r.host.hostname, kernel: r.host.kernel, collectedAt: r.host.collectedAt),
            policy: PolicyInfo(source: report.relative(r.policySource), files: r.policyFiles.map(report.relative)),
            summary: summary, caveats: r.caveats, findings: findings)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(doc) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Why a baseline file cannot be used.
    public enum BaselineError: Error, CustomStringConvertible {
        case notAReport(String)
        public var description: String {
            switch self {
            case .notAReport(let why): "the baseline is not a portwarden JSON report (\(schema)): \(why)"
            }
        }
    }

    /// The fingerprints of an earlier JSON report, for `--baseline`.
    public static func fingerprints(fromReport data: Data) throws(BaselineError) -> Set<String> {
        struct Doc: Decodable {
            struct F: Decodable { var fingerprint: String }
            var schema: String
            var findings: [F]
        }
        let doc: Doc
        do { doc = try JSONDecoder().decode(Doc.self, from: data) } catch { throw .notAReport("\(error)") }
        guard doc.schema == schema else { throw .notAReport("schema is '\(doc.schema)'") }
        return Set(doc.findings.map(\.fingerprint))
    }
}
