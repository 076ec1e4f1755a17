import Foundation
import Glibc
import HostModel
import Policy

/// Keeps a candidate ruleset (`--ruleset FILE`, often from a pull request) from making nft read, and quote in its
/// errors, files outside the ruleset's directory tree: every `include` is checked before nft runs, and nft's error
/// output is filtered so that it never quotes a line of a file outside the tree.
///
/// nft resolves `include "NAME"` as follows: an absolute NAME as is; `./…` and `../…` relative to nft's working
/// directory (the ruleset's directory: the loader runs nft there); any other NAME in the include path (`-I` the
/// ruleset's directory, then nft's default, /etc). NAME may be a glob.
enum RulesetIncludes {
    /// nft's built-in include directory (`nft --help`: "Default is: /etc").
    static let defaultIncludeDirectory = "/etc"
    /// Candidate rulesets larger than this are refused (a generated ruleset of 100k rules is some tens of MB).
    static let maxFileBytes = 1 << 30
    static let maxDepth = 16

    /// Refuses (exit 2, `FILE:LINE:COLUMN`) an include that resolves outside `scope`, a ruleset that is not a
    /// regular file, and nesting deeper than `maxDepth`.
    static func check(_ file: String, shown: String, scope: IncludeScope) throws(CandidateError) {
        let dir = (file as NSString).deletingLastPathComponent
        var seen: Set<String> = []
        try scan(file, shown: shown, dir: dir, scope: scope, depth: 0, seen: &seen)
    }

    static func scan(_ file: String, shown: String, dir: String, scope: IncludeScope, depth: Int, seen: inout Set<String>) throws(CandidateError) {
        guard seen.insert(IncludeScopePath.real(file)).inserted else { return }
        let data: Data
        do { data = try BoundedFile.read(file, limit: maxFileBytes) } catch {
            throw CandidateError(.invalidInput, "cannot read the ruleset \(shown): \(error)")
        }
        for inc in statements(in: data) {
            let at = "\(shown):\(inc.line):\(inc.column)"
            guard depth < maxDepth else {
                throw CandidateError(.invalidInput, "\(at): includes nested deeper than \(maxDepth) levels")
            }
            for path in try targets(inc.name, dir: dir, scope: scope, at: at) {
                try scan(path, shown: path, dir: dir, scope: scope, depth: depth + 1, seen: &seen)
            }
        }
    }

    /// The files `include "name"` makes nft read, each checked to be inside `scope`.
    static func targets(_ name: String, dir: String, scope: IncludeScope, at: String) throws(CandidateError) -> [String] {
        func outside(_ why: String) -> CandidateError {
            CandidateError(
                .invalidInput,
                "\(at): include \"\(name)\" \(why); includes must stay inside the ruleset's directory tree (\(IncludeScope.widening) widens it)")
        }
        let pattern: String
        if name.hasPrefix("/") { pattern = name } else { pattern = dir + "/" + name }
        let bare = !name.hasPrefix("/") && !name.hasPrefix("./") && !name.hasPrefix("../")
        let matches = glob(pattern)
        if bare {
            // Not found in the ruleset's directory, nft goes on to its default include directory (/etc).
            if !glob(defaultIncludeDirectory + "/" + name).isEmpty && (matches.isEmpty || hasGlob(name)) {
                throw outside("would also be looked up in nft's default include directory \(defaultIncludeDirectory)")
            }
        }
        if matches.isEmpty {
            guard scope.contains(pattern) else { throw outside("points outside it") }
            return []
        }
        // A directory is included file by file (nft skips hidden files); each must be inside the tree too.
        var files: [String] = []
        for m in matches {
            guard IncludeScopePath.isDirectory(m) else { files.append(m); continue }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: m)) ?? []
            files += names.filter { !$0.hasPrefix(".") }.sorted().map { m + "/" + $0 }
        }
        for f in files where !scope.contains(f) { throw outside("resolves outside it (\(f))") }
        return files.filter { !IncludeScopePath.isDirectory($0) }
    }

    static func hasGlob(_ s: String) -> Bool { s.contains { "*?[{".contains($0) } }

    /// glob(3) as nft calls it (no matches: none; a literal name that exists: itself).
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, GLOB_NOCHECK | GLOB_BRACE, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[i] { out.append(String(cString: p)) } }
        return out.filter { FileManager.default.fileExists(atPath: $0) }
    }

    struct Include { var name: String; var line: Int; var column: Int }

    /// `include "…"` statements: the keyword at the start of a statement (line start, after `;`, `{` or `}`), outside
    /// comments and strings, followed by a quoted name.
    static func statements(in data: Data) -> [Include] {
        let b = [UInt8](data)
        var out: [Include] = []
        var i = 0, line = 1, lineStart = 0
        var atStatement = true
        let keyword = Array("include".utf8)
        while i < b.count {
            let c = b[i]
            switch c {
            case 0x0a: line += 1; lineStart = i + 1; atStatement = true; i += 1; continue
            case 0x20, 0x09, 0x0d: i += 1; continue
            case UInt8(ascii: "#"): while i < b.count, b[i] != 0x0a { i += 1 }; continue
            case UInt8(ascii: ";"), UInt8(ascii: "{"), UInt8(ascii: "}"): atStatement = true; i += 1; continue
            case UInt8(ascii: "\""):
                i += 1
                while i < b.count, b[i] != 0x22, b[i] != 0x0a { i += 1 }
                i += 1; atStatement = false; continue
            default: break
            }
            if atStatement, i + keyword.count <= b.count, Array(b[i..<(i + keyword.count)]) == keyword,
                i + keyword.count == b.count || !isWord(b[i + keyword.count])
            {
                let column = i - lineStart + 1
                var j = i + keyword.count
                while j < b.count, b[j] == 0x20 || b[j] == 0x09 { j += 1 }
                if j < b.count, b[j] == 0x22 {
                    var k = j + 1
                    while k < b.count, b[k] != 0x22, b[k] != 0x0a { k += 1 }
                    out.append(Include(name: String(decoding: b[(j + 1)..<min(k, b.count)], as: UTF8.self), line: line, column: column))
                    i = k + 1; atStatement = false; continue
                }
            }
            while i < b.count, isWord(b[i]) { i += 1 }
            if i < b.count, !isWord(b[i]), ![0x0a, 0x20, 0x09, 0x0d, 0x23, 0x3b, 0x7b, 0x7d, 0x22].contains(b[i]) { i += 1 }
            atStatement = false
        }
        return out
    }

    static func isWord(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2d || c == 0x2e || c == 0x2f
            || c == 0x24
    }
}

/// Small path helpers for the include checks.
enum IncludeScopePath {
    static func real(_ p: String) -> String {
        guard let r = realpath(p, nil) else { return p }
        defer { free(r) }
        return String(cString: r)
    }

    static func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }
}
