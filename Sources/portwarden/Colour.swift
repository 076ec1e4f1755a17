/// ANSI colour for the `exposure` and `diff` text views, applied to their finished text line by line so the
/// renderers stay colour-free (and their goldens unchanged); the caller decides with `terminalWantsColour()`.
enum Colour {
    static func paint(_ line: Substring, _ code: String) -> String { "\u{1B}[\(code)m\(line)\u{1B}[0m" }

    /// `exposure`: warnings yellow, group headings bold (PUBLIC red, CONDITIONAL yellow).
    static func exposure(_ text: String) -> String {
        recolour(text) { line in
            if line.hasPrefix("warning:") { return "33" }
            if line.first == " " || line.isEmpty { return nil }
            if line.hasPrefix("PUBLIC ") { return "1;31" }
            if line.hasPrefix("CONDITIONAL ") { return "1;33" }
            return "1"
        }
    }

    /// `diff`: what widens red, what narrows green, widened findings yellow, section lines bold.
    static func diff(_ text: String) -> String {
        recolour(text) { line in
            if line.hasPrefix("warning:") { return "33" }
            if line.hasPrefix("exposure:") || line.hasPrefix("findings:") { return "1" }
            if line.hasPrefix("    + ") || line.hasPrefix("  + ") { return "31" }
            if line.hasPrefix("    - ") || line.hasPrefix("  - ") { return "32" }
            if line.hasPrefix("  ^ ") { return "33" }
            return nil
        }
    }

    private static func recolour(_ text: String, _ code: (Substring) -> String?) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in code(line).map { paint(line, $0) } ?? String(line) }
            .joined(separator: "\n")
    }
}
