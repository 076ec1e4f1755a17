import Foundation
import Checks
import Evaluator
import HostModel
import Policy
import Serialization

/// The files of the user's repository a report was made from. SARIF results point only at these (code scanning
/// annotates files of the repository), never at the built-in policy, which is not one of them.
public struct ReportInputs: Sendable, Equatable {
    /// `--policy FILE`; nil for the built-in default policy.
    public var policyFile: String?
    /// `--ruleset FILE`, the candidate nftables file.
    public var rulesetFile: String?
    /// `--snapshot FILE` (or the NEW snapshot of a diff).
    public var snapshotFile: String?

    public init(policyFile: String? = nil, rulesetFile: String? = nil, snapshotFile: String? = nil) {
        self.policyFile = policyFile
        self.rulesetFile = rulesetFile
        self.snapshotFile = snapshotFile
    }

    /// Where a result without a line of its own points: line 1 of the policy given, else of the candidate ruleset,
    /// else of the snapshot; nil when none is a file (the built-in policy on a live host).
    public var fallbackFile: String? { policyFile ?? rulesetFile ?? snapshotFile }
}

/// Everything a reporter needs besides the findings: who made the report and how to name files in it.
public struct Report: Sendable {
    public var result: AuditResult
    public var toolVersion: String
    /// The tool's home page (SARIF `informationUri`).
    public var repositoryURL: String
    /// Paths under this directory are written relative to it (SARIF wants repository-relative URIs).
    public var baseDirectory: String?
    /// ANSI colour in the text format (the caller decides: a terminal, and NO_COLOR unset).
    public var color: Bool
    /// Whether conditional findings count toward failure (reports say so next to them).
    public var failOnConditional: Bool
    /// The files results may point at.
    public var inputs: ReportInputs
    /// Per fingerprint, when the run compared with a baseline; nil otherwise (then no baseline state is reported).
    public var baseline: [String: BaselineMark]?
    /// First part of SARIF `automationDetails.id` (`<category>/<hostname>/`): one code-scanning category per host and
    /// kind of run, so uploads for several hosts, or audits and diffs, do not close each other's alerts.
    public var automationCategory: String
    /// Listeners per exposure class (Prometheus `portwarden_listeners`); nil when the caller did not compute them, and
    /// then the family is left out rather than shown as zero.
    public var exposure: [ExposureSummary: Int]?
    /// When the run happened (Prometheus `portwarden_last_run_timestamp_seconds`); nil: the snapshot's collection time.
    public var runAt: Date?

    public static let defaultRepositoryURL = "https://github.com/portwarden/portwarden"

    /// - Parameter inputs: default: the policy source is taken as the policy file unless it is the built-in one.
    public init(
        result: AuditResult, toolVersion: String, repositoryURL: String = Report.defaultRepositoryURL, baseDirectory: String? = nil,
        color: Bool = false, failOnConditional: Bool = false, inputs: ReportInputs? = nil,
        baseline: [String: BaselineMark]? = nil, automationCategory: String = "portwarden",
        exposure: [ExposureSummary: Int]? = nil, runAt: Date? = nil
    ) {
        self.result = result
        self.toolVersion = toolVersion
        self.repositoryURL = repositoryURL
        self.baseDirectory = baseDirectory
        self.color = color
        self.failOnConditional = failOnConditional
        self.inputs = inputs ?? ReportInputs(policyFile: result.policySource == DefaultPolicy.name ? nil : result.policySource)
        self.baseline = baseline
        self.automationCategory = automationCategory
        self.exposure = exposure
        self.runAt = runAt
    }

    /// `path` relative to `baseDirectory` when it lies inside it.
    public func relative(_ path: String) -> String {
        guard let base = baseDirectory, path.hasPrefix("/") else { return path }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// Whether the policy in force is the built-in one (its file is not in the user's repository).
    public var builtInPolicy: Bool { inputs.policyFile == nil }

    /// Metadata of every built-in check, also those that did not run (SARIF lists the full catalog).
    public var catalog: [CheckMetadata] { builtInChecks.map { $0.metadata } }
}

/// One output format. Implementations are pure: a report in, text out; a report that cannot be encoded is an
/// error, never an empty document.
public protocol Reporter: Sendable {
    static var format: ReportFormat { get }
    func render(_ report: Report) throws(ReportEncodingError) -> String
}

/// The formats `audit --format` accepts; exhaustive, so adding one forces a reporter.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// `codequality`: GitLab Code Quality; `prometheus`: node_exporter textfile-collector exposition.
    case text, json, sarif, codequality, prometheus

    public var reporter: any Reporter {
        switch self {
        case .text: TextReporter()
        case .json: JSONReporter()
        case .sarif: SARIFReporter()
        case .codequality: CodeQualityReporter()
        case .prometheus: PrometheusReporter()
        }
    }

    /// A file name suffix for the format (Code Quality is JSON too, told apart from the findings JSON).
    public var fileExtension: String {
        switch self {
        case .text: "txt"
        case .json: "json"
        case .sarif: "sarif"
        case .codequality: "codequality.json"
        case .prometheus: "prom"
        }
    }

    /// Whether every result must point at a file of the user's repository (code scanning and GitLab annotate files).
    public var pointsAtFiles: Bool { self == .sarif || self == .codequality }
}

extension Severity {
    /// SARIF `level`: error for high and critical, warning for medium, note below.
    public var sarifLevel: String {
        switch self {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .info: "note"
        }
    }

    /// GitHub `security-severity` (CVSS-like 0.0-10.0; 9.0+ critical, 7.0+ high, 4.0+ medium, above 0 low).
    public var securitySeverity: String {
        switch self {
        case .critical: "9.5"
        case .high: "8.0"
        case .medium: "5.5"
        case .low: "3.0"
        case .info: "1.0"
        }
    }
}
