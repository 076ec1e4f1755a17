import Checks
import HostModel
import Policy

/// The fleet for people: one line per host (counts by severity, public listeners named by its findings, caveats), then
/// every check with findings across hosts ("PW1006 sensitive-service-exposed [high]: 2 hosts: db1 tcp 0.0.0.0:5432, …").
public struct FleetTextReporter: Sendable {
    public init() {}

    /// The whole fleet as text; host-derived strings escaped.
    public func render(_ fleet: FleetReport) -> String {
        var out = "portwarden \(fleet.toolVersion) fleet report: \(fleet.hosts.count) host\(fleet.hosts.count == 1 ? "" : "s")\n\nHOSTS\n"
        for h in fleet.hosts { out += hostLines(h) }
        let groups = fleet.byCheck
        out += "\nFINDINGS BY CHECK\n"
        if groups.isEmpty { out += "  No unsuppressed findings on any host.\n" }
        for g in groups { out += checkLine(g) }
        var total: [Severity: Int] = [:]
        for h in fleet.hosts { total.merge(h.result.counts, uniquingKeysWith: +) }
        let parts = Severity.allCases.reversed().map { "\(total[$0] ?? 0) \($0.rawValue)" }
        out += "\nSummary: \(fleet.hosts.count) hosts; \(parts.joined(separator: ", ")).\n"
        return out
    }

    /// `db1 (collected …): 0 critical, 1 high, …; 0 suppressed; public: tcp 0.0.0.0:5432`, and the host's caveats.
    func hostLines(_ h: HostReport) -> String {
        let r = h.result
        let counts = r.counts
        let parts = Severity.allCases.reversed().map { "\(counts[$0] ?? 0) \($0.rawValue)" }
        let suppressed = r.findings.filter(\.isSuppressed).count
        var endpoints: [String] = []
        for f in r.findings where f.isPublicListener && !endpoints.contains(f.shortSubject) { endpoints.append(f.shortSubject) }
        // A report lists listeners only through findings: one without a finding is not known here, so "none" is not said.
        let exposed = endpoints.isEmpty ? "no public listener among its findings" : "public: " + endpoints.joined(separator: ", ")
        var s =
            "  \(safe(h.hostname)) (collected \(r.host.collectedAt)): \(parts.joined(separator: ", ")); \(suppressed) suppressed; \(safe(exposed))\n"
        for c in r.caveats { s += "    caveat: \(safe(c))\n" }
        return s
    }

    func checkLine(_ g: FleetReport.CheckGroup) -> String {
        let items = g.findings.map { item in
            "\(item.host) \(item.finding.shortSubject)" + (item.finding.conditional ? " (conditional)" : "")
        }
        let hosts = g.hostCount == 1 ? "1 host" : "\(g.hostCount) hosts"
        return "  \(g.ruleId) \(g.slug) [\(g.severity.rawValue)]: \(hosts): \(safe(items.joined(separator: ", ")))\n"
    }

    /// Host-derived text with control characters escaped, as in the audit's text report.
    func safe(_ s: String) -> String { TerminalText.escape(s) }
}
