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
        let rows =
            [["ID", "SLUG", "SEVERITY", "CATEGORY", "TITLE"]]
            + builtInChecks.map { c -> [String] in
                let m = c.metadata
                return [m.id, m.slug, m.defaultSeverity.rawValue, m.category.rawValue, m.title]
            }
        var widths = [Int](repeating: 0, count: 5)
        for r in rows { for (i, cell) in r.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for r in rows {
            out +=
                r.enumerated().map { i, cell in i == r.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2) }.joined()
                + "\n"
        }
        try emit(out, to: nil)
    }
}

/// `portwarden docs`: regenerates the rule documents from the catalog (a test fails when they are stale). Without
/// `--output-dir` it writes only into the rules/ of a portwarden checkout, so a user trying the command elsewhere
/// does not get a stray directory of Markdown.
struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Write rules/<id>.md and rules/README.md from the check catalog (for maintainers).",
        discussion: """
            Run at the top of a portwarden checkout, it rewrites the existing rules/ there; anywhere else it stops with
            exit code 64 unless --output-dir names where to write. `portwarden explain ID` shows one document.
            """)

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Directory to write into (created if missing).", valueName: "dir"))
    var outputDir: String?

    /// True in the top directory of a portwarden checkout that has its rules/ directory.
    static func inCheckout(_ fm: FileManager = .default) -> Bool {
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: "rules", isDirectory: &isDir), isDir.boolValue,
            let package = try? String(contentsOfFile: "Package.swift", encoding: .utf8)
        else { return false }
        return package.contains("name: \"portwarden\"")
    }

    func validate() throws {
        guard outputDir != nil || Docs.inCheckout() else {
            throw ValidationError(
                "not at the top of a portwarden checkout (no rules/ and Package.swift here): "
                    + "give --output-dir DIR to write the rule documents somewhere else")
        }
    }

    func run() throws {
        try exitOnFailure {
            let output = outputDir ?? "rules"
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
