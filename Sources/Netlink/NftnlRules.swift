internal import CNetfilter
import HostModel

/// Rules parsed by libnftnl (`nftnl_rule_nlmsg_parse`, then its expression iterator and getters).
///
/// libnftnl fails the whole rule when one expression has a name it does not know (a newer kernel's), so the
/// expression list is walked first: an expression that is not listed in `ExpressionSchema` with well-formed
/// attributes keeps its place as `.unknown` with its raw attributes, and libnftnl parses a copy of the message
/// without it. The rule itself is never dropped.
enum NftnlRules {
    struct RuleInfo { var table: String, chain: String, rule: Rule }

    private static let ruleKinds = AttrCheck.kinds([
        (nla(NFTA_RULE_TABLE), .string), (nla(NFTA_RULE_CHAIN), .string), (nla(NFTA_RULE_HANDLE), .u64),
        (nla(NFTA_RULE_POSITION), .u64), (nla(NFTA_RULE_USERDATA), .binary), (nla(NFTA_RULE_ID), .u32),
        (nla(NFTA_RULE_POSITION_ID), .u32), (nla(NFTA_RULE_COMPAT), .nested)
    ])
    private static let compatKinds = AttrCheck.kinds([(nla(NFTA_RULE_COMPAT_PROTO), .u32), (nla(NFTA_RULE_COMPAT_FLAGS), .u32)])

    /// One expression's place in the rule: libnftnl parses it, or it stays as it came.
    private struct Slot {
        let raw: RawExpression
        let parsable: Bool
    }

    static func rule(_ message: Message) throws -> RuleInfo {
        var slots: [Slot] = [], lists = 0
        slots.reserveCapacity(16)  // most rules have fewer expressions: one allocation
        try forEachAttribute(NftnlObjects.attributes(message)) { t, v in
            switch t {
            case nla(NFTA_RULE_COMPAT):
                try AttrCheck.checkOne(t, v, ruleKinds, "rule")
                try AttrCheck.check(v, compatKinds, "rule compat")
            case nla(NFTA_RULE_EXPRESSIONS):
                lists += 1
                guard lists == 1 else { throw NetlinkError.malformed("rule with two expression lists") }
                try forEachAttribute(v) { et, element in
                    let raw = try RawExpression(element)
                    slots.append(Slot(raw: raw, parsable: et == nla(NFTA_LIST_ELEM) && raw.isParsable))
                }
            default: try AttrCheck.checkOne(t, v, ruleKinds, "rule")
            }
        }
        if slots.allSatisfy(\.parsable) { return try parse(message.bytes, slots) }
        let copy = try NftnlMessage.rewrite(message.bytes) { t, list in
            guard t == nla(NFTA_RULE_EXPRESSIONS) else { return nil }
            var out: [UInt8] = []
            var index = 0
            try NftnlMessage.forEachRaw(list) { type, element in
                defer { index += 1 }
                if index < slots.count, slots[index].parsable { NftnlMessage.append(&out, type: type, element) }
            }
            return out
        }
        return try copy.withUnsafeBytes { try parse($0, slots) }
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, _ slots: [Slot]) throws -> RuleInfo {
        try NftnlMessage.parse(bytes, .rule) { r in
            func has(_ a: nftnl_rule_attr) -> Bool { nftnl_rule_is_set(r, nla(a)) }
            func str(_ a: nftnl_rule_attr) -> String? { has(a) ? nftnl_rule_get_str(r, nla(a)).map { String(cString: $0) } : nil }
            guard let table = str(NFTNL_RULE_TABLE), let chain = str(NFTNL_RULE_CHAIN), has(NFTNL_RULE_HANDLE) else {
                throw NetlinkError.malformed("rule without table, chain or handle")
            }
            var comment: String?
            var length: UInt32 = 0
            if has(NFTNL_RULE_USERDATA), let p = nftnl_rule_get_data(r, nla(NFTNL_RULE_USERDATA), &length) {
                comment = UserData.comment(UnsafeRawBufferPointer(start: p, count: Int(length)))
            }
            let rule = Rule(handle: nftnl_rule_get_u64(r, nla(NFTNL_RULE_HANDLE)), expressions: try expressions(r, slots), comment: comment)
            return RuleInfo(table: table, chain: chain, rule: rule)
        }
    }

    /// The rule's expressions in order: libnftnl's for the parsable slots, the raw ones for the others.
    private static func expressions(_ r: OpaquePointer, _ slots: [Slot]) throws -> [Expression] {
        guard let iterator = nftnl_expr_iter_create(r) else { throw NetlinkError.malformed("a rule: out of memory") }
        defer { nftnl_expr_iter_destroy(iterator) }
        var result: [Expression] = []
        result.reserveCapacity(slots.count)
        for slot in slots {
            guard slot.parsable else { result.append(try slot.raw.unknown()); continue }
            guard let e = nftnl_expr_iter_next(iterator) else { throw NetlinkError.malformed("libnftnl lost an expression of a rule") }
            result.append(try NftnlExpressions.convert(e, name: slot.raw.name) ?? slot.raw.unknown())
        }
        guard nftnl_expr_iter_next(iterator) == nil else { throw NetlinkError.malformed("libnftnl found more expressions in a rule") }
        return result
    }
}

/// libnftnl user data (`nftnl_udata` TLVs: u8 type, u8 length, value), read with bounds checks; libnftnl's own
/// `nftnl_udata_parse` trusts the lengths.
enum UserData {
    /// The value of the first TLV of `type`.
    static func value(_ v: UnsafeRawBufferPointer, type: Int) -> UnsafeRawBufferPointer? {
        var i = 0
        while i + 2 <= v.count {
            let t = Int(v[i]), len = Int(v[i + 1])
            guard i + 2 + len <= v.count else { return nil }
            if t == type { return UnsafeRawBufferPointer(rebasing: v[(i + 2)..<(i + 2 + len)]) }
            i += 2 + len
        }
        return nil
    }

    /// A rule's comment (NFTNL_UDATA_RULE_COMMENT, a NUL-terminated string).
    static func comment(_ v: UnsafeRawBufferPointer) -> String? {
        value(v, type: Int(NFTNL_UDATA_RULE_COMMENT.rawValue)).map(rawString)
    }

    /// A set's key byte order (NFTNL_UDATA_SET_KEYBYTEORDER, a host-order u32: 1 host, 2 big).
    static func keyByteOrder(_ v: UnsafeRawBufferPointer) -> String? {
        var i = 0
        while i + 2 <= v.count {
            let t = Int(v[i]), len = Int(v[i + 1])
            guard i + 2 + len <= v.count else { return nil }
            if t == Int(NFTNL_UDATA_SET_KEYBYTEORDER.rawValue), len == 4 {
                switch v.loadUnaligned(fromByteOffset: i + 2, as: UInt32.self) {
                case 1: return "host"
                case 2: return "big"
                default: return nil
                }
            }
            i += 2 + len
        }
        return nil
    }
}
