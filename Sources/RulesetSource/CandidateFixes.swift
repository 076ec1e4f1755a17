import HostModel
import Policy
import Checks
import Evaluator

extension RulesetSourceMap {
    /// For the findings of a candidate ruleset (`--ruleset FILE`): names the line of FILE holding the rule a finding is
    /// about, or the rule that decides a listener's exposure (`rulesetLocation`, printed by every format), and turns a
    /// fix quoted as nft commands into an edit of the file. The candidate's handles exist only in the throwaway namespace
    /// it was loaded into: on the real host they would name other rules, or none.
    /// - Parameter baseDirectory: file names in the fix text are written relative to it when they lie inside it.
    public func locating(_ findings: [Finding], reaches: [ListenerReach], baseDirectory: String?) -> [Finding] {
        var deciding: [String: PathStep] = [:]
        for r in reaches { if let s = r.path.last(where: { $0.handle != nil }) { deciding[r.subject] = s } }
        return findings.map { f in
            var f = f
            var chain: ChainRef?
            if let r = f.rule {
                chain = r.chainRef
                f.rulesetLocation = location(family: r.family, table: r.table, chain: r.chain, handle: r.handle)
            } else if let s = deciding[f.subject], let h = s.handle {
                chain = ChainRef(family: s.family.description, table: s.table, chain: s.chain)
                f.rulesetLocation = location(family: s.family.description, table: s.table, chain: s.chain, handle: h)
            } else if case .policyDrop(let cs)? = f.fix?.edit, let c = cs.first {
                f.rulesetLocation = chainLocation(c)
            }
            if let file = f.rulesetLocation?.file { f.rulesetLocation?.file = Self.relative(file, to: baseDirectory) }
            if let fix = f.fix { f.remediation = fileEdit(fix, baseDirectory: baseDirectory) }
            if let chain { f.message = renumbered(f.message, chain, baseDirectory) }
            if let path = f.evidence?.path { f.evidence?.path = path.map { renumberedStep($0, baseDirectory) } }
            return f
        }
    }

    /// `Rule #12` / `rule #12` of `chain` → `Rule at FILE:LINE`, where the rule has a line of its own (the number is
    /// the throwaway namespace's handle, which means nothing in the file).
    func renumbered(_ text: String, _ chain: ChainRef, _ base: String?) -> String {
        text.replacing(#/([Rr]ule) #([0-9]+)/#) { m in
            guard let h = UInt64(m.output.2), let loc = exactLocation(chain, h) else { return String(m.output.0) }
            return "\(m.output.1) at \(Self.relative(loc.file, to: base)):\(loc.line)"
        }
    }

    /// A path step `inet filter input #6 [input 0]: accept` → `inet filter input at FILE:LINE [input 0]: accept`.
    func renumberedStep(_ step: String, _ base: String?) -> String {
        step.replacing(#/^(\S+) (\S+) (\S+) #([0-9]+) /#) { m in
            let chain = ChainRef(family: String(m.output.1), table: String(m.output.2), chain: String(m.output.3))
            guard let h = UInt64(m.output.4), let loc = exactLocation(chain, h) else { return String(m.output.0) }
            return "\(chain) at \(Self.relative(loc.file, to: base)):\(loc.line) "
        }
    }

    func exactLocation(_ c: ChainRef, _ handle: UInt64) -> SourceLocation? {
        guard isExact(family: c.family, table: c.table, chain: c.chain, handle: handle) else { return nil }
        return location(family: c.family, table: c.table, chain: c.chain, handle: handle)
    }

    /// `path` relative to `base` when it lies inside it.
    static func relative(_ path: String, to base: String?) -> String {
        guard let base, path.hasPrefix("/") else { return path }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// The fix as an edit of the file, with lines where the map knows them (never a guessed line).
    func fileEdit(_ fix: RulesetFix, baseDirectory: String?) -> String {
        func show(_ path: String) -> String { Self.relative(path, to: baseDirectory) }
        func at(_ l: SourceLocation) -> String { "\(show(l.file)):\(l.line)" }
        func exactLine(_ r: FindingRule) -> SourceLocation? {
            isExact(family: r.family, table: r.table, chain: r.chain, handle: r.handle)
                ? location(family: r.family, table: r.table, chain: r.chain, handle: r.handle) : nil
        }
        func inChain(_ c: ChainRef) -> String {
            "chain \(c.chain) of table \(c.family) \(c.table)" + (chainLocation(c).map { " (declared at \(at($0)))" } ?? "")
        }
        let file = show(mainFile)
        let body: String
        switch fix.edit {
        case .delete(let r, let text):
            body =
                exactLine(r).map { "edit \(at($0)): delete this rule (\(text))." }
                ?? "edit \(file): delete the rule \(text) from \(inChain(r.chainRef))."
        case .insertFirst(let c, let rule):
            body = "edit \(file): add `\(rule)` as the first rule of \(inChain(c))."
        case .insertBefore(let r, let rule):
            body =
                exactLine(r).map { "edit \(at($0)): add `\(rule)` on a line of its own before this rule." }
                ?? "edit \(file): add `\(rule)` in front of the rule that accepts it in \(inChain(r.chainRef))."
        case .move(let r, let above):
            if let a = exactLine(r), let b = exactLine(above) {
                body = "edit \(file): move the rule at line \(a.line) above the rule at line \(b.line), or delete it."
            } else {
                body = "edit \(file): in \(inChain(r.chainRef)), move the rule that never matches above the rule that shadows it, or delete it."
            }
        case .policyDrop(let chains):
            body = "edit \(file): set `policy drop;` in " + chains.map(inChain).joined(separator: " and ") + "."
        case .newInputChain(let rule):
            body =
                "edit \(file): add an input chain that drops it, for example "
                + "`table inet portwarden { chain input { type filter hook input priority filter; policy accept; \(rule); } }`."
        }
        guard !fix.lead.isEmpty else { return body.prefix(1).uppercased() + body.dropFirst() }
        return "\(fix.lead) \(body)"
    }

    /// Where a chain is declared in the file.
    func chainLocation(_ c: ChainRef) -> SourceLocation? {
        chains[ChainKey(family: c.family, table: c.table, chain: c.chain)]
    }
}
