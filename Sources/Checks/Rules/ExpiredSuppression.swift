import HostModel
import Policy

/// PW1022: a suppression whose `expires` date has passed; it no longer suppresses anything.
public struct ExpiredSuppression: Check {
    public static let metadata = CheckMetadata(
        id: "PW1022", slug: "expired-suppression", title: "Expired suppression", defaultSeverity: .medium, category: .policy,
        summary:
            "A suppression in the policy has passed its `expires` date: the findings it waived are reported again, and the entry should be renewed or removed.",
        rationale: "Waivers with an end date force a second look. An expired waiver left in the file hides the history of that decision.",
        remediation: "Fix the waived finding and delete the suppression, or extend `expires` with a new reason.")

    public static let examples: [Example] = [
        Example(
            "still valid", policy: "version: 1\nsuppressions: [{rule: PW1001, port: 8080, reason: migration, expires: 2099-01-01}]\n",
            host: ExampleHost()),
        Example(
            "expired", policy: "version: 1\nsuppressions: [{rule: PW1001, port: 8080, reason: migration, expires: 2020-01-01}]\n",
            host: ExampleHost(),
            expect: ["policy/suppression/PW1001/8080/"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.policy.suppressions.filter { $0.isExpired(on: c.today) }.map { s in
            finding(
                "policy/suppression/\(s.rule)/\(s.port.map(String.init) ?? "*")/\(s.fingerprint ?? "")",
                "The suppression of \(s.rule)\(s.port.map { " on port \($0)" } ?? "") at \(s.location) expired on \(s.expires?.description ?? "?") (reason was: \(s.reason)).",
                policyLocation: s.location)
        }
    }
}
