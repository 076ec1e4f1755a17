import Foundation
import HostModel
import Testing

/// Field-by-field comparison of our decoded tables with `nft -j list ruleset` from the same namespace.
///
/// Set elements are compared as canonical spans: every element becomes one `lo-hi` pair of key bytes per
/// component (a plain value has lo == hi). Ours come from the kernel's encoding (rbtree start + exclusive END
/// elements, pipapo KEY..KEY_END, concatenations padded to 4 bytes); nft's from its printed values, prefixes and
/// ranges. Both sides are converted independently, so a decoding mistake on our side shows up as a difference.
enum RulesetComparison {
    /// Empty when the two sorted lists are equal; otherwise a few elements missing on each side (never both lists:
    /// a test output line of 10,000 elements helps nobody).
    static func difference(_ ours: [String], _ theirs: [String]) -> String {
        guard ours != theirs else { return "" }
        let a = Set(ours), b = Set(theirs)
        let missing = theirs.filter { !a.contains($0) }, extra = ours.filter { !b.contains($0) }
        if missing.isEmpty && extra.isEmpty { return "same elements, different counts (\(ours.count) vs \(theirs.count))" }
        func some(_ l: [String]) -> String { l.prefix(5).joined(separator: ", ") + (l.count > 5 ? ", … (\(l.count) in all)" : "") }
        return "only nft has [\(some(missing))]; only ours has [\(some(extra))]"
    }

    /// nft datatype ids (nftables include/datatype.h) → name printed by `nft -j` and the key's natural length.
    static let types: [UInt32: (name: String, length: Int)] = [
        7: ("ipv4_addr", 4), 8: ("ipv6_addr", 16), 12: ("inet_proto", 1), 13: ("inet_service", 2), 19: ("mark", 4),
        41: ("ifname", 16)
    ]

    static func components(of keyType: UInt32) -> [UInt32] {
        guard keyType > 63 else { return [keyType] }
        var ids: [UInt32] = []
        var k = keyType
        while k > 0 { ids.insert(k & 63, at: 0); k >>= 6 }
        return ids
    }

    // MARK: - Our side

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// Canonical spans of our set's elements (each element: "lo-hi" per component, joined by "|"), sorted.
    static func ourElements(_ set: NFTSet) throws -> [String] {
        let ids = components(of: set.keyType)
        let lengths = try ids.map { id in try #require(types[id]?.length, "type id \(id) of set \(set.name)") }
        func split(_ key: [UInt8]) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            var offset = 0
            for len in lengths {
                try #require(offset + len <= key.count, "key \(hex(key)) of set \(set.name) too short")
                out.append(Array(key[offset..<(offset + len)]))
                offset += (len + 3) & ~3
            }
            return out
        }
        let rbtree = set.isInterval && ids.count == 1 && !set.elements.contains { $0.keyEnd != nil }
        if !rbtree {
            return try set.elements.map { e in
                let lo = try split(e.key.bytes)
                let hi = try e.keyEnd.map { try split($0.bytes) } ?? lo
                return zip(lo, hi).map { "\(hex($0))-\(hex($1))" }.joined(separator: "|")
            }.sorted()
        }
        // rbtree: starts and exclusive ends, in any order; sort by key, END before a start on the same key.
        let sorted = set.elements.sorted { a, b in a.key == b.key ? a.isIntervalEnd && !b.isIntervalEnd : a.key < b.key }
        var out: [String] = []
        var i = 0
        while i < sorted.count {
            let e = sorted[i]
            i += 1
            guard !e.isIntervalEnd else { continue }  // the leading 0.0.0.0 END, or an end already consumed
            var hi = [UInt8](repeating: 0xff, count: e.key.bytes.count)
            if i < sorted.count, sorted[i].isIntervalEnd {
                hi = decrement(sorted[i].key.bytes)
                i += 1
            }
            out.append("\(hex(e.key.bytes))-\(hex(hi))")
        }
        return out.sorted()
    }

    static func decrement(_ b: [UInt8]) -> [UInt8] {
        var out = b
        for k in stride(from: out.count - 1, through: 0, by: -1) {
            if out[k] > 0 { out[k] -= 1; return out }
            out[k] = 0xff
        }
        return out
    }

    // MARK: - nft's side

