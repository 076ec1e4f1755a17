import Checks
import Serialization

/// `audit --format json`: the findings contract (`FindingsJSON`), with file paths relative to the report's base.
public struct JSONReporter: Reporter {
    public static let format = ReportFormat.json
    public static let schema = FindingsJSON.schema

    public init() {}

    public func render(_ report: Report) throws(ReportEncodingError) -> String {
        var result = report.result
        for i in result.findings.indices {
            if let loc = result.findings[i].policyLocation { result.findings[i].policyLocation?.file = report.relative(loc.file) }
            if let loc = result.findings[i].rulesetLocation { result.findings[i].rulesetLocation?.file = report.relative(loc.file) }
            if let s = result.findings[i].suppression { result.findings[i].suppression?.location.file = report.relative(s.location.file) }
        }
        result.policySource = report.relative(result.policySource)
        result.policyFiles = result.policyFiles.map(report.relative)
        return try FindingsJSON.write(result, toolVersion: report.toolVersion, baseline: report.baseline)
    }
}
