import Checks
import Foundation
import HostModel
import Policy

/// How a finding compares with a baseline (SARIF `baselineState`): `--baseline` for `audit`, the old side for `diff`.
public enum BaselineState: String, Sendable, Codable {
    /// Not in the baseline.
    case new
    /// In the baseline, not wider than it was.
    case unchanged
    /// In the baseline, but its exposure or severity grew (it fails the run like a new finding).
    case updated
}

/// A finding's baseline state, and for `updated` what grew (one sentence each).
public struct BaselineMark: Sendable, Equatable {
    public var state: BaselineState
    public var widened: [String]

    public init(_ state: BaselineState, widened: [String] = []) {
        self.state = state
        self.widened = widened
    }
}

/// A report this tool made could not be encoded (a value JSON cannot carry). Never written as an empty document:
/// the command fails with exit code 4 and says what could not be written.
public struct ReportEncodingError: Error, CustomStringConvertible {
    public var document: String
    public var reason: String

    public init(document: String, reason: String) {
        self.document = document
        self.reason = reason
    }

    public var description: String { "cannot write the \(document): \(reason)" }

    /// `JSONEncoder` output as text, or this error naming `document`.
    public static func encode<T: Encodable>(_ value: T, document: String) throws(ReportEncodingError) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try enc.encode(value), as: UTF8.self) + "\n"
        } catch {
            throw ReportEncodingError(document: document, reason: "\(error)")
        }
    }
}

/// The findings contract (`portwarden-findings/1`, schema in `schemas/findings-1.schema.json`): the one writer and
/// the one reader of `audit --format json` reports (read back by `--baseline` and `merge`). Stable keys, sorted.
public enum FindingsJSON {
    public static let schema = "portwarden-findings/1"

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

    /// `tool` of every report this tool writes (findings and fleet).
    public struct Tool: Encodable, Sendable {
        var name = "portwarden"
        var version: String
        public init(version: String) { self.version = version }
    }
    struct Host: Encodable { var hostname: String; var kernel: String; var collectedAt: String }
    struct PolicyInfo: Encodable { var source: String; var files: [String] }

    /// The report of `result`, whose file paths the caller has already made relative; `baseline` marks findings by
    /// fingerprint when the run compared with one.
    public static func write(
        _ result: AuditResult, toolVersion: String, baseline: [String: BaselineMark]?
    ) throws(ReportEncodingError) -> String {
        let doc = Document(
            schema: schema, tool: Tool(version: toolVersion),
            host: Host(hostname: result.host.hostname, kernel: result.host.kernel, collectedAt: result.host.collectedAt),
            policy: PolicyInfo(source: result.policySource, files: result.policyFiles),
            summary: summary(result), caveats: result.caveats,
            findings: result.findings.map { ReportedFinding(finding: $0, mark: baseline?[$0.fingerprint]) })
        return try ReportEncodingError.encode(doc, document: "findings report")
    }

    /// `summary`: unsuppressed findings per severity, `suppressed` and `total` (also each host's `counts` in a fleet).
    public static func summary(_ r: AuditResult) -> [String: Int] {
        var out: [String: Int] = [:]
        let c = r.counts
        for s in Severity.allCases { out[s.rawValue] = c[s] ?? 0 }
        out["suppressed"] = r.findings.filter(\.isSuppressed).count
        out["total"] = r.findings.count
        return out
    }

    /// Why a report file cannot be used as a baseline or merged.
    public enum ReadError: Error, CustomStringConvertible {
        case notAReport(String)
        public var description: String {
            switch self {
            case .notAReport(let why): "the baseline is not a portwarden JSON report (\(schema)): \(why)"
            }
        }
    }

    /// The fingerprints of an earlier JSON report.
    public static func fingerprints(fromReport data: Data) throws(ReadError) -> Set<String> {
        Set(try findings(fromReport: data).map(\.fingerprint))
    }

    /// The findings of an earlier JSON report, for `--baseline` (compared by fingerprint, then for widening).
    public static func findings(fromReport data: Data) throws(ReadError) -> [Finding] {
        struct Doc: Decodable { var findings: [Finding] }
        return try decode(Doc.self, fromReport: data).findings
    }

    /// A whole JSON report read back (`merge`): the host, policy, caveats and findings, and the version that wrote it.
    /// The checks that ran are not in a report, so `checks` is empty.
    public static func result(fromReport data: Data) throws(ReadError) -> (result: AuditResult, toolVersion: String) {
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

    /// Decodes a report after checking its schema; every failure is one readable `ReadError`.
    static func decode<T: Decodable>(_ type: T.Type, fromReport data: Data) throws(ReadError) -> T {
        do {
            let head = try JSONDecoder().decode(Head.self, from: data)
            guard head.schema == schema else { throw ReadError.notAReport("schema is '\(head.schema)'") }
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as ReadError {
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
