internal import CNetfilter
import HostModel

/// Converts one expression libnftnl parsed into `HostModel.Expression` through libnftnl's getters.
///
/// Only expressions `ExpressionSchema` lets through get here, so every attribute they carry is understood. The
/// typed case is still refused (`nil`: the caller keeps the raw attributes as `.unknown`) when a required attribute
/// is missing or a value is outside what this version models, so the evaluator can say "conditional" instead of
/// guessing.
enum NftnlExpressions {
    /// Typed getters that say `nil` for an attribute the expression does not carry (`nftnl_expr_get` says NULL).
    private struct Get {
        let e: OpaquePointer
        func raw(_ a: Int) -> UnsafeRawBufferPointer? {
            var len: UInt32 = 0
            return nftnl_expr_get(e, UInt16(a), &len).map { UnsafeRawBufferPointer(start: $0, count: Int(len)) }
        }
        func has(_ a: Int) -> Bool { nftnl_expr_is_set(e, UInt16(a)) }
        func u8(_ a: Int) -> UInt8? { raw(a).flatMap { $0.count == 1 ? $0[0] : nil } }
        func u16(_ a: Int) -> UInt16? { raw(a).flatMap { $0.count == 2 ? $0.loadUnaligned(as: UInt16.self) : nil } }
        func u32(_ a: Int) -> UInt32? { raw(a).flatMap { $0.count == 4 ? $0.loadUnaligned(as: UInt32.self) : nil } }
        func u64(_ a: Int) -> UInt64? { raw(a).flatMap { $0.count == 8 ? $0.loadUnaligned(as: UInt64.self) : nil } }
        func str(_ a: Int) -> String? { raw(a).map(rawString) }
        func bytes(_ a: Int) -> Bytes? { raw(a).map { Bytes(Array($0)) } }
        /// Exactly one of two registers (a load or a store).
        func oneOf(_ a: Int, _ b: Int) -> Bool { has(a) != has(b) }
    }

    static func convert(_ e: OpaquePointer, name: String) throws -> Expression? {
        let g = Get(e: e)
        switch name {
        case "payload", "meta", "cmp", "bitwise", "byteorder", "range", "lookup", "immediate", "ct", "fib":
            return matching(g, name)
        case "nat", "redir", "masq", "reject", "queue", "objref":
            return statements(g, name)
        case "counter": return .counter
        case "notrack": return .notrack
        default:
            return try others(g, name)
        }
    }

