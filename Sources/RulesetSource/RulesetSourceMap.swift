import Foundation
import HostModel
import Policy
import Checks
import Evaluator

/// Maps the rules of a loaded candidate ruleset back to the lines of the nft file they came from, so findings about
/// a rule (or decided by one) can point at that line in SARIF.
///
/// How: the file and its includes are scanned (a light nft tokenizer: comments, strings, braces, `;` and newlines,
/// `\` continuations) for the rules of each chain in the order the file adds them (`table … { chain … { rule } }`
/// blocks and `add rule` commands, with `flush ruleset`, `flush/delete table` and `flush/delete chain` resetting what
/// came before). The kernel returns each chain's rules in chain order, so the i-th rule of a chain is the i-th rule the
/// file adds to it. Limits: a chain whose rule count differs from the file's (`insert rule`, `position`/`handle`
/// placement, `replace`/`delete rule`, rules from a glob include, or anything the scanner misreads) is not mapped rule by
/// rule — its rules point at the chain's declaration instead, never at a wrong line. Rules of anonymous `jump { … }`
/// chains point at their table.
public struct RulesetSourceMap: Sendable {
    public struct ChainKey: Hashable, Sendable {
        public var family: String
        public var table: String
        public var chain: String
        public init(family: String, table: String, chain: String) { self.family = family; self.table = table; self.chain = chain }
    }

    /// Rule start positions per chain, in the order the file adds them.
    public private(set) var rules: [ChainKey: [SourceLocation]] = [:]
    public private(set) var chains: [ChainKey: SourceLocation] = [:]
    public private(set) var tables: [String: SourceLocation] = [:]
    /// Chains whose order the file does not fully determine (`insert`, `position`, `replace`, `delete rule`).
    public private(set) var unordered: Set<ChainKey> = []
    /// The main file: the fallback location of everything.
    public let mainFile: String
    /// Handle → location, filled by `bind(to:)`.
    public private(set) var handles: [String: SourceLocation] = [:]
    /// Handles whose location is their own rule's line (the others point at their chain or table).
    public private(set) var exactHandles: Set<String> = []

    static let families: Set<String> = ["ip", "ip6", "inet", "arp", "bridge", "netdev"]

    /// Scans `path` (and its includes, resolved relative to the including file's directory).
    public init(path: String) {
        mainFile = path
        var visited: Set<String> = []
        scan(file: path, visited: &visited)
    }

    /// Scans text directly (tests).
    public init(text: String, file: String) {
        mainFile = file
        var visited: Set<String> = []
        scan(text: text, file: file, visited: &visited)
    }

    /// Assigns file locations to the handles of the loaded ruleset (see the type's comment for the matching rule).
    public mutating func bind(to firewall: Firewall) {
        handles = [:]
        exactHandles = []
        for t in firewall.tables {
            for c in t.chains {
                let key = ChainKey(family: t.family.rawValue, table: t.name, chain: c.name)
                let fallback = chains[key] ?? tables["\(t.family.rawValue) \(t.name)"] ?? SourceLocation(file: mainFile, line: 1, column: 1)
                let lines = rules[key] ?? []
                let exact = !unordered.contains(key) && lines.count == c.rules.count
                for (i, r) in c.rules.enumerated() {
                    let key = Self.handleKey(t.family.rawValue, t.name, c.name, r.handle)
                    handles[key] = exact ? lines[i] : fallback
                    if exact { exactHandles.insert(key) }
                }
            }
        }
    }

    /// Where rule `handle` of `family table chain` comes from, once bound.
    public func location(family: String, table: String, chain: String, handle: UInt64) -> SourceLocation? {
        handles[Self.handleKey(family, table, chain, handle)]
    }

    /// Whether the rule's location is its own line (not its chain's declaration).
    public func isExact(family: String, table: String, chain: String, handle: UInt64) -> Bool {
        exactHandles.contains(Self.handleKey(family, table, chain, handle))
    }

    /// Whether every rule of the chain maps to its own line.
    public func isExact(_ key: ChainKey, ruleCount: Int) -> Bool { !unordered.contains(key) && (rules[key]?.count ?? 0) == ruleCount }

    static func handleKey(_ f: String, _ t: String, _ c: String, _ h: UInt64) -> String { "\(f)\u{0}\(t)\u{0}\(c)\u{0}\(h)" }

    // MARK: scanning

    struct Token {
        enum Kind { case word, string, open, close, sep }
        var kind: Kind
        var text: String
        var loc: SourceLocation
    }

