import HostModel
import Policy

/// Groups checks in docs and reports.
public enum CheckCategory: String, Sendable, CaseIterable, Codable {
    case exposure, policy, ports, firewall, ruleset, kernel
}

/// Everything the catalog says about a check: it feeds `rules/<id>.md`, SARIF `tool.driver.rules` and `portwarden explain`.
public struct CheckMetadata: Sendable, Equatable {
    /// `PW1xxx`, stable and never reused.
    public var id: String
    /// kebab-case; accepted wherever an id is (policy `checks:` and suppressions, `--ignore`).
    public var slug: String
    public var title: String
    public var defaultSeverity: Severity
    public var category: CheckCategory
    /// One sentence: what the check finds.
    public var summary: String
    /// Why it matters (Markdown).
    public var rationale: String
    /// What to do about it (Markdown).
    public var remediation: String
    /// CWE / CIS references where they fit.
    public var references: [String]

    public init(
        id: String, slug: String, title: String, defaultSeverity: Severity, category: CheckCategory, summary: String,
        rationale: String, remediation: String, references: [String] = []
    ) {
        self.id = id
        self.slug = slug
        self.title = title
        self.defaultSeverity = defaultSeverity
        self.category = category
        self.summary = summary
        self.rationale = rationale
        self.remediation = remediation
        self.references = references
    }
}

/// A passing or failing case of a check: documentation and a test at once (ChecksTests runs every one).
public struct Example: Sendable {
    public var title: String
    /// Policy YAML (a `version: 1` document).
    public var policy: String
    public var host: ExampleHost
    /// Subjects of the findings the check must produce, in order; empty for a passing example.
    public var expect: [String]
    public var file: String
    public var line: UInt

    public init(
        _ title: String, policy: String = "version: 1\n", host: ExampleHost, expect: [String] = [],
        file: String = #filePath, line: UInt = #line
    ) {
        self.title = title
        self.policy = policy
        self.host = host
        self.expect = expect
        self.file = file
        self.line = line
    }
}

/// The host side of an example: evaluator answers per listener plus the host facts checks read.
public struct ExampleHost: Sendable {
    public var reaches: [ListenerReach]
    public var sysctls: Sysctls
    public var firewall: Firewall
    /// The evaluator's path facts the example stands for (published ports, open forwarding, neighbour discovery).
    public var paths: PathFacts

    public init(
        _ reaches: [ListenerReach] = [], sysctls: Sysctls = Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999)),
        firewall: Firewall = ExampleHost.filteredFirewall, paths: PathFacts = PathFacts()
    ) {
        self.reaches = reaches
        self.sysctls = sysctls
        self.firewall = firewall
        self.paths = paths
    }

    /// A minimal readable ruleset with a drop-policy input chain: "a firewall exists" for examples that do not care.
    public static let filteredFirewall = Firewall(
        status: .ok, generation: 1,
        tables: [
            Table(
                family: .inet, name: "filter",
                chains: [
                    Chain(name: "input", base: BaseChain(type: "filter", hook: .input, priority: 0, policy: .drop))
                ])
        ])

    /// The snapshot the example stands for.
    public var snapshot: Snapshot {
        Snapshot(
            host: HostInfo(hostname: "example", kernel: "6.12", collectedAt: "2026-01-01T00:00:00Z", toolVersion: "example"),
            listeners: reaches.map(\.listener), sysctls: sysctls, firewall: firewall)
    }
}
