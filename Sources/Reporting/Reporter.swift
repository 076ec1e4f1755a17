import Checks
import HostModel
import Policy

/// Everything a reporter needs besides the findings: who made the report and how to name files in it.
public struct Report: Sendable {
    public var result: AuditResult
    public var toolVersion: String
    /// Where the rule documents live (`<repository>/blob/main/rules/<id>.md` is each rule's `helpUri`).
    public var repositoryURL: String
    /// Paths under this directory are written relative to it (SARIF wants repository-relative URIs).
    public var baseDirectory: String?
    /// ANSI colour in the text format (the caller decides: a terminal, and NO_COLOR unset).
    public var color: Bool
    /// Whether conditional findings count toward failure (reports say so next to them).
    public var failOnConditional: Bool

    public static let defaultRepositoryURL = "https://github.com/portwarden/portwarden"

    public init(result: AuditResult, toolVersion: String, repositoryURL: String = Report.defaultRepositoryURL, baseDirectory: String? = nil,
                color: Bool = false, failOnConditional: Bool = false) {
        self.result = result
        self.toolVersion = toolVersion
        self.repositoryURL = repositoryURL
        self.baseDirectory = baseDirectory
        self.color = color
        self.failOnConditional = failOnConditional
    }

    /// `path` relative to `baseDirectory` when it lies inside it.
    public func relative(_ path: String) -> String {
        guard let base = baseDirectory, path.hasPrefix("/") else { return path }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    public func helpURI(_ id: String) -> String { "\(repositoryURL)/blob/main/rules/\(id).md" }

    /// Metadata of every built-in check, also those that did not run (SARIF lists the full catalog).
    public var catalog: [CheckMetadata] { builtInChecks.map { $0.metadata } }
}

/// One output format. Implementations are pure: a report in, text out.
public protocol Reporter: Sendable {
    static var format: ReportFormat { get }
    func render(_ report: Report) -> String
}

/// The formats `audit --format` accepts; exhaustive, so adding one forces a reporter.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, json, sarif

    public var reporter: any Reporter {
        switch self {
        case .text: TextReporter()
        case .json: JSONReporter()
        case .sarif: SARIFReporter()
        }
    }

    public var fileExtension: String {
        switch self {
        case .text: "txt"
        case .json: "json"
        case .sarif: "sarif"
        }
    }
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
