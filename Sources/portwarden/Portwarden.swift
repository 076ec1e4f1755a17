import ArgumentParser

/// The tool's version, printed by `--version` and written into snapshots and reports.
let toolVersion = "0.1.0"

/// What `--version` prints: the version and the commit, so a bug report names the exact build.
let versionLine =
    buildCommit == "unknown commit"
    ? "portwarden \(toolVersion) (\(buildCommit))"
    : "portwarden \(toolVersion) (commit \(buildCommit))"

@main
struct Portwarden: ParsableCommand {
    // Every command spells out its name: deriving it from the type name costs a runtime lookup at each start.
    static let configuration = CommandConfiguration(
        commandName: "portwarden",
        abstract: "Audit what on this Linux host can be reached, from where, and whether that is what you meant.",
        discussion: ExitStatus.documentation,
        version: versionLine,
        subcommands: [
            Collect.self, Listeners.self, Exposure.self, Trace.self, Audit.self, Rules.self, Explain.self, PolicyCommand.self, Docs.self, Diff.self,
            ReconcileCommand.self, Merge.self, LoadRuleset.self
        ]
    )
}
