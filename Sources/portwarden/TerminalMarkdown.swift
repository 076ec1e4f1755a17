import Foundation

/// Renders the Markdown that `RuleDocumentation` writes (headings, pipe tables, fenced code, lists, inline code) as
/// plain text for a terminal: underlined headings, aligned columns, indented code, no markup left over.
enum TerminalMarkdown {
    static func render(_ markdown: String, width: Int = 100) -> String {
        var out: [String] = []
        var table: [[String]] = []
        var inCode = false
        func flushTable() {
            guard !table.isEmpty else { return }
            // The first row is the header; an all-empty header (a key/value table) is left out.
            let rows = table.first?.allSatisfy(\.isEmpty) == true ? Array(table.dropFirst()) : table
            let columns = rows.map(\.count).max() ?? 0
            var widths = [Int](repeating: 0, count: columns)
            for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
            for r in rows {
                let cells = r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                out.append("  " + cells.joined(separator: "  ").trimmingTrailingSpaces())
            }
            table = []
        }
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if raw.hasPrefix("```") { inCode.toggle(); continue }
            if inCode { out.append("    " + raw); continue }
            if raw.hasPrefix("<!--") && raw.hasSuffix("-->") { continue }
            if raw.hasPrefix("|") {
                let cells = raw.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                    .map { inline(String($0).trimmingCharacters(in: .whitespaces)) }
                if !cells.isEmpty && cells.allSatisfy({ $0.allSatisfy { $0 == "-" || $0 == ":" } && !$0.isEmpty }) { continue }
                table.append(Array(cells))
                continue
            }
            flushTable()
            if raw.hasPrefix("# ") {
                let t = inline(String(raw.dropFirst(2)))
                out += [t, String(repeating: "=", count: min(t.count, width))]
            } else if raw.hasPrefix("## ") {
                let t = inline(String(raw.dropFirst(3)))
                out += [t, String(repeating: "-", count: min(t.count, width))]
            } else if raw.hasPrefix("- ") {
                out += wrap(inline(String(raw.dropFirst(2))), width: width, first: "  - ", rest: "    ")
            } else if raw.isEmpty {
                if out.last?.isEmpty == false { out.append("") }
            } else {
                out += wrap(inline(raw), width: width, first: "", rest: "")
            }
        }
        flushTable()
        while out.last?.isEmpty == true { out.removeLast() }
        return out.joined(separator: "\n") + "\n"
    }

    /// Inline markup: `code` and **bold** lose their markers; links keep their text.
    static func inline(_ s: String) -> String {
        var t = s.replacingOccurrences(of: "**", with: "")
        t = t.replacingOccurrences(of: "`", with: "")
        // [text](target) → text (target)
        while let open = t.range(of: "]("), let start = t[..<open.lowerBound].lastIndex(of: "["),
            let close = t[open.upperBound...].firstIndex(of: ")")
        {
            let text = t[t.index(after: start)..<open.lowerBound]
            let target = t[open.upperBound..<close]
            t.replaceSubrange(start...close, with: "\(text) (\(target))")
        }
        return t
    }

    /// Greedy word wrap at `width` columns.
    static func wrap(_ s: String, width: Int, first: String, rest: String) -> [String] {
        var lines: [String] = []
        var line = first
        var empty = true
        for word in s.split(separator: " ") {
            if !empty && line.count + 1 + word.count > width {
                lines.append(line)
                line = rest
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(line)
        return lines
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