    /// Loads, comparisons and lookups: what decides whether a rule matches.
    private static func matching(_ g: Get, _ name: String) -> Expression? {
        switch name {
        case "payload":
            guard let base = g.u32(NFTNL_EXPR_PAYLOAD_BASE).flatMap(PayloadBase.init(raw:)),
                let offset = g.u32(NFTNL_EXPR_PAYLOAD_OFFSET), let len = g.u32(NFTNL_EXPR_PAYLOAD_LEN),
                g.oneOf(NFTNL_EXPR_PAYLOAD_DREG, NFTNL_EXPR_PAYLOAD_SREG)
            else { return nil }
            return .payload(
                Payload(base: base, offset: offset, length: len, dreg: g.u32(NFTNL_EXPR_PAYLOAD_DREG), sreg: g.u32(NFTNL_EXPR_PAYLOAD_SREG)))
        case "meta":
            guard let key = g.u32(NFTNL_EXPR_META_KEY), g.oneOf(NFTNL_EXPR_META_DREG, NFTNL_EXPR_META_SREG) else { return nil }
            return .meta(Meta(key: key, dreg: g.u32(NFTNL_EXPR_META_DREG), sreg: g.u32(NFTNL_EXPR_META_SREG)))
        case "cmp":
            guard let sreg = g.u32(NFTNL_EXPR_CMP_SREG), let op = g.u32(NFTNL_EXPR_CMP_OP).flatMap(CmpOp.init(raw:)),
                let data = g.bytes(NFTNL_EXPR_CMP_DATA)
            else { return nil }
            return .cmp(Cmp(sreg: sreg, op: op, data: data))
        case "bitwise":
            // Ops this version models: 0 mask/xor, 1 lshift, 2 rshift.
            let op = g.u32(NFTNL_EXPR_BITWISE_OP) ?? 0
            guard let sreg = g.u32(NFTNL_EXPR_BITWISE_SREG), let dreg = g.u32(NFTNL_EXPR_BITWISE_DREG),
                let len = g.u32(NFTNL_EXPR_BITWISE_LEN), op <= 2
            else { return nil }
            return .bitwise(
                Bitwise(
                    sreg: sreg, dreg: dreg, length: len, op: op, mask: g.bytes(NFTNL_EXPR_BITWISE_MASK),
                    xor: g.bytes(NFTNL_EXPR_BITWISE_XOR), data: g.bytes(NFTNL_EXPR_BITWISE_DATA)))
        case "byteorder":
            guard let sreg = g.u32(NFTNL_EXPR_BYTEORDER_SREG), let dreg = g.u32(NFTNL_EXPR_BYTEORDER_DREG),
                let op = g.u32(NFTNL_EXPR_BYTEORDER_OP), let len = g.u32(NFTNL_EXPR_BYTEORDER_LEN),
                let size = g.u32(NFTNL_EXPR_BYTEORDER_SIZE)
            else { return nil }
            return .byteorder(Byteorder(sreg: sreg, dreg: dreg, op: op, length: len, size: size))
        case "range":
            guard let sreg = g.u32(NFTNL_EXPR_RANGE_SREG), let op = g.u32(NFTNL_EXPR_RANGE_OP), op <= 1,
                let from = g.bytes(NFTNL_EXPR_RANGE_FROM_DATA), let to = g.bytes(NFTNL_EXPR_RANGE_TO_DATA)
            else { return nil }
            return .range(RangeExpr(sreg: sreg, inverted: op == 1, from: from, to: to))
        case "lookup":
            let flags = g.u32(NFTNL_EXPR_LOOKUP_FLAGS) ?? 0
            guard let set = g.str(NFTNL_EXPR_LOOKUP_SET), let sreg = g.u32(NFTNL_EXPR_LOOKUP_SREG), flags & ~1 == 0 else { return nil }
            return .lookup(
                Lookup(sreg: sreg, dreg: g.u32(NFTNL_EXPR_LOOKUP_DREG), set: set, setId: g.u32(NFTNL_EXPR_LOOKUP_SET_ID), inverted: flags & 1 != 0))
        case "immediate":
            guard let dreg = g.u32(NFTNL_EXPR_IMM_DREG) else { return nil }
            if let code = g.u32(NFTNL_EXPR_IMM_VERDICT) {
                return .immediate(Immediate(dreg: dreg, verdict: Verdict(code: Int32(bitPattern: code), chain: g.str(NFTNL_EXPR_IMM_CHAIN))))
            }
            guard let data = g.bytes(NFTNL_EXPR_IMM_DATA) else { return nil }
            return .immediate(Immediate(dreg: dreg, data: data))
        case "ct":
            guard let key = g.u32(NFTNL_EXPR_CT_KEY), g.oneOf(NFTNL_EXPR_CT_DREG, NFTNL_EXPR_CT_SREG) else { return nil }
            return .ct(Ct(key: key, dreg: g.u32(NFTNL_EXPR_CT_DREG), sreg: g.u32(NFTNL_EXPR_CT_SREG), direction: g.u8(NFTNL_EXPR_CT_DIR)))
        case "fib":
            guard let dreg = g.u32(NFTNL_EXPR_FIB_DREG), let result = g.u32(NFTNL_EXPR_FIB_RESULT),
                let flags = g.u32(NFTNL_EXPR_FIB_FLAGS)
            else { return nil }
            return .fib(Fib(dreg: dreg, result: result, flags: flags))
        default:
            return nil
        }
    }

