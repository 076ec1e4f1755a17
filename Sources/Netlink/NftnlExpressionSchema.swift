internal import CNetfilter

/// The attributes of each expression this version models, with the form each must have.
///
/// An expression is handed to libnftnl only when its name is listed here and every attribute it carries is one of
/// its listed attributes, in the listed form. Anything else (a name libnftnl may not know, an attribute of a newer
/// kernel, a damaged value) is kept as `.unknown` with its raw attributes and never reaches libnftnl, which would
/// drop the whole rule for an unknown name and end the process for a mis-sized value.
enum ExpressionSchema {
    /// A listed expression: its name and the kinds of its attributes.
    struct Entry: Sendable {
        let name: String
        let kinds: [AttrKind?]
    }

    /// The listed expressions; `index(named:)` answers a position in this list.
    static let entries: [Entry] = table.map { Entry(name: $0.key, kinds: $0.value) }

    /// The position in `entries` of the expression whose name is `bytes` (an NFTA_EXPR_NAME value, read up to its
    /// first NUL), or nil when it is not listed. Every rule's every expression is looked up here, so the names are
    /// compared as packed integers instead of building and hashing a String.
    static func index(named bytes: UnsafeRawBufferPointer) -> Int? {
        guard let key = PackedName(bytes) else { return nil }
        return packedNames.firstIndex(of: key)
    }

    /// `entries`' names, packed, in the same order.
    private static let packedNames: [PackedName] = entries.map { entry in
        Array(entry.name.utf8).withUnsafeBytes { PackedName($0) } ?? PackedName()
    }

    /// A name of at most 16 bytes as two integers (zero-padded), so comparing two names is two compares.
    private struct PackedName: Equatable, Sendable {
        var low: UInt64 = 0, high: UInt64 = 0

        /// The empty name (never listed).
        init() {}

        /// nil for a name longer than 16 bytes (none is listed).
        init?(_ bytes: UnsafeRawBufferPointer) {
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            guard end <= 16 else { return nil }
            for i in 0..<end {
                let byte = UInt64(bytes[i])
                if i < 8 { low |= byte << (8 * UInt64(i)) } else { high |= byte << (8 * UInt64(i - 8)) }
            }
        }
    }

    /// Whether a nested expression (name + data, as inside NFTA_DYNSET_EXPR) is listed and valid.
    static func isValid(nested v: UnsafeRawBufferPointer) -> Bool {
        guard let e = try? RawExpression(v) else { return false }
        return e.isParsable
    }

    /// Whether every attribute of `data` is listed in `kinds` and has its form.
    static func isValid(data: UnsafeRawBufferPointer, kinds: [AttrKind?]) -> Bool {
        var ok = true
        do {
            try forEachAttribute(data) { t, v in
                guard ok else { return }
                guard Int(t) < kinds.count, let kind = kinds[Int(t)], AttrCheck.valid(kind, v) else { ok = false; return }
            }
        } catch {
            return false
        }
        return ok
    }

