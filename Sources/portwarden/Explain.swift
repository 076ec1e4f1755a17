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

    func validate() throws {
        if check(named: rule) == nil && check(named: rule.uppercased()) == nil {
            throw ValidationError("no check named '\(rule)' (see `portwarden rules`)")
        }
    }

    func run() throws {
        guard let c = check(named: rule) ?? check(named: rule.uppercased()) else { throw ExitCode.validationFailure }
        try emit(RuleDocumentation.markdown(c), to: nil)
    }
}
