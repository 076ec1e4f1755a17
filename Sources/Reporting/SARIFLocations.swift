import Foundation
import Checks
import Policy

/// Where SARIF results point. Code scanning annotates files of the repository the SARIF is uploaded to and refuses a
/// whole upload when a result has no physical location, so every result points at a file the user gave:
/// the finding's own line when it has one (the policy entry it violates; the rule's line in a candidate ruleset), else
/// line 1 of the policy file, the candidate ruleset or the snapshot (`ReportInputs.fallbackFile`). Lines of the built-in
/// policy are never used: `policies/default.yaml` is not in the user's repository. When no file was given at all
/// (built-in policy on a live host) results carry only their logical location; the CLI refuses `--format sarif` then.
struct SARIFLocations {
    let report: Report

    /// The result's location: physical (when there is a user file to point at) plus the logical host object.
    func location(_ f: Finding) -> [String: Any] {
        var l: [String: Any] = ["logicalLocations": [["fullyQualifiedName": f.subject, "kind": "resource"]]]
        if let a = anchor(f) { l["physicalLocation"] = physical(a) }
        return l
    }

    /// The suppression entry's location, unless it is in the built-in policy.
    func suppressionLocation(_ s: AppliedSuppression) -> [String: Any]? {
        isBuiltIn(s.location.file) ? nil : ["physicalLocation": physical(s.location)]
    }

    func anchor(_ f: Finding) -> SourceLocation? {
        if let loc = f.policyLocation, !isBuiltIn(loc.file) { return loc }
        return report.inputs.fallbackFile.map { SourceLocation(file: $0, line: 1, column: 1) }
    }

    /// A file of the built-in policy (only when the built-in policy is in force: a user may have a file of that name).
    func isBuiltIn(_ file: String) -> Bool {
        report.builtInPolicy && (file == report.result.policySource || report.result.policyFiles.contains(file))
    }

    func physical(_ loc: SourceLocation) -> [String: Any] {
        let rel = report.relative(loc.file)
        var artifact: [String: Any]
        if rel.hasPrefix("/") {
            artifact = ["uri": "file://" + (rel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? rel)]
        } else {
            artifact = ["uri": rel.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? rel, "uriBaseId": "%SRCROOT%"]
        }
        return ["artifactLocation": artifact, "region": ["startLine": max(1, loc.line), "startColumn": max(1, loc.column)]] as [String: Any]
    }
}