    private static let table: [String: [AttrKind?]] = {
        let k = AttrCheck.kinds
        return [
            "payload": k([
                (nla(NFTA_PAYLOAD_DREG), .u32), (nla(NFTA_PAYLOAD_BASE), .u32), (nla(NFTA_PAYLOAD_OFFSET), .u32),
                (nla(NFTA_PAYLOAD_LEN), .u32), (nla(NFTA_PAYLOAD_SREG), .u32),
                // The checksum fix-up of a mangle statement: no effect on matching.
                (nla(NFTA_PAYLOAD_CSUM_TYPE), .u32), (nla(NFTA_PAYLOAD_CSUM_OFFSET), .u32), (nla(NFTA_PAYLOAD_CSUM_FLAGS), .u32)
            ]),
            "meta": k([(nla(NFTA_META_DREG), .u32), (nla(NFTA_META_KEY), .u32), (nla(NFTA_META_SREG), .u32)]),
            "cmp": k([(nla(NFTA_CMP_SREG), .u32), (nla(NFTA_CMP_OP), .u32), (nla(NFTA_CMP_DATA), .value)]),
            // Not NFTA_BITWISE_SREG2 and later: the boolean ops of newer kernels are not modelled.
            "bitwise": k([
                (nla(NFTA_BITWISE_SREG), .u32), (nla(NFTA_BITWISE_DREG), .u32), (nla(NFTA_BITWISE_LEN), .u32),
                (nla(NFTA_BITWISE_MASK), .value), (nla(NFTA_BITWISE_XOR), .value), (nla(NFTA_BITWISE_OP), .u32),
                (nla(NFTA_BITWISE_DATA), .value)
            ]),
            "byteorder": k([
                (nla(NFTA_BYTEORDER_SREG), .u32), (nla(NFTA_BYTEORDER_DREG), .u32), (nla(NFTA_BYTEORDER_OP), .u32),
                (nla(NFTA_BYTEORDER_LEN), .u32), (nla(NFTA_BYTEORDER_SIZE), .u32)
            ]),
            "range": k([
                (nla(NFTA_RANGE_SREG), .u32), (nla(NFTA_RANGE_OP), .u32), (nla(NFTA_RANGE_FROM_DATA), .value),
                (nla(NFTA_RANGE_TO_DATA), .value)
            ]),
            "lookup": k([
                (nla(NFTA_LOOKUP_SET), .string), (nla(NFTA_LOOKUP_SREG), .u32), (nla(NFTA_LOOKUP_DREG), .u32),
                (nla(NFTA_LOOKUP_SET_ID), .u32), (nla(NFTA_LOOKUP_FLAGS), .u32)
            ]),
            "immediate": k([(nla(NFTA_IMMEDIATE_DREG), .u32), (nla(NFTA_IMMEDIATE_DATA), .valueOrVerdict)]),
            "ct": k([
                (nla(NFTA_CT_DREG), .u32), (nla(NFTA_CT_KEY), .u32), (nla(NFTA_CT_DIRECTION), .u8), (nla(NFTA_CT_SREG), .u32)
            ]),
            "fib": k([(nla(NFTA_FIB_DREG), .u32), (nla(NFTA_FIB_RESULT), .u32), (nla(NFTA_FIB_FLAGS), .u32)]),
            "nat": k([
                (nla(NFTA_NAT_TYPE), .u32), (nla(NFTA_NAT_FAMILY), .u32), (nla(NFTA_NAT_REG_ADDR_MIN), .u32),
                (nla(NFTA_NAT_REG_ADDR_MAX), .u32), (nla(NFTA_NAT_REG_PROTO_MIN), .u32), (nla(NFTA_NAT_REG_PROTO_MAX), .u32),
                (nla(NFTA_NAT_FLAGS), .u32)
            ]),
            "redir": k([
                (nla(NFTA_REDIR_REG_PROTO_MIN), .u32), (nla(NFTA_REDIR_REG_PROTO_MAX), .u32), (nla(NFTA_REDIR_FLAGS), .u32)
            ]),
            "masq": k([
                (nla(NFTA_MASQ_FLAGS), .u32), (nla(NFTA_MASQ_REG_PROTO_MIN), .u32), (nla(NFTA_MASQ_REG_PROTO_MAX), .u32)
            ]),
            "reject": k([(nla(NFTA_REJECT_TYPE), .u32), (nla(NFTA_REJECT_ICMP_CODE), .u8)]),
            // Packet and byte counts are run-time statistics, not part of the ruleset's meaning.
            "counter": k([(nla(NFTA_COUNTER_BYTES), .u64), (nla(NFTA_COUNTER_PACKETS), .u64), (nla(NFTA_COUNTER_PAD), .binary)]),
            "notrack": [],
            // Snaplen, queue threshold and flags say what is logged, not whether the packet passes.
            "log": k([
                (nla(NFTA_LOG_GROUP), .u16), (nla(NFTA_LOG_PREFIX), .string), (nla(NFTA_LOG_SNAPLEN), .u32),
                (nla(NFTA_LOG_QTHRESHOLD), .u16), (nla(NFTA_LOG_LEVEL), .u32), (nla(NFTA_LOG_FLAGS), .u32)
            ]),
            "limit": k([
                (nla(NFTA_LIMIT_RATE), .u64), (nla(NFTA_LIMIT_UNIT), .u64), (nla(NFTA_LIMIT_BURST), .u32),
                (nla(NFTA_LIMIT_TYPE), .u32), (nla(NFTA_LIMIT_FLAGS), .u32)
            ]),
            // NFTA_QUOTA_CONSUMED is run-time state, kept to decide the rule.
            "quota": k([(nla(NFTA_QUOTA_BYTES), .u64), (nla(NFTA_QUOTA_FLAGS), .u32), (nla(NFTA_QUOTA_CONSUMED), .u64)]),
            "connlimit": k([(nla(NFTA_CONNLIMIT_COUNT), .u32), (nla(NFTA_CONNLIMIT_FLAGS), .u32)]),
            "numgen": k([
                (nla(NFTA_NG_DREG), .u32), (nla(NFTA_NG_MODULUS), .u32), (nla(NFTA_NG_TYPE), .u32), (nla(NFTA_NG_OFFSET), .u32)
            ]),
            "hash": k([
                (nla(NFTA_HASH_SREG), .u32), (nla(NFTA_HASH_DREG), .u32), (nla(NFTA_HASH_LEN), .u32),
                (nla(NFTA_HASH_MODULUS), .u32), (nla(NFTA_HASH_SEED), .u32), (nla(NFTA_HASH_OFFSET), .u32),
                (nla(NFTA_HASH_TYPE), .u32)
            ]),
            "socket": k([(nla(NFTA_SOCKET_KEY), .u32), (nla(NFTA_SOCKET_DREG), .u32), (nla(NFTA_SOCKET_LEVEL), .u32)]),
            "dynset": k([
                (nla(NFTA_DYNSET_SET_NAME), .string), (nla(NFTA_DYNSET_SET_ID), .u32), (nla(NFTA_DYNSET_OP), .u32),
                (nla(NFTA_DYNSET_SREG_KEY), .u32), (nla(NFTA_DYNSET_SREG_DATA), .u32), (nla(NFTA_DYNSET_TIMEOUT), .u64),
                (nla(NFTA_DYNSET_EXPR), .expression), (nla(NFTA_DYNSET_FLAGS), .u32), (nla(NFTA_DYNSET_EXPRESSIONS), .expressions)
            ]),
            "objref": k([
                (nla(NFTA_OBJREF_IMM_TYPE), .u32), (nla(NFTA_OBJREF_IMM_NAME), .string), (nla(NFTA_OBJREF_SET_SREG), .u32),
                (nla(NFTA_OBJREF_SET_NAME), .string), (nla(NFTA_OBJREF_SET_ID), .u32)
            ]),
            // Not NFTA_QUEUE_SREG_QNUM: a queue number from a register is not modelled.
            "queue": k([(nla(NFTA_QUEUE_NUM), .u16), (nla(NFTA_QUEUE_TOTAL), .u16), (nla(NFTA_QUEUE_FLAGS), .u16)]),
            // Not NFTA_EXTHDR_SREG: a write (tcp option mangle) is not modelled.
            "exthdr": k([
                (nla(NFTA_EXTHDR_DREG), .u32), (nla(NFTA_EXTHDR_TYPE), .u8), (nla(NFTA_EXTHDR_OFFSET), .u32),
                (nla(NFTA_EXTHDR_LEN), .u32), (nla(NFTA_EXTHDR_FLAGS), .u32), (nla(NFTA_EXTHDR_OP), .u32)
            ]),
            "match": k([(nla(NFTA_MATCH_NAME), .string), (nla(NFTA_MATCH_REV), .u32), (nla(NFTA_MATCH_INFO), .binary)]),
            "target": k([(nla(NFTA_TARGET_NAME), .string), (nla(NFTA_TARGET_REV), .u32), (nla(NFTA_TARGET_INFO), .binary)]),
            // Not modelled on its own (it becomes `.unknown`), but it is what a dynset's `update @s { … }` may carry.
            "last": k([(nla(NFTA_LAST_SET), .u32), (nla(NFTA_LAST_MSECS), .u64)])
        ]
    }()
}

