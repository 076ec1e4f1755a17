import ArgumentParser
import Foundation
import HostModel
import Serialization
import Policy
import Checks
import Reporting
import Diffing
import RulesetSource
import Collector

/// `portwarden diff`: what a change does to exposure and findings, between two snapshots, a snapshot and the live
/// host, or a host and a candidate ruleset that is not applied yet (the pull-request check).
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare exposure and findings between two snapshots, or the host and a candidate ruleset.",
        discussion: """
            Forms (OLD and NEW: a snapshot file, or `live` for this host):
              portwarden diff OLD NEW
              portwarden diff OLD NEW --ruleset FILE         NEW evaluated with FILE
              portwarden diff [--snapshot S] --ruleset FILE  S (or live) vs S + FILE
            Pull-request check: portwarden diff --snapshot prod-web.json \\
              --ruleset new/nftables.conf --format sarif --fail-on high

            Reported per listener: listener added/removed, newly reachable / no longer \
            reachable, wider/narrower sources, family added/removed, interface added/removed, \
            owner changed; and findings new, widened and fixed (matched by fingerprint; one \
            policy judges both sides). A finding on both sides is widened when it now reaches \
            more sources, interfaces or families, became reachable or certain, or got a higher \
            severity. --format sarif lists the new (baselineState new) and widened (updated) \
            findings, --format codequality (GitLab Code Quality) the same ones; with \
            --ruleset, a finding about a rule, or about a listener whose exposure a rule \
            decides, points at that rule's line in FILE. --fail-on applies to \
            new and widened findings; narrowing never fails. --format sarif needs a file to \
            point at: --policy FILE, --ruleset FILE, or NEW as a snapshot file.

            --ruleset loads FILE with nft in a private network namespace that portwarden \
            creates and removes itself (in a new user namespace when not root). A FILE that \
            does not load is exit 2 with nft's file:line:column message; no usable namespace \
            (unprivileged user namespaces disabled) is exit 3.

            \(ExitStatus.documentation)
            """
    )

    @Argument(help: ArgumentHelp("Old side: a snapshot file, or `live`.", valueName: "old")) var old: String?
    @Argument(help: ArgumentHelp("New side: a snapshot file, or `live`.", valueName: "new")) var new: String?

    @Option(name: .long, help: ArgumentHelp("With --ruleset and no OLD/NEW: the snapshot to compare (default: the live host).", valueName: "file"))
    var snapshot: String?

    @OptionGroup var candidate: CandidateRuleset

    @Option(name: .long, help: ArgumentHelp("Policy file (YAML, version 1). Default: the built-in policy.", valueName: "file"))
    var policy: String?

    @Option(name: .long, help: "Report format: text, json, sarif or codequality (GitLab).") var format: ReportFormat = .text

    @Option(name: .long, help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Option(name: .long, help: "Exit 1 when a new unsuppressed finding is at or above this severity: info, low, medium, high, critical, or none.")
    var failOn: FailThreshold = .medium

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Skip this check (id or slug); repeatable.", valueName: "rule"))
    var ignore: [String] = []

    @Flag(name: .long, help: "Let new conditional findings fail the run too.") var failOnConditional = false

    @Flag(name: .long, help: "Continue with a partial view when the live firewall cannot be read.") var allowPartial = false

    func validate() throws {
        switch (old, new) {
        case (nil, nil):
            guard candidate.ruleset != nil else {
                throw ValidationError("give OLD and NEW, or --ruleset FILE (with --snapshot FILE or the live host)")
            }
        case (_?, nil):
            throw ValidationError("give both OLD and NEW (a snapshot file or `live` each)")
        default:
            if snapshot != nil { throw ValidationError("--snapshot is for the form without OLD/NEW; give the snapshot as OLD or NEW") }
        }
        for name in ignore where check(named: name) == nil {
            throw ValidationError("--ignore \(name): no such check (see `portwarden rules`)")
        }
        if format == .sarif, policy == nil, candidate.ruleset == nil, snapshotFile == nil { throw ValidationError(sarifNeedsAFile) }
        if format == .prometheus {
            throw ValidationError("--format prometheus is for `portwarden audit`; diff writes text, json, sarif or codequality")
        }
    }

    /// The snapshot file of the new side, if it is a file (SARIF results may point at it).
    var snapshotFile: String? {
        let spec = new ?? snapshot
        return spec == "live" ? nil : spec
    }

    func side(_ spec: String) throws -> Snapshot {
        if spec == "live" { return try HostSource.live(allowPartial: allowPartial) }
        return try SnapshotCodec.load(path: spec)
    }

    func run() throws {
        let failing = try exitOnFailure { () throws -> Int in
            let oldSnap: Snapshot, newBase: Snapshot
            let oldLabel: String
            if let old, let new {
                oldSnap = try side(old)
                newBase = try side(new)
                oldLabel = old
            } else {
                oldSnap = try snapshot.map { try SnapshotCodec.load(path: $0) } ?? HostSource.live(allowPartial: allowPartial)
                newBase = oldSnap
                oldLabel = snapshot ?? "live"
            }
            let (newSnap, map) = try candidate.apply(to: newBase)
            let newLabel = (new ?? oldLabel) + (candidate.ruleset.map { " with ruleset \($0)" } ?? "")
            let policy = try loadPolicy(policy, hostname: newSnap.host.hostname, allowInclude: candidate.allowInclude)
            var d = SnapshotDiffer.diff(
                old: oldSnap, new: newSnap, policy: policy, today: PolicyDate.todayUTC(),
                options: AuditOptions(ignore: ignore))
            if let map {
                // New findings come from the candidate: they name their line in the file and fix the file.
                let cwd = FileManager.default.currentDirectoryPath
                d.newFindings = map.locating(d.newFindings, reaches: d.newReaches, baseDirectory: cwd)
                d.newAudit.findings = map.locating(d.newAudit.findings, reaches: d.newReaches, baseDirectory: cwd)
            }
            let text: String
            switch format {
            case .text:
                let plain = DiffReport.text(d, oldLabel: oldLabel, newLabel: newLabel)
                text = output == nil && terminalWantsColour() ? Colour.diff(plain) : plain
            case .json: text = try DiffReport.json(d, oldLabel: oldLabel, newLabel: newLabel, toolVersion: toolVersion)
            case .sarif, .codequality, .prometheus:
                var result = d.newAudit
                if let map { result.findings = map.pointing(result.findings, reaches: d.newReaches) }
                let inputs = ReportInputs(policyFile: self.policy, rulesetFile: candidate.ruleset, snapshotFile: snapshotFile)
                text = try format.reporter.render(
                    Report(
                        result: result, toolVersion: toolVersion,
                        baseDirectory: FileManager.default.currentDirectoryPath,
                        failOnConditional: failOnConditional, inputs: inputs,
                        baseline: d.baselineMarks, automationCategory: "portwarden-diff"))
            }
            try emit(text, to: output)
            guard let threshold = failOn.severity else { return 0 }
            return d.newAudit.failing(threshold: threshold, includeConditional: failOnConditional).count
        }
        if failing > 0 { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}

extension HostSource {
    /// The live host, as `collect` sees it.
    static func live(allowPartial: Bool, netns: NamespaceSelection = .all) throws -> Snapshot {
        try Collector.collect(CollectOptions(allowPartial: allowPartial, toolVersion: toolVersion, namespaces: netns))
    }
}
