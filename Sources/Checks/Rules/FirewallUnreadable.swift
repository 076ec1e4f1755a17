import HostModel
import Policy

/// PW1015: the collector could not read the ruleset, so no exposure conclusion is safe.
public struct FirewallUnreadable: Check {
    public static let metadata = CheckMetadata(
        id: "PW1015", slug: "firewall-unreadable", title: "Firewall unreadable", defaultSeverity: .high, category: .firewall,
        summary: "The nftables ruleset could not be read (usually: no CAP_NET_ADMIN), so every exposure in this report is a guess.",
        rationale:
            "\"Could not read\" is not \"nothing there\": the audit cannot tell which listeners are filtered. It is reported so a CI job never passes on a blind audit.",
        remediation: "Run the audit (or `portwarden collect`) as root or with CAP_NET_ADMIN.")

    public static let examples: [Example] = [
        Example("readable", host: ExampleHost()),
        Example(
            "permission denied",
            host: ExampleHost(firewall: Firewall(status: .unreadable, error: "EPERM: CAP_NET_ADMIN is needed to read nf_tables")),
            expect: ["host/firewall"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        let fw = c.snapshot.firewall
        guard fw.status == .unreadable else { return [] }
        return [
            finding(
                "host/firewall", "The firewall could not be read (\(fw.error ?? "no reason recorded")); exposure is computed as if nothing filtered.")
        ]
    }
}