/// One expression of a rule as it is on the wire: its name and its NFTA_EXPR_DATA (empty when absent).
struct RawExpression {
    /// The position in `ExpressionSchema.entries` of the listed expression of that name; nil for a name this
    /// version does not model. (An index, not the entry: a rule's expressions are copied around as plain values.)
    let schemaIndex: Int?
    let data: UnsafeRawBufferPointer
    private let nameBytes: UnsafeRawBufferPointer
    /// The name is NUL-terminated, as libnftnl needs it.
    private let nameIsString: Bool

    /// - Throws: `NetlinkError.malformed` for an expression without a name or with a truncated attribute.
    init(_ element: UnsafeRawBufferPointer) throws {
        var name: UnsafeRawBufferPointer?, data = UnsafeRawBufferPointer(start: nil, count: 0)
        try forEachAttribute(element) { t, v in
            switch t {
            case nla(NFTA_EXPR_NAME): name = v
            case nla(NFTA_EXPR_DATA): data = v
            default: break
            }
        }
        guard let name else { throw NetlinkError.malformed("expression without a name") }
        self.nameBytes = name
        self.schemaIndex = ExpressionSchema.index(named: name)
        self.nameIsString = AttrCheck.isString(name)
        self.data = data
    }

    /// The expression's name (the listed String when it is listed, so no String is built for it).
    var name: String { schemaIndex.map { ExpressionSchema.entries[$0].name } ?? rawString(nameBytes) }

    /// Whether libnftnl may parse it: a listed name and listed, well-formed attributes.
    var isParsable: Bool {
        guard nameIsString, AttrCheck.isNested(data), let schemaIndex else { return false }
        return ExpressionSchema.isValid(data: data, kinds: ExpressionSchema.entries[schemaIndex].kinds)
    }

    /// Every attribute as it came, for `.unknown`.
    func unknown() throws -> Expression {
        var attributes: [RawAttribute] = []
        try forEachAttribute(data) { t, v in attributes.append(RawAttribute(type: t, value: Bytes(Array(v)))) }
        return .unknown(Unknown(name: name, attributes: attributes))
    }
}

/// A string attribute up to its first NUL.
func rawString(_ v: UnsafeRawBufferPointer) -> String {
    let end = v.firstIndex(of: 0) ?? v.count
    return String(decoding: UnsafeRawBufferPointer(rebasing: v[0..<end]), as: UTF8.self)
}

import HostModel
