import ArgumentParser
import Foundation
import HostModel
import Serialization
import Evaluator
import Policy
import Checks
import Reporting
import Diffing
import RulesetSource

extension ReportFormat: CaseInsensitiveArgument {
    // A public type's witness must be public, so the protocol's default cannot serve here.
    public init?(argument: String) {
        self.init(anyCase: argument)
    }
}

/// `--fail-on`: a severity, or `none` to never fail on findings.
enum FailThreshold: String, CaseInsensitiveArgument {
    case info, low, medium, high, critical, none

    var severity: Severity? { Severity(rawValue: rawValue) }
}

/// `portwarden audit`: the CI job. Host (or snapshot) + policy → findings → report and exit code.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract:
            "Audit this host (or a saved snapshot) against a policy and report findings as text, JSON, SARIF, GitLab Code Quality or Prometheus metrics.",
        discussion: """
            Without --policy the built-in default policy is used (policies/default.yaml): it flags sensitive services \
            reachable beyond loopback, missing or wide-open firewalls, and the other host checks. `portwarden rules` lists \
            every check; `portwarden explain PW1006` documents one.

            Findings at or above --fail-on (default: medium) make the exit code 1. Suppressed findings are reported but \
            never fail the run; conditional findings (the verdict depends on limits, marks or unknown expressions) fail it \
            only with --fail-on-conditional. With --baseline, findings whose fingerprint appears in an earlier JSON report \
            do not fail the run either, unless their exposure or severity grew since (reported as updated / widened).

            --format sarif needs a file of your repository for code scanning to point at: --policy FILE, --snapshot FILE \
            or --ruleset FILE (the built-in policy is not in your repository).

            --format prometheus writes node_exporter textfile-collector metrics; when the run fails (exit 2 or 3) it \
            still writes portwarden_last_run_success 0 and the time, without finding counts.

            \(ExitStatus.documentation)
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var candidate: CandidateRuleset

    @Option(name: .long, help: ArgumentHelp("Policy file (YAML, version 1). Default: the built-in policy.", valueName: "file"))
    var policy: String?

    @Option(name: .long, help: "Report format: text, json, sarif, codequality (GitLab) or prometheus (node_exporter textfile).")
    var format: ReportFormat = .text

    @Option(name: .long, help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Option(name: .long, help: "Exit 1 when an unsuppressed finding is at or above this severity: info, low, medium, high, critical, or none.")
    var failOn: FailThreshold = .medium

    @Option(name: .long, help: ArgumentHelp("An earlier JSON report: findings in it do not fail the run unless they got wider.", valueName: "file"))
    var baseline: String?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Skip this check (id or slug); repeatable.", valueName: "rule"))
    var ignore: [String] = []

    @Flag(name: .long, help: "Let conditional findings fail the run too.")
    var failOnConditional = false

    func validate() throws {
        for name in ignore where check(named: name) == nil {
            throw ValidationError("--ignore \(name): no such check (see `portwarden rules`)\(CheckNames.suggestion(name))")
        }
        if format == .sarif, policy == nil, source.snapshot == nil, candidate.ruleset == nil {
            throw ValidationError(sarifNeedsAFile)
        }
    }

    func run() throws {
        let host = HostSeen()
        let reportFailure: (Int32) -> Void = { write(failedRun: $0, host: host) }
        let failing = try exitOnFailure(reportingFailure: reportFailure) { () throws -> Int in
            let (snapshot, rulesetMap) = try candidate.apply(to: source.load())
            host.name = snapshot.host.hostname
            let policy = try loadPolicy(policy, hostname: snapshot.host.hostname, allowInclude: candidate.allowInclude)
            let known = try baseline.map(readBaseline)
            let evaluator = Evaluator(snapshot: snapshot)
            let reaches = evaluator.exposure().map(ListenerReach.init)
            let context = AuditContext(
                snapshot: snapshot, reaches: reaches, policy: policy, today: PolicyDate.todayUTC(), rules: evaluator.rules)
            var result = Auditor.run(context, options: AuditOptions(ignore: ignore), caveats: evaluator.caveats + snapshot.warnings)
            if let rulesetMap {
                // Candidate findings name their line in the file and fix the file, not the throwaway namespace.
                result.findings = rulesetMap.locating(result.findings, reaches: reaches, baseDirectory: FileManager.default.currentDirectoryPath)
                if format.pointsAtFiles { result.findings = rulesetMap.pointing(result.findings, reaches: reaches) }
            }
            let marks = known.map { FindingWidener.marks(baseline: $0, current: result.findings) }
            let report = Report(
                result: result, toolVersion: toolVersion, baseDirectory: FileManager.default.currentDirectoryPath,
                color: output == nil && format == .text && terminalWantsColour(), failOnConditional: failOnConditional,
                inputs: ReportInputs(policyFile: self.policy, rulesetFile: candidate.ruleset, snapshotFile: source.snapshot),
                baseline: marks, exposure: PrometheusReporter.exposureCounts(reaches), runAt: Date())
            try emit(format.reporter.render(report), to: output)
            guard let threshold = failOn.severity else { return 0 }
            let unchanged = Set(marks?.filter { $0.value.state == .unchanged }.map(\.key) ?? [])
            return result.failing(threshold: threshold, includeConditional: failOnConditional, baseline: unchanged).count
        }
        if failing > 0 { throw ExitCode(ExitStatus.findings.rawValue) }
    }

    func readBaseline(_ path: String) throws -> [Finding] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CommandFailure(status: .invalidInput, message: "cannot read the baseline \(path): \(error.localizedDescription)")
        }
        do { return try FindingsJSON.findings(fromReport: data) } catch {
            throw CommandFailure(status: .invalidInput, message: "\(path): \(error)")
        }
    }
}

/// Why `--format sarif` needs a policy, snapshot or ruleset file: code scanning refuses results without a file to point at.
let sarifNeedsAFile = """
    --format sarif needs a file of your repository for the results to point at: give --policy FILE (start one with \
    `portwarden policy init`), --snapshot FILE or --ruleset FILE; the built-in policy is not a file of your repository
    """

/// The policy from `--policy`, or the built-in default; a bad policy is exit 2 with `file:line:column`.
func loadPolicy(_ path: String?, hostname: String, allowInclude: [String] = []) throws -> Policy {
    do {
        let policy =
            if let path { try PolicyLoader.load(path: path, hostname: hostname, allowInclude: allowInclude) } else {
                try PolicyLoader.builtInDefault()
            }
        try CheckNames.validate(policy)
        return policy
    } catch {
        throw CommandFailure(status: .invalidInput, message: error.description)
    }
}

/// Colour only on a terminal, only when NO_COLOR is unset (https://no-color.org) and TERM is not `dumb`.
func terminalWantsColour() -> Bool {
    let environment = ProcessInfo.processInfo.environment
    if let v = environment["NO_COLOR"], !v.isEmpty { return false }
    if environment["TERM"] == "dumb" { return false }
    return isatty(STDOUT_FILENO) == 1
}

extension PolicyDate {
    /// Today's date in UTC: suppressions expire at the start of their `expires` day. Only the CLI reads the clock.
    static func todayUTC() -> PolicyDate {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC") ?? cal.timeZone
        let c = cal.dateComponents([.year, .month, .day], from: Date())
        return PolicyDate(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1)
    }
}