    static func pton(_ s: String, v6: Bool) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: v6 ? 16 : 4)
        let ok = buf.withUnsafeMutableBytes { inet_pton(v6 ? AF_INET6 : AF_INET, s, $0.baseAddress) }
        try #require(ok == 1, "nft printed an address we cannot parse: \(s)")
        return buf
    }

    /// One component of an nft -j element value → (lo, hi) bytes.
    static func nftSpan(_ value: Any, type: UInt32) throws -> ([UInt8], [UInt8]) {
        if let s = value as? String {
            switch type {
            case 7: let b = try pton(s, v6: false); return (b, b)
            case 8: let b = try pton(s, v6: true); return (b, b)
            default: Issue.record("unexpected string element \(s) for type \(type)"); return ([], [])
            }
        }
        if let n = value as? Int {
            switch type {
            case 13: let b = [UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]; return (b, b)
            case 19: let b = withUnsafeBytes(of: UInt32(n).littleEndian) { Array($0) }; return (b, b)  // host order
            case 12: let b = [UInt8(n)]; return (b, b)
            default: Issue.record("unexpected number element \(n) for type \(type)"); return ([], [])
            }
        }
        if let d = value as? [String: Any] {
            if let p = d["prefix"] as? [String: Any], let addr = p["addr"] as? String, let len = p["len"] as? Int {
                let lo = try pton(addr, v6: type == 8)
                var hi = lo
                for bit in len..<(lo.count * 8) { hi[bit / 8] |= UInt8(0x80 >> (bit % 8)) }
                return (lo, hi)
            }
            if let r = d["range"] as? [Any], r.count == 2 {
                return (try nftSpan(r[0], type: type).0, try nftSpan(r[1], type: type).1)
            }
        }
        Issue.record("unexpected nft element value \(value)")
        return ([], [])
    }

    static func nftElement(_ value: Any, ids: [UInt32]) throws -> String {
        var parts: [Any] = [value]
        if let d = value as? [String: Any], let c = d["concat"] as? [Any] { parts = c }
        try #require(parts.count == ids.count, "element \(value) has \(parts.count) components, the set \(ids.count)")
        return try zip(parts, ids).map { v, t in
            let (lo, hi) = try nftSpan(v, type: t); return "\(hex(lo))-\(hex(hi))"
        }
        .joined(separator: "|")
    }

    static func nftVerdict(_ value: Any) -> String {
        guard let d = value as? [String: Any], let (k, v) = d.first else { return "?\(value)" }
        if let target = (v as? [String: Any])?["target"] as? String { return "\(k) \(target)" }
        return k
    }

    // MARK: - Comparison

    static func key(_ o: [String: Any]) -> String {
        "\(o["family"] ?? "?") \(o["table"] ?? o["name"] ?? "?")"
    }

    /// Compares everything `nft -j` shows that we model. Records issues; returns how many elements were compared.
    @discardableResult
    static func compare(ours tables: [Table], nft: NftJSON) throws -> Int {
        // Tables: family, name, handle, dormant (nft 1.0.6 prints the table *name* as "flags" when any flag is set).
        #expect(
            tables.map { "\($0.family.rawValue) \($0.name) \($0.handle) \($0.dormant)" }
                == nft.tables.map { "\($0["family"] ?? "?") \($0["name"] ?? "?") \($0["handle"] ?? "?") \($0["flags"] != nil)" })

        // Chains, in listing order, with their registration.
        func chainLine(_ t: Table, _ c: Chain) -> String {
            var s = "\(t.family.rawValue) \(t.name) \(c.name) \(c.handle)"
            if let b = c.base { s += " \(b.type) \(b.hook.rawValue) \(b.priority) \(b.policy.rawValue)" }
            return s
        }
        // nft 1.0.6 -j prints a binding chain (`jump { … }`, NFT_CHAIN_BINDING) only as text inside its rule.
        let ourChains = tables.flatMap { t in t.chains.filter { $0.flags & 0x4 == 0 }.map { (t, $0) } }
        #expect(
            ourChains.map { chainLine($0.0, $0.1) }
                == nft.chains.map { c in
                    var s = "\(c["family"] ?? "?") \(c["table"] ?? "?") \(c["name"] ?? "?") \(c["handle"] ?? "?")"
                    if let type = c["type"] { s += " \(type) \(c["hook"] ?? "?") \(c["prio"] ?? "?") \(c["policy"] ?? "?")" }
                    return s
                })

        // Rules: handles in order and comments, per chain.
        let ourRules = ourChains.flatMap { t, c in c.rules.map { "\(t.family.rawValue) \(t.name) \(c.name) \($0.handle) \($0.comment ?? "-")" } }
        #expect(
            ourRules
                == nft.rules.map {
                    "\($0["family"] ?? "?") \($0["table"] ?? "?") \($0["chain"] ?? "?") \($0["handle"] ?? "?") \($0["comment"] ?? "-")"
                })
        #expect(ourRules.count > 30)

        // Named sets and maps: name, handle, flags, key type, data, every element.
        let setFlags: [(UInt32, String)] = [(0x2, "constant"), (0x4, "interval"), (0x10, "timeout"), (0x20, "dynamic")]
        let ourSets = tables.flatMap { t in t.sets.filter { !$0.isAnonymous }.map { (t, $0) } }
        #expect(
            ourSets.map { "\($0.0.family.rawValue) \($0.0.name) \($0.1.name) \($0.1.handle)" }
                == nft.sets.map { "\($0["family"] ?? "?") \($0["table"] ?? "?") \($0["name"] ?? "?") \($0["handle"] ?? "?")" })
        var compared = 0
        for ((table, set), n) in zip(ourSets, nft.sets) {
            let label = "\(table.name)/\(set.name)"
            let ids = components(of: set.keyType)
            let typeNames = ids.map { types[$0]?.name ?? "?\($0)" }
            let nftType: [String] = (n["type"] as? [String]) ?? [(n["type"] as? String) ?? "?"]
            #expect(typeNames == nftType, "\(label) key type")
            #expect(setFlags.filter { set.flags & $0.0 != 0 }.map(\.1) == ((n["flags"] as? [String]) ?? []), "\(label) flags")
            let elems = (n["elem"] as? [Any]) ?? []
            if set.isMap {
                #expect(set.isVerdictMap && n["map"] as? String == "verdict", "\(label) is a verdict map")
                let ourPairs = try set.elements.map { e in
                    "\(try nftElementFromOurs(e, set: set)) → \(e.verdict?.description ?? "?")"
                }.sorted()
                let nftPairs = try elems.map { pair -> String in
                    let p = try #require(pair as? [Any])
                    return "\(try nftElement(p[0], ids: ids)) → \(nftVerdict(p[1]))"
                }.sorted()
                #expect(Self.difference(ourPairs, nftPairs).isEmpty, "\(label) map elements: \(Self.difference(ourPairs, nftPairs))")
            } else {
                let ours = try ourElements(set)
                let theirs = try elems.map { try nftElement($0, ids: ids) }.sorted()
                // Compared as a short difference: a failure must not print both lists (10,000 elements at s2).
                #expect(ours.count == theirs.count, "\(label) element count")
                #expect(Self.difference(ours, theirs).isEmpty, "\(label) elements: \(Self.difference(ours, theirs))")
            }
            compared += elems.count
        }

        // Anonymous sets and vmaps: in rule order, the inline sets nft prints against the sets our lookups name.
        let ruleByHandle = Dictionary(
            uniqueKeysWithValues: ourChains.flatMap { t, c in
                c.rules.map { ("\(t.family.rawValue) \(t.name) \(c.name) \($0.handle)", ($0, t)) }
            })
        for r in nft.rules {
            let inline = inlineSets(in: r["expr"] ?? [])
            guard !inline.isEmpty else { continue }
            let id = "\(r["family"] ?? "?") \(r["table"] ?? "?") \(r["chain"] ?? "?") \(r["handle"] ?? "?")"
            let (rule, table) = try #require(ruleByHandle[id], "rule \(id)")
            let anon = rule.expressions.compactMap { e -> NFTSet? in
                guard case .lookup(let l) = e, let s = table.set(named: l.set), s.isAnonymous else { return nil }
                return s
            }
            try #require(anon.count == inline.count, "rule \(id): \(anon.count) anonymous sets, nft shows \(inline.count)")
            for (set, elems) in zip(anon, inline) {
                let ids = components(of: set.keyType)
                if set.isMap {
                    let ours = try set.elements.map { "\(try nftElementFromOurs($0, set: set)) → \($0.verdict?.description ?? "?")" }.sorted()
                    let theirs = try elems.map { pair -> String in
                        let p = try #require(pair as? [Any])
                        return "\(try nftElement(p[0], ids: ids)) → \(nftVerdict(p[1]))"
                    }.sorted()
                    #expect(ours == theirs, "rule \(id) vmap")
                } else {
                    #expect(try ourElements(set) == elems.map { try nftElement($0, ids: ids) }.sorted(), "rule \(id) anonymous set")
                }
                compared += elems.count
            }
        }
        return compared
    }

    /// A plain (non-interval) element of ours in the canonical span form.
    static func nftElementFromOurs(_ e: SetElement, set: NFTSet) throws -> String {
        var one = set
        one.elements = [e]
        return try #require(ourElements(one).first)
    }

    /// Every `{"set": [...]}` nft prints inline in a rule (anonymous sets and vmap data), in order.
    static func inlineSets(in value: Any) -> [[Any]] {
        if let d = value as? [String: Any] {
            if let s = d["set"] as? [Any] { return [s] }
            return d.keys.sorted(by: { a, b in a == "data" ? false : b == "data" ? true : a < b }).flatMap { inlineSets(in: d[$0] ?? "?") }
        }
        if let a = value as? [Any] { return a.flatMap { inlineSets(in: $0) } }
        return []
    }
}
