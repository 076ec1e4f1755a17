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
        var findings: [ReportedFinding]
    }

    /// A finding plus, with `--baseline`, `baselineState` (`new`, `unchanged`, `updated`) and what `widened`.
    struct ReportedFinding: Encodable {
        var finding: Finding
        var mark: BaselineMark?

        enum Keys: String, CodingKey { case baselineState, widened }

        func encode(to encoder: any Encoder) throws {
            try finding.encode(to: encoder)
            guard let mark else { return }
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(mark.state, forKey: .baselineState)
            if !mark.widened.isEmpty { try c.encode(mark.widened, forKey: .widened) }
        }
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
            summary: summary, caveats: r.caveats,
            findings: findings.map { ReportedFinding(finding: $0, mark: report.baseline?[$0.fingerprint]) })
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

    /// The fingerprints of an earlier JSON report.
    public static func fingerprints(fromReport data: Data) throws(BaselineError) -> Set<String> {
        Set(try findings(fromReport: data).map(\.fingerprint))
    }

    /// The findings of an earlier JSON report, for `--baseline` (compared by fingerprint, then for widening).
    public static func findings(fromReport data: Data) throws(BaselineError) -> [Finding] {
        struct Doc: Decodable { var findings: [Finding] }
        return try decode(Doc.self, fromReport: data).findings
    }

    /// A whole JSON report read back (`merge`): the host, policy, caveats and findings, and the version that wrote it.
    /// The checks that ran are not in a report, so `checks` is empty.
    public static func result(fromReport data: Data) throws(BaselineError) -> (result: AuditResult, toolVersion: String) {
        struct ToolIn: Decodable { var version: String }
        struct HostIn: Decodable { var hostname: String; var kernel: String; var collectedAt: String }
        struct Doc: Decodable { var tool: ToolIn; var host: HostIn; var policy: PolicyInfoIn; var caveats: [String]; var findings: [Finding] }
        struct PolicyInfoIn: Decodable { var source: String; var files: [String] }
        let doc = try decode(Doc.self, fromReport: data)
        let host = HostInfo(hostname: doc.host.hostname, kernel: doc.host.kernel, collectedAt: doc.host.collectedAt, toolVersion: doc.tool.version)
        let result = AuditResult(
            host: host, policySource: doc.policy.source, policyFiles: doc.policy.files, findings: doc.findings,
            checks: [], caveats: doc.caveats)
        return (result, doc.tool.version)
    }

    /// Decodes a report after checking its schema; every failure is one readable `BaselineError`.
    static func decode<T: Decodable>(_ type: T.Type, fromReport data: Data) throws(BaselineError) -> T {
        do {
            let head = try JSONDecoder().decode(Head.self, from: data)
            guard head.schema == schema else { throw BaselineError.notAReport("schema is '\(head.schema)'") }
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as BaselineError {
            throw e
        } catch let e as DecodingError {
            throw .notAReport(Self.reason(e))
        } catch {
            throw .notAReport("\(error)")
        }
    }

    private struct Head: Decodable { var schema: String }

    /// A decoding failure in a few words (the baseline error is one readable line, not a Swift dump).
    static func reason(_ e: DecodingError) -> String {
        let field = SnapshotCodec.fieldPath
        switch e {
        case .dataCorrupted(let c) where c.codingPath.isEmpty: return "not valid JSON"
        case .dataCorrupted(let c): return "field '\(field(c.codingPath))' is invalid"
        case .keyNotFound(let k, let c): return "no '\(field(c.codingPath + [k]))' field"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "field '\(field(c.codingPath))' has the wrong type"
        @unknown default: return "not a findings report"
        }
    }
}
