import Foundation
import Checks
import HostModel
import Policy
import Serialization

/// The fleet contract (`portwarden-fleet/1`): `hosts[]` with each host's counts and findings exactly as in its own
/// report, and `byCheck[]` with every check's unsuppressed findings across hosts. Stable keys, sorted.
public struct FleetJSONReporter: Sendable {
    public static let schema = "portwarden-fleet/1"

    public init() {}

    struct Document: Encodable {
        var schema: String
        var tool: Tool
        var hosts: [Host]
        var byCheck: [Check]
    }

    typealias Tool = FindingsJSON.Tool

    struct Host: Encodable {
        var host: String
        var kernel: String
        var collectedAt: String
        /// The report file it was read from, and the portwarden version that wrote it.
        var report: String
        var toolVersion: String
        var policy: String
        var counts: [String: Int]
        var caveats: [String]
        var findings: [Finding]
    }

    struct Check: Encodable {
        var ruleId: String
        var slug: String
        var severity: String
        var hosts: [String]
        var findings: [Item]
    }

    struct Item: Encodable {
        var host: String
        var subject: String
        var severity: String
        var conditional: Bool
        var fingerprint: String
    }

    /// The fleet as `portwarden-fleet/1` (schemas/fleet-1.schema.json).
    public func render(_ fleet: FleetReport) throws(ReportEncodingError) -> String {
        let hosts = fleet.hosts.map { h in
            let report = fleet.report(h)
            return Host(
                host: h.hostname, kernel: h.result.host.kernel, collectedAt: h.result.host.collectedAt,
                report: report.relative(h.file), toolVersion: h.toolVersion, policy: h.result.policySource,
                counts: FindingsJSON.summary(h.result), caveats: h.result.caveats, findings: h.result.findings)
        }
        let checks = fleet.byCheck.map { g in
            var names: [String] = []
            for item in g.findings where !names.contains(item.host) { names.append(item.host) }
            return Check(
                ruleId: g.ruleId, slug: g.slug, severity: g.severity.rawValue, hosts: names,
                findings: g.findings.map {
                    Item(
                        host: $0.host, subject: $0.finding.subject, severity: $0.finding.severity.rawValue,
                        conditional: $0.finding.conditional, fingerprint: $0.finding.fingerprint)
                })
        }
        let doc = Document(schema: Self.schema, tool: Tool(version: fleet.toolVersion), hosts: hosts, byCheck: checks)
        return try ReportEncodingError.encode(doc, document: "fleet report")
    }
}
