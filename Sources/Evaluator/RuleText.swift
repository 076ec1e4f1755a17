import HostModel

/// The nft text of a decoded rule, built while `RuleDecoder` walks the expressions. A rule is printed as nft only
/// when every expression has a faithful nft form (what `nft add rule` would turn back into the same expressions);
/// anything else is listed in `unprintable`, and the rule is then described in words, never quoted as nft.
public struct RuleText: Sendable, Equatable {
    enum Phrase: Sendable, Equatable {
        /// `meta l4proto tcp` (or `ip protocol tcp`): dropped when a `tcp dport` phrase implies it.
        case proto(String)
        /// `meta nfproto ipv4`: dropped when an `ip saddr`/`ip6 saddr` phrase implies it.
        case nfproto(String)
        /// The right-hand side of a destination-port match (`22`, `1000-2000`, `{ 80, 81 }`, `@web`, `!= 22`).
        case dport(String)
        case plain(String)
    }

    var phrases: [Phrase] = []
    /// Expressions without a faithful nft form (their names), in rule order.
    public private(set) var unprintable: [String] = []
    var verdict: String?
    /// The rule's comment, printed last as nft does.
    var comment: String?

    mutating func add(_ p: Phrase) { phrases.append(p) }
    mutating func cannotPrint(_ what: String) { unprintable.append(what) }
    mutating func setVerdict(_ v: String) { verdict = v }

    /// `comment "…"`; a comment nft would need escaping for has no faithful text here.
    mutating func setComment(_ c: String) {
        if c.contains("\"") || c.contains("\\") || c.contains("\n") { cannotPrint("comment") } else { comment = c }
    }

    /// The rule as nft would accept it after `nft add rule FAMILY TABLE CHAIN`, or nil when some expression has no
    /// faithful nft form.
    public func nft(proto: L4Proto?) -> String? {
        guard unprintable.isEmpty else { return nil }
        let text = words(proto: proto, verdict: true).joined(separator: " ")
        return text.isEmpty ? nil : text
    }

    /// Words for a description: the printable phrases, then what cannot be printed, then the verdict.
    func words(proto: L4Proto?, verdict withVerdict: Bool) -> [String] {
        let hasDport = phrases.contains {
            if case .dport = $0 { return true }; return false
        }
        let hasAddress = phrases.contains {
            if case .plain(let s) = $0 { return s.hasPrefix("ip saddr") || s.hasPrefix("ip6 saddr") }; return false
        }
        var out: [String] = []
        for p in phrases {
            switch p {
            case .proto(let s): if !(hasDport && proto != nil) { out.append(s) }
            case .nfproto(let s): if !hasAddress { out.append(s) }
            case .dport(let rhs): out.append("\(proto.map(\.rawValue) ?? "th") dport \(rhs)")
            case .plain(let s): out.append(s)
            }
        }
        if withVerdict, let verdict { out.append(verdict) }
        if withVerdict, let comment { out.append("comment \"\(comment)\"") }
        return out
    }

    /// A description for a rule that cannot be printed as nft: what was decoded, and what was not.
    func description(proto: L4Proto?) -> String {
        let matched = words(proto: proto, verdict: false)
        let decoded = matched.isEmpty ? "" : "matching \(matched.joined(separator: " ")) and "
        return "a rule \(decoded)with \(unprintable.joined(separator: ", ")) (not shown as nft)" + (verdict.map { ", verdict \($0)" } ?? "")
    }

    // MARK: pieces

    static func ports(_ ranges: [PortRange]) -> String {
        let items = ranges.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }
        return items.count == 1 ? items[0] : "{ \(items.joined(separator: ", ")) }"
    }

    /// `ct state` names of a conntrack state bit mask (host byte order), in nft's order; nil for unknown bits.
    static func ctStates(_ mask: UInt32) -> String? {
        let names: [(UInt32, String)] = [(1, "invalid"), (2, "established"), (4, "related"), (8, "new"), (64, "untracked")]
        guard mask != 0, mask & ~names.reduce(0, { $0 | $1.0 }) == 0 else { return nil }
        return names.filter { mask & $0.0 != 0 }.map(\.1).joined(separator: ",")
    }

    /// The nft spelling of a reject, when it is the one nft emits for that spelling in this table family.
    static func reject(_ r: Reject, family: TableFamily) -> String? {
        let icmpx: [UInt8: String] = [0: "no-route", 2: "host-unreachable", 3: "admin-prohibited"]
        switch (r.type, r.code, family) {
        case (1, _, _): return "reject with tcp reset"
        case (2, 1?, .inet): return "reject"
        case (2, let c?, .inet): return icmpx[c].map { "reject with icmpx \($0)" }
        case (0, 3?, .ip): return "reject"
        case (0, 4?, .ip6): return "reject"
        default: return nil
        }
    }

    /// A plain `log` or `log prefix "…"`; nil for levels, groups or prefixes nft would need escaping for.
    static func log(_ l: Log) -> String? {
        guard l.group == nil, l.level == nil || l.level == 4 else { return nil }
        guard let p = l.prefix else { return "log" }
        guard !p.contains("\""), !p.contains("\\") else { return nil }
        return "log prefix \"\(p)\""
    }

    /// Whether a mask is a run of one bits followed by zero bits (an address prefix).
    static func isPrefixMask(_ bytes: [UInt8]) -> Bool {
        var seenZero = false
        for b in bytes {
            for i in (0..<8).reversed() {
                let one = b & (1 << UInt8(i)) != 0
                if one && seenZero { return false }
                if !one { seenZero = true }
            }
        }
        return true
    }

    /// Whether a set name can be written as `@name` without quoting.
    static func isPlainName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f.properties.isAlphabetic || f == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}