    /// Address and port rewriting, rejects, queues and object references.
    private static func statements(_ g: Get, _ name: String) -> Expression? {
        switch name {
        case "nat":
            guard let type = g.u32(NFTNL_EXPR_NAT_TYPE), let family = g.u32(NFTNL_EXPR_NAT_FAMILY) else { return nil }
            return .nat(
                Nat(
                    type: type, family: family, regAddrMin: g.u32(NFTNL_EXPR_NAT_REG_ADDR_MIN),
                    regAddrMax: g.u32(NFTNL_EXPR_NAT_REG_ADDR_MAX), regProtoMin: g.u32(NFTNL_EXPR_NAT_REG_PROTO_MIN),
                    regProtoMax: g.u32(NFTNL_EXPR_NAT_REG_PROTO_MAX), flags: g.u32(NFTNL_EXPR_NAT_FLAGS)))
        case "redir":
            return .redir(
                Redir(
                    regProtoMin: g.u32(NFTNL_EXPR_REDIR_REG_PROTO_MIN), regProtoMax: g.u32(NFTNL_EXPR_REDIR_REG_PROTO_MAX),
                    flags: g.u32(NFTNL_EXPR_REDIR_FLAGS)))
        case "masq":
            return .masq(
                Redir(
                    regProtoMin: g.u32(NFTNL_EXPR_MASQ_REG_PROTO_MIN), regProtoMax: g.u32(NFTNL_EXPR_MASQ_REG_PROTO_MAX),
                    flags: g.u32(NFTNL_EXPR_MASQ_FLAGS)))
        case "reject":
            guard let type = g.u32(NFTNL_EXPR_REJECT_TYPE) else { return nil }
            return .reject(Reject(type: type, code: g.u8(NFTNL_EXPR_REJECT_CODE)))
        case "queue":
            return .queue(
                Queue(
                    number: g.u16(NFTNL_EXPR_QUEUE_NUM) ?? 0, total: g.u16(NFTNL_EXPR_QUEUE_TOTAL) ?? 1,
                    flags: g.u16(NFTNL_EXPR_QUEUE_FLAGS) ?? 0))
        case "objref":
            let objName = g.str(NFTNL_EXPR_OBJREF_IMM_NAME), set = g.str(NFTNL_EXPR_OBJREF_SET_NAME)
            guard objName != nil || set != nil else { return nil }
            return .objref(
                Objref(objectType: g.u32(NFTNL_EXPR_OBJREF_IMM_TYPE), name: objName, setSreg: g.u32(NFTNL_EXPR_OBJREF_SET_SREG), set: set))
        default:
            return nil
        }
    }

