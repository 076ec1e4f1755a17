import ArgumentParser
import Checks

/// `portwarden explain PW1006`: one rule's document (the same text as rules/PW1006.md).
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Print the documentation of one check (by id or slug).",
        discussion: ExitStatus.documentation)

    @Argument(help: ArgumentHelp("A check id such as PW1006, or a slug such as sensitive-service-exposed.", valueName: "rule"))
    var rule: String

    @Option(name: .long, help: "text (for a terminal) or markdown (the document as in rules/).")
    var format: DocumentFormat = .text

    enum DocumentFormat: String, CaseInsensitiveArgument { case text, markdown }

    func validate() throws {
        if check(named: rule) == nil && check(named: rule.uppercased()) == nil {
            throw ValidationError("no check named '\(rule)' (see `portwarden rules`)")
        }
    }

    func run() throws {
        guard let c = check(named: rule) ?? check(named: rule.uppercased()) else { throw ExitCode.validationFailure }
        let markdown = RuleDocumentation.markdown(c, generatedNote: false)
        try emit(format == .markdown ? markdown : TerminalMarkdown.render(markdown), to: nil)
    }
}
