import ArgumentParser
import Foundation
import HostModel
import Evaluator
import Policy
import Checks

/// `portwarden policy …`: commands about policy files.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with policy files.",
        subcommands: [PolicyInit.self])
}

/// `portwarden policy init`: a policy describing the host as it is, so the first audit is clean and every later change shows.
struct PolicyInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented policy that describes this host (or a snapshot) as it is now, to review and commit.",
        discussion: """
            Every listener is declared with its current bind, exposure and owner. Findings that would remain (host settings, \
            ruleset defects) are added as suppressions that ask for review. Auditing the same host against the result \
            reports no unsuppressed finding.

            \(ExitStatus.documentation)
            """)

    @OptionGroup var source: HostSource

    @Option(name: .long, help: ArgumentHelp("Write the policy to this file instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        try exitOnFailure {
            let snapshot = try source.load()
            let reaches = Evaluator(snapshot: snapshot).exposure().map(ListenerReach.init)
            let today = PolicyDate.todayUTC()
            let text: String
            do {
                text = try PolicyTemplate.policy(snapshot: snapshot, reaches: reaches, today: today)
            } catch {
                throw CommandFailure(status: .hostUnreadable, message: "internal error: the generated policy does not load: \(error)")
            }
            try emit(text, to: output)
            printWarnings(snapshot.warnings)
        }
    }
}
