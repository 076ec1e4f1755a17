import ArgumentParser
import CandidateLoader
import Foundation
import HostModel
import RulesetSource

/// `--ruleset FILE`: evaluate an nft file that is not applied, in place of the host's (or snapshot's) ruleset
/// (loaded in a private, throwaway network namespace by `CandidateLoader`).
struct CandidateRuleset: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Evaluate this nft file (not applied; includes resolve relative to it) instead of the host's ruleset. Loaded in a private, throwaway network namespace.",
            valueName: "file"))
    var ruleset: String?

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp(
            "Let includes of the policy and of the --ruleset file reach into this directory too (by default they must stay inside the including file's directory tree); repeatable.",
            valueName: "dir"))
    var allowInclude: [String] = []

    /// The snapshot with its firewall replaced by the candidate ruleset (unchanged without `--ruleset`), and where each
    /// candidate rule comes from in the file.
    func apply(to snapshot: Snapshot) throws -> (Snapshot, RulesetSourceMap?) {
        guard let ruleset else { return (snapshot, nil) }
        do {
            let (s, map) = try RulesetSandbox.substitute(into: snapshot, path: ruleset, allowInclude: allowInclude)
            return (s, map)
        } catch {
            throw CommandFailure(error)
        }
    }
}

extension CommandFailure {
    init(_ e: CandidateError) {
        self.init(status: e.kind == .invalidInput ? .invalidInput : .hostUnreadable, message: e.message)
    }
}

/// The child side of `--ruleset` (not for direct use; `PrivateNamespaceLoader`): prints what the kernel holds as
/// JSON. Exit 2 with nft's message when the file does not load; exit 3 when no namespace can be made.
struct LoadRuleset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: RulesetSandbox.loaderCommand, abstract: "internal: load a ruleset in a private namespace",
        shouldDisplay: false)

    @Option(name: .long) var file: String
    @Option(name: .long, parsing: .singleValue) var interface: [String] = []

    func run() throws {
        try exitOnFailure {
            let json: Data
            do throws(PrivateNamespaceLoader.Failure) { json = try PrivateNamespaceLoader.run(file: file, interfaces: interface) } catch {
                switch error {
                case .doesNotLoad(let nftErrors):
                    FileHandle.standardError.write(Data(nftErrors.utf8))
                    throw ExitCode(ExitStatus.invalidInput.rawValue)
                case .failed(let e): throw CommandFailure(e)
                }
            }
            try emit(json, to: nil)
        }
    }
}