    private mutating func scan(file: String, visited: inout Set<String>) {
        let canonical = URL(fileURLWithPath: file).standardizedFileURL.path
        guard !visited.contains(canonical), let data = FileManager.default.contents(atPath: file) else { return }
        scan(text: String(decoding: data, as: UTF8.self), file: file, visited: &visited)
    }

    private mutating func scan(text: String, file: String, visited: inout Set<String>) {
        visited.insert(URL(fileURLWithPath: file).standardizedFileURL.path)
        let tokens = Self.tokenize(text, file: file)
        var i = 0
        parseBlock(tokens, &i, context: .top, family: "", table: "", chain: "", file: file, visited: &visited)
    }

    static func tokenize(_ text: String, file: String) -> [Token] {
        var out: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0, line = 1, col = 1
        func loc() -> SourceLocation { SourceLocation(file: file, line: line, column: col) }
        func advance() { if chars[i] == "\n" { line += 1; col = 1 } else { col += 1 }; i += 1 }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case " ", "\t", "\r": advance()
            case "\\" where i + 1 < chars.count && chars[i + 1] == "\n": advance(); advance()
            case "#": while i < chars.count && chars[i] != "\n" { advance() }
            case "\n", ";": out.append(Token(kind: .sep, text: String(c), loc: loc())); advance()
            case "{": out.append(Token(kind: .open, text: "{", loc: loc())); advance()
            case "}": out.append(Token(kind: .close, text: "}", loc: loc())); advance()
            case "\"":
                let start = loc()
                advance()
                var s = ""
                while i < chars.count && chars[i] != "\"" && chars[i] != "\n" { s.unicodeScalars.append(chars[i]); advance() }
                if i < chars.count && chars[i] == "\"" { advance() }
                out.append(Token(kind: .string, text: s, loc: start))
            default:
                let start = loc()
                var s = ""
                while i < chars.count, !" \t\r\n;{}#\"".unicodeScalars.contains(chars[i]) {
                    if chars[i] == "\\" && i + 1 < chars.count && chars[i + 1] == "\n" { break }
                    s.unicodeScalars.append(chars[i]); advance()
                }
                out.append(Token(kind: .word, text: s, loc: start))
            }
        }
        return out
    }

    enum Context { case top, table, chain, other }

    /// Reads one statement's tokens up to a separator at this level; nested braces are kept inside the statement
    /// unless `blockAt` says the statement opens a block (then it stops before the `{`).
    private func statement(_ t: [Token], _ i: inout Int, _ context: Context) -> [Token] {
        var out: [Token] = []
        while i < t.count {
            switch t[i].kind {
            case .sep:
                i += 1
                if !out.isEmpty { return out }
            case .close:
                return out
            case .open:
                if context != .chain && opensBlock(out) { return out }
                var depth = 0
                repeat {
                    if t[i].kind == .open { depth += 1 } else if t[i].kind == .close { depth -= 1 }
                    out.append(t[i]); i += 1
                } while i < t.count && depth > 0
            default:
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    private func opensBlock(_ s: [Token]) -> Bool {
        guard let head = s.first?.text else { return false }
        let w = (head == "add" || head == "create") ? (s.count > 1 ? s[1].text : "") : head
        return ["table", "chain", "set", "map", "flowtable", "counter", "quota", "limit", "ct", "secmark", "synproxy"].contains(w)
            && !(head == "add" && w == "rule")
    }

    /// Skips a balanced `{ … }` block starting at `i`.
    private func skipBlock(_ t: [Token], _ i: inout Int) {
        var depth = 0
        repeat {
            if t[i].kind == .open { depth += 1 } else if t[i].kind == .close { depth -= 1 }
            i += 1
        } while i < t.count && depth > 0
    }

    private mutating func parseBlock(
        _ t: [Token], _ i: inout Int, context: Context, family: String, table: String, chain: String,
        file: String, visited: inout Set<String>
    ) {
        if context != .top, i < t.count, t[i].kind == .open { i += 1 }
        while i < t.count {
            if t[i].kind == .close { i += 1; return }
            let s = statement(t, &i, context)
            guard let head = s.first else { continue }
            let opens = i < t.count && t[i].kind == .open
            let words = s.map(\.text)
            switch context {
            case .top:
                topStatement(s, opens: opens, t, &i, file: file, visited: &visited)
            case .table:
                if words[0] == "chain", s.count >= 2 {
                    let key = ChainKey(family: family, table: table, chain: words[1])
                    if chains[key] == nil { chains[key] = head.loc }
                    if opens { parseBlock(t, &i, context: .chain, family: family, table: table, chain: words[1], file: file, visited: &visited) }
                } else if opens {
                    skipBlock(t, &i)
                }
            case .chain:
                if opens { skipBlock(t, &i) }
                if ["type", "policy", "comment", "devices", "device", "flags", "priority", "hook"].contains(words[0]) { continue }
                rules[ChainKey(family: family, table: table, chain: chain), default: []].append(head.loc)
            case .other:
                if opens { skipBlock(t, &i) }
            }
        }
    }

    /// One statement at the top of a file: an include, or a command (`add`, `table`, `insert`, `flush`, …).
    private mutating func topStatement(
        _ s: [Token], opens: Bool, _ t: [Token], _ i: inout Int, file: String, visited: inout Set<String>
    ) {
        guard let head = s.first else { return }
        let words = s.map(\.text)
        let cmd = words[0]
        if cmd == "include", s.count > 1 {
            let target = s[1].text
            let dir = URL(fileURLWithPath: file).deletingLastPathComponent()
            let path = target.hasPrefix("/") ? target : dir.appendingPathComponent(target).path
            if !target.contains("*") && !target.contains("?") { scan(file: path, visited: &visited) }
            return
        }
        var rest = Array(words.dropFirst())
        let verb = (cmd == "add" || cmd == "create") ? "add" : cmd
        if verb == "add" || verb == "table" || verb == "chain" {
            var object = verb
            if verb == "add" { object = rest.first ?? ""; rest = Array(rest.dropFirst()) }
            let (fam, names) = Self.splitFamily(rest)
            switch object {
            case "table" where names.count >= 1:
                let key = "\(fam) \(names[0])"
                if tables[key] == nil { tables[key] = head.loc }
                if opens { parseBlock(t, &i, context: .table, family: fam, table: names[0], chain: "", file: file, visited: &visited) }
            case "chain" where names.count >= 2:
                let key = ChainKey(family: fam, table: names[0], chain: names[1])
                if chains[key] == nil { chains[key] = head.loc }
                if opens { parseBlock(t, &i, context: .chain, family: fam, table: names[0], chain: names[1], file: file, visited: &visited) }
            case "rule" where names.count >= 2:
                let key = ChainKey(family: fam, table: names[0], chain: names[1])
                if names.contains("position") || names.contains("handle") || names.contains("index") { unordered.insert(key) }
                rules[key, default: []].append(head.loc)
                if opens { skipBlock(t, &i) }
            default:
                if opens { skipBlock(t, &i) }
            }
        } else if verb == "insert" || verb == "replace" || (verb == "delete" && rest.first == "rule") {
            let (fam, names) = Self.splitFamily(Array(rest.dropFirst()))
            if names.count >= 2 { unordered.insert(ChainKey(family: fam, table: names[0], chain: names[1])) }
            if opens { skipBlock(t, &i) }
        } else if verb == "flush" || verb == "delete" || verb == "destroy" {
            let object = rest.first ?? ""
            let (fam, names) = Self.splitFamily(Array(rest.dropFirst()))
            switch object {
            case "ruleset":
                rules = [:]; unordered = []
            case "table" where !names.isEmpty:
                for k in rules.keys where k.family == fam && k.table == names[0] { rules[k] = nil }
            case "chain" where names.count >= 2:
                rules[ChainKey(family: fam, table: names[0], chain: names[1])] = nil
            default: break
            }
            if opens { skipBlock(t, &i) }
        } else if opens {
            skipBlock(t, &i)
        }
    }

    /// `[family] name…`: nft's default family is `ip`.
    static func splitFamily(_ words: [String]) -> (String, [String]) {
        if let f = words.first, families.contains(f) { return (f, Array(words.dropFirst())) }
        return ("ip", words)
    }
}

extension RulesetSourceMap {
    /// Points findings at the candidate file: a finding about a rule at that rule's line, a finding about a listener at
    /// the line of the rule that decides its exposure. Used for SARIF, whose physical location is the policy entry
    /// otherwise. Findings with neither (host facts) keep their location.
    public func pointing(_ findings: [Finding], reaches: [ListenerReach]) -> [Finding] {
        var bySubject: [String: PathStep] = [:]
        for r in reaches { if let s = r.path.last(where: { $0.handle != nil }) { bySubject[r.subject] = s } }
        return findings.map { f in
            var f = f
            if let r = f.rule, let loc = location(family: r.family, table: r.table, chain: r.chain, handle: r.handle) {
                f.policyLocation = loc
            } else if let s = bySubject[f.subject], let h = s.handle,
                let loc = location(family: s.family.description, table: s.table, chain: s.chain, handle: h)
            {
                f.policyLocation = loc
            }
            return f
        }
    }
}
