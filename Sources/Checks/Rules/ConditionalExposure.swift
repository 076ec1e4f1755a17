import HostModel
import Policy

/// PW1021: whether a listener is reachable depends on state the snapshot cannot decide.
public struct ConditionalExposure: Check {
    public static let metadata = CheckMetadata(
        id: "PW1021", slug: "conditional-exposure", title: "Conditional exposure", defaultSeverity: .low, category: .exposure,
        summary:
            "The verdict for some new connections to a listener depends on rate limits, quotas, marks, dynamic sets or expressions the evaluator does not model.",
        rationale:
            "Conditional verdicts are treated as reachable by the other checks; this finding says why the answer is uncertain so it can be made deterministic or reviewed. It does not fail a run unless `--fail-on-conditional` is given.",
        remediation:
            "Make the decision static where possible (accept or drop by address and port), and treat limits and marks as rate control, not access control."
    )

    public static let examples: [Example] = [
        Example("decided", host: ExampleHost([.example(.tcp, "0.0.0.0:22", .public, process: "sshd")])),
        Example(
            "rate-limited accept",
            host: ExampleHost([
                .example(
                    .tcp, "0.0.0.0:22", .conditional, process: "sshd", sources: [],
                    reasons: ["limit rate 10/minute"])
            ]),
            expect: ["listener/tcp/0.0.0.0:22"])
    ]

    public init() {}

    public func check(_ c: AuditContext) -> [Finding] {
        c.reaches.filter { $0.summary == .conditional }.map { r in
            let why = r.reasons.isEmpty ? "unmodelled state" : r.reasons.joined(separator: "; ")
            return finding(
                r.subject, "Whether \(describe(r.listener)) is reachable from outside depends on \(why).",
                listener: r.listener, evidence: r.evidence, conditional: true)
        }
    }
}
