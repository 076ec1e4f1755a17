import ArgumentParser
import Foundation
import HostModel
import Serialization
import Checks
import Reporting

extension FleetFormat: CaseInsensitiveArgument {
    public init?(argument: String) {
        self.init(anyCase: argument)
    }
}

/// `portwarden merge`: the JSON reports of many hosts → one fleet report and one exit code.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the JSON reports of many hosts (audit --format json) into one fleet report.",
        discussion: """
            Text lists each host (counts by severity, the public listeners its findings name, caveats), then every \
            check's findings across hosts. JSON is portwarden-fleet/1. SARIF has one run per host, each exactly as \
            `audit --format sarif` would write it, with its own automationDetails.id (portwarden/<host>/); results \
            without a line of their own point at line 1 of the host's report file. codequality joins every host's issues.

            Two reports of the same host name: the one collected later is kept (on a tie, the \
            one given later), the other is named on stderr.

            Findings at or above --fail-on (default: medium) on any host make the exit code 1; suppressed findings never \
            do, conditional ones only with --fail-on-conditional. A file that is not a portwarden JSON report is exit 2.

            \(ExitStatus.documentation)
            """
    )

    @Argument(help: ArgumentHelp("JSON reports written by `portwarden audit --format json`.", valueName: "report.json"))
    var reports: [String]

    @Option(name: .long, help: "Report format: text, json, sarif or codequality (GitLab).")
    var format: FleetFormat = .text

    @Option(name: .long, help: ArgumentHelp("Write the report to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Option(
        name: .long, help: "Exit 1 when an unsuppressed finding on any host is at or above this severity: info, low, medium, high, critical, or none."
    )
    var failOn: FailThreshold = .medium

    @Flag(name: .long, help: "Let conditional findings fail the run too.")
    var failOnConditional = false

    func validate() throws {
        if reports.isEmpty { throw ValidationError("give at least one report.json") }
    }

    func run() throws {
        let failing = try exitOnFailure { () throws -> Int in
            let (kept, replaced) = FleetReport.deduplicated(try reports.map(Self.read))
            for r in replaced {
                FileHandle.standardError.write(
                    Data(
                        "portwarden: two reports of host \(TerminalText.escape(r.hostname)): kept \(r.kept) (collected \(r.keptAt)), ignored \(r.dropped) (collected \(r.droppedAt))\n"
                            .utf8))
            }
            let fleet = FleetReport(
                hosts: kept, toolVersion: toolVersion, baseDirectory: FileManager.default.currentDirectoryPath,
                failOnConditional: failOnConditional)
            try emit(format.render(fleet), to: output)
            return failOn.severity.map { fleet.failing(threshold: $0).count } ?? 0
        }
        if failing > 0 { throw ExitCode(ExitStatus.findings.rawValue) }
    }

    /// One report, or exit 2 naming the file and why in one line.
    static func read(_ path: String) throws -> HostReport {
        let data: Data
        do { data = try BoundedFile.read(path, limit: SnapshotCodec.maxFileBytes) } catch {
            throw CommandFailure(status: .invalidInput, message: "\(path): cannot read: \(error)")
        }
        do { return try HostReport.read(file: path, data: data) } catch {
            switch error {
            case .notAReport(let why):
                throw CommandFailure(status: .invalidInput, message: "\(path): not a portwarden JSON report (\(JSONReporter.schema)): \(why)")
            }
        }
    }
}