    /// Logging, rate and quota limits, generated values, sockets, dynamic sets, headers and xtables extensions.
    private static func others(_ g: Get, _ name: String) throws -> Expression? {
        switch name {
        case "log":
            return .log(Log(prefix: g.str(NFTNL_EXPR_LOG_PREFIX), group: g.u16(NFTNL_EXPR_LOG_GROUP), level: g.u32(NFTNL_EXPR_LOG_LEVEL)))
        case "limit":
            let flags = g.u32(NFTNL_EXPR_LIMIT_FLAGS) ?? 0
            guard let rate = g.u64(NFTNL_EXPR_LIMIT_RATE), let unit = g.u64(NFTNL_EXPR_LIMIT_UNIT), flags & ~1 == 0 else { return nil }
            return .limit(
                Limit(
                    rate: rate, unit: unit, burst: g.u32(NFTNL_EXPR_LIMIT_BURST) ?? 0, type: g.u32(NFTNL_EXPR_LIMIT_TYPE) ?? 0,
                    inverted: flags & 1 != 0))
        case "quota":
            // NFT_QUOTA_F_INV=1; NFT_QUOTA_F_DEPLETED=2 is run-time state.
            guard let bytes = g.u64(NFTNL_EXPR_QUOTA_BYTES) else { return nil }
            let flags = g.u32(NFTNL_EXPR_QUOTA_FLAGS) ?? 0
            return .quota(Quota(bytes: bytes, inverted: flags & 1 != 0, consumed: g.u64(NFTNL_EXPR_QUOTA_CONSUMED)))
        case "connlimit":
            let flags = g.u32(NFTNL_EXPR_CONNLIMIT_FLAGS) ?? 0
            guard let count = g.u32(NFTNL_EXPR_CONNLIMIT_COUNT), flags & ~1 == 0 else { return nil }
            return .connlimit(Connlimit(count: count, inverted: flags & 1 != 0))
        case "numgen":
            guard let dreg = g.u32(NFTNL_EXPR_NG_DREG), let modulus = g.u32(NFTNL_EXPR_NG_MODULUS), let type = g.u32(NFTNL_EXPR_NG_TYPE)
            else { return nil }
            return .numgen(Numgen(dreg: dreg, modulus: modulus, type: type, offset: g.u32(NFTNL_EXPR_NG_OFFSET) ?? 0))
        case "hash":
            guard let dreg = g.u32(NFTNL_EXPR_HASH_DREG), let modulus = g.u32(NFTNL_EXPR_HASH_MODULUS) else { return nil }
            return .hash(HashExpr(dreg: dreg, modulus: modulus, type: g.u32(NFTNL_EXPR_HASH_TYPE) ?? 0))
        case "socket":
            guard let key = g.u32(NFTNL_EXPR_SOCKET_KEY), let dreg = g.u32(NFTNL_EXPR_SOCKET_DREG) else { return nil }
            return .socket(SocketExpr(key: key, dreg: dreg, level: g.u32(NFTNL_EXPR_SOCKET_LEVEL)))
        case "dynset":
            guard let set = g.str(NFTNL_EXPR_DYNSET_SET_NAME), let op = g.u32(NFTNL_EXPR_DYNSET_OP),
                let sregKey = g.u32(NFTNL_EXPR_DYNSET_SREG_KEY)
            else { return nil }
            return .dynset(
                Dynset(
                    op: op, set: set, sregKey: sregKey, sregData: g.u32(NFTNL_EXPR_DYNSET_SREG_DATA),
                    timeout: g.u64(NFTNL_EXPR_DYNSET_TIMEOUT), expressions: nestedNames(g.e)))
        case "exthdr":
            guard let type = g.u8(NFTNL_EXPR_EXTHDR_TYPE), let offset = g.u32(NFTNL_EXPR_EXTHDR_OFFSET),
                let len = g.u32(NFTNL_EXPR_EXTHDR_LEN)
            else { return nil }
            return .exthdr(
                Exthdr(
                    dreg: g.u32(NFTNL_EXPR_EXTHDR_DREG), type: type, offset: offset, length: len,
                    op: g.u32(NFTNL_EXPR_EXTHDR_OP) ?? 0, flags: g.u32(NFTNL_EXPR_EXTHDR_FLAGS) ?? 0))
        case "match", "target":
            let isMatch = name == "match"
            let (n, r, i) =
                isMatch ? (NFTNL_EXPR_MT_NAME, NFTNL_EXPR_MT_REV, NFTNL_EXPR_MT_INFO) : (NFTNL_EXPR_TG_NAME, NFTNL_EXPR_TG_REV, NFTNL_EXPR_TG_INFO)
            guard let xtName = g.str(n), let rev = g.u32(r) else { return nil }
            let xt = Xt(name: xtName, revision: rev, info: g.bytes(i) ?? Bytes([]))
            return isMatch ? .match(xt) : .target(xt)
        default:
            return nil
        }
    }

    /// The names of a dynset's nested expressions (`update @meter { ip saddr limit rate 10/second }`).
    private static func nestedNames(_ e: OpaquePointer) -> [String] {
        var names: [String] = []
        _ = withUnsafeMutablePointer(to: &names) { list in
            nftnl_expr_expr_foreach(
                e,
                { nested, context in
                    guard let nested, let context, let name = nftnl_expr_get_str(nested, UInt16(NFTNL_EXPR_NAME)) else { return -1 }
                    context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                    return 0
                }, list)
        }
        return names
    }
}
