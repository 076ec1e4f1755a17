import Foundation
import Checks
import Serialization
import HostModel
import Policy

/// One host's audit as read back from its JSON report (`audit --format json`), and the file it came from.
public struct HostReport: Sendable {
    /// The path given to `merge`: results without a line of their own point at line 1 of it in SARIF and Code Quality.
    public var file: String
    /// The audit as the report has it; `checks` is empty (reports do not list the checks that ran).
    public var result: AuditResult
    /// The version of portwarden that wrote the report.
    public var toolVersion: String

    public init(file: String, result: AuditResult, toolVersion: String) {
        self.file = file
        self.result = result
        self.toolVersion = toolVersion
    }

    /// Reads a report; the error is one line without the file name (the caller adds it).
    public static func read(file: String, data: Data) throws(FindingsJSON.ReadError) -> HostReport {
        let (result, version) = try FindingsJSON.result(fromReport: data)
        return HostReport(file: file, result: result, toolVersion: version)
    }

    /// The host name the audit read on the host: what identifies it in the fleet.
    public var hostname: String { result.host.hostname }

    /// The collection time; nil when the report's `collectedAt` is not RFC 3339.
    public var collectedAt: Date? { ISO8601DateFormatter().date(from: result.host.collectedAt) }
}

/// A report that lost to a newer one of the same host name.
public struct ReplacedReport: Sendable, Equatable {
    /// The host name both reports carry.
    public var hostname: String
    /// The files, and their `collectedAt` as written.
    public var kept: String
    public var keptAt: String
    public var dropped: String
    public var droppedAt: String
}

/// The reports of many hosts joined into one (`portwarden merge`): one report per host name, sorted by name.
public struct FleetReport: Sendable {
    /// Sorted by host name, one per name (see `deduplicated`).
    public var hosts: [HostReport]
    /// The version of the portwarden that merged them.
    public var toolVersion: String
    /// Paths under this directory are written relative to it (as in `Report`).
    public var baseDirectory: String?
    /// Whether conditional findings count toward failure.
    public var failOnConditional: Bool

    public init(hosts: [HostReport], toolVersion: String, baseDirectory: String? = nil, failOnConditional: Bool = false) {
        self.hosts = hosts.sorted { $0.hostname < $1.hostname }
        self.toolVersion = toolVersion
        self.baseDirectory = baseDirectory
        self.failOnConditional = failOnConditional
    }

    /// One report per host name: of two with the same name the newer collection wins (on a tie, or an unreadable
    /// time, the one given later); the losers are returned so the caller can say so.
    public static func deduplicated(_ reports: [HostReport]) -> (kept: [HostReport], replaced: [ReplacedReport]) {
        var byName: [String: HostReport] = [:]
        var order: [String] = []
        var replaced: [ReplacedReport] = []
        for r in reports {
            guard let old = byName[r.hostname] else { byName[r.hostname] = r; order.append(r.hostname); continue }
            let olderIsNewer = (old.collectedAt ?? .distantPast) > (r.collectedAt ?? .distantPast)
            let (keep, drop) = olderIsNewer ? (old, r) : (r, old)
            byName[r.hostname] = keep
            replaced.append(
                ReplacedReport(
                    hostname: r.hostname, kept: keep.file, keptAt: keep.result.host.collectedAt,
                    dropped: drop.file, droppedAt: drop.result.host.collectedAt))
        }
        return (order.compactMap { byName[$0] }, replaced)
    }

    /// The report `audit` would have made for one host: SARIF and Code Quality render it unchanged, with the host's
    /// report file as the fallback location (line 1) when the policy is the built-in one.
    public func report(_ host: HostReport) -> Report {
        let policy = host.result.policySource == DefaultPolicy.name ? nil : host.result.policySource
        return Report(
            result: host.result, toolVersion: host.toolVersion, baseDirectory: baseDirectory,
            failOnConditional: failOnConditional, inputs: ReportInputs(policyFile: policy, snapshotFile: host.file))
    }

    /// The findings that fail the merge: any host's, by `AuditResult.failing`.
    public func failing(threshold: Severity) -> [Finding] {
        hosts.flatMap { $0.result.failing(threshold: threshold, includeConditional: failOnConditional) }
    }

    /// Unsuppressed findings of one check across hosts, for "findings grouped by check".
    public struct CheckGroup: Sendable {
        public var ruleId: String
        public var slug: String
        /// The highest severity among them (a policy may set another severity per host).
        public var severity: Severity
        /// In host order, each host's findings in its report's order.
        public var findings: [(host: String, finding: Finding)]
        /// How many hosts have the check's findings.
        public var hostCount: Int { Set(findings.map(\.host)).count }
    }

    /// Every check with an unsuppressed finding on some host: highest severity first, then by id.
    public var byCheck: [CheckGroup] {
        var groups: [String: CheckGroup] = [:]
        for h in hosts {
            for f in h.result.findings where !f.isSuppressed {
                var g = groups[f.ruleId] ?? CheckGroup(ruleId: f.ruleId, slug: f.slug, severity: f.severity, findings: [])
                g.severity = max(g.severity, f.severity)
                g.findings.append((h.hostname, f))
                groups[f.ruleId] = g
            }
        }
        return groups.values.sorted { ($0.severity, $1.ruleId) > ($1.severity, $0.ruleId) }
    }
}

extension Finding {
    /// The listener or other object a finding is about, short: `tcp 0.0.0.0:5432`, else its subject.
    var shortSubject: String {
        if let l = listener { return "\(l.proto.rawValue) \(l.endpoint)" }
        return subject
    }

    /// Whether the finding is about a listener reachable from public sources.
    var isPublicListener: Bool { listener != nil && evidence?.exposure == "public" }
}

/// The formats `merge --format` accepts.
public enum FleetFormat: String, Sendable, CaseIterable {
    /// `json` is `portwarden-fleet/1`; `sarif` one run per host; `codequality` every host's issues in one array.
    case text, json, sarif, codequality

    /// The fleet in this format.
    public func render(_ fleet: FleetReport) throws(ReportEncodingError) -> String {
        switch self {
        case .text: FleetTextReporter().render(fleet)
        case .json: try FleetJSONReporter().render(fleet)
        case .sarif: try SARIFReporter.document(runs: fleet.hosts.map { SARIFReporter().run(fleet.report($0)) })
        case .codequality: try CodeQualityReporter.encode(fleet.hosts.flatMap { CodeQualityReporter().issues(fleet.report($0)) })
        }
    }
}
