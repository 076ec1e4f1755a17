import ArgumentParser
import Foundation
import Checks

/// `portwarden rules`: the check catalog, one line per check.
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List every check: id, slug, default severity, category and title.",
        discussion: "Use the id or the slug in a policy's `checks:` and `suppressions:`, and with `audit --ignore`.\n\n\(ExitStatus.documentation)")

    func run() throws {
        let rows = [["ID", "SLUG", "SEVERITY", "CATEGORY", "TITLE"]] + builtInChecks.map { c -> [String] in
            let m = c.metadata
            return [m.id, m.slug, m.defaultSeverity.rawValue, m.category.rawValue, m.title]
        }
        var widths = [Int](repeating: 0, count: 5)
        for r in rows { for (i, cell) in r.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for r in rows {
            out += r.enumerated().map { i, cell in i == r.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2) }.joined() + "\n"
        }
        try emit(out, to: nil)
    }
}

/// `portwarden docs --output rules/`: regenerates the rule documents from the catalog (a test fails when they are stale).
struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Write rules/<id>.md and rules/README.md from the check catalog (for maintainers).")

    @Option(name: .long, help: ArgumentHelp("Directory to write into.", valueName: "dir"))
    var output: String = "rules"

    func run() throws {
        try exitOnFailure {
            let dir = URL(fileURLWithPath: output)
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure(status: .invalidInput, message: "cannot create \(output): \(error.localizedDescription)")
            }
            for (file, text) in RuleDocumentation.all() + [("README.md", RuleDocumentation.index())] {
                try emit(text, to: dir.appendingPathComponent(file).path)
            }
        }
    }
}
