import HostModel

/// Decodes one nf_tables expression (`NFTA_EXPR_NAME` + nested `NFTA_EXPR_DATA`) into `HostModel.Expression`.
///
/// An expression is decoded into its typed case only when every attribute it carries is understood. Otherwise (an
/// unknown name, an attribute this version does not model, a missing or mis-sized one) it becomes `.unknown` with
/// every raw attribute, so the evaluator can say "conditional" instead of guessing, and nothing is lost.
enum ExpressionDecoder {
    /// Raised inside a typed decoder to fall back to `.unknown`.
    private struct Fallback: Error {}

    static func decode(name: String, data: UnsafeRawBufferPointer) throws -> Expression {
        do {
            if let e = try typed(name: name, data) { return e }
        } catch {
            // fall through to .unknown: the attributes did not decode as expected
        }
        var attributes: [RawAttribute] = []
        try forEachAttribute(data) { t, v in attributes.append(RawAttribute(type: t, value: Bytes(Array(v)))) }
        return .unknown(Unknown(name: name, attributes: attributes))
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private static func typed(name: String, _ d: UnsafeRawBufferPointer) throws -> Expression? {
        switch name {
        case "payload":
            var dreg: UInt32?, base: UInt32?, offset: UInt32?, len: UInt32?, sreg: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: base = try Wire.be32(v)
                case 3: offset = try Wire.be32(v)
                case 4: len = try Wire.be32(v)
                case 5: sreg = try Wire.be32(v)
                case 6, 7, 8: break  // checksum fix-up of a mangle statement: no effect on matching
                default: throw Fallback()
                }
            }
            guard let base, let b = PayloadBase(raw: base), let offset, let len, (dreg != nil) != (sreg != nil) else { throw Fallback() }
            return .payload(Payload(base: b, offset: offset, length: len, dreg: dreg, sreg: sreg))

        case "meta":
            var dreg: UInt32?, key: UInt32?, sreg: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: key = try Wire.be32(v)
                case 3: sreg = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let key, (dreg != nil) != (sreg != nil) else { throw Fallback() }
            return .meta(Meta(key: key, dreg: dreg, sreg: sreg))

        case "cmp":
            var sreg: UInt32?, op: UInt32?, data: [UInt8]?
            try walk(d) { t, v in
                switch t {
                case 1: sreg = try Wire.be32(v)
                case 2: op = try Wire.be32(v)
                case 3: data = try Wire.dataBytes(v)
                default: throw Fallback()
                }
            }
            guard let sreg, let op, let cmpOp = CmpOp(raw: op), let data else { throw Fallback() }
            return .cmp(Cmp(sreg: sreg, op: cmpOp, data: Bytes(data)))

        case "bitwise":
            var sreg: UInt32?, dreg: UInt32?, len: UInt32?, op: UInt32 = 0
            var mask: [UInt8]?, xor: [UInt8]?, data: [UInt8]?
            try walk(d) { t, v in
                switch t {
                case 1: sreg = try Wire.be32(v)
                case 2: dreg = try Wire.be32(v)
                case 3: len = try Wire.be32(v)
                case 4: mask = try Wire.dataBytes(v)
                case 5: xor = try Wire.dataBytes(v)
                case 6: op = try Wire.be32(v)
                case 7: data = try Wire.dataBytes(v)
                default: throw Fallback()  // e.g. NFTA_BITWISE_SREG2 of newer boolean ops
                }
            }
            // Ops this version models: 0 mask/xor, 1 lshift, 2 rshift.
            guard let sreg, let dreg, let len, op <= 2 else { throw Fallback() }
            return .bitwise(
                Bitwise(
                    sreg: sreg, dreg: dreg, length: len, op: op,
                    mask: mask.map(Bytes.init), xor: xor.map(Bytes.init), data: data.map(Bytes.init)))

        case "byteorder":
            var sreg: UInt32?, dreg: UInt32?, op: UInt32?, len: UInt32?, size: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: sreg = try Wire.be32(v)
                case 2: dreg = try Wire.be32(v)
                case 3: op = try Wire.be32(v)
                case 4: len = try Wire.be32(v)
                case 5: size = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let sreg, let dreg, let op, let len, let size else { throw Fallback() }
            return .byteorder(Byteorder(sreg: sreg, dreg: dreg, op: op, length: len, size: size))

        case "range":
            var sreg: UInt32?, op: UInt32?, from: [UInt8]?, to: [UInt8]?
            try walk(d) { t, v in
                switch t {
                case 1: sreg = try Wire.be32(v)
                case 2: op = try Wire.be32(v)
                case 3: from = try Wire.dataBytes(v)
                case 4: to = try Wire.dataBytes(v)
                default: throw Fallback()
                }
            }
            guard let sreg, let op, op <= 1, let from, let to else { throw Fallback() }
            return .range(RangeExpr(sreg: sreg, inverted: op == 1, from: Bytes(from), to: Bytes(to)))

        case "lookup":
            var set: String?, sreg: UInt32?, dreg: UInt32?, setID: UInt32?, flags: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 1: set = Wire.string(v)
                case 2: sreg = try Wire.be32(v)
                case 3: dreg = try Wire.be32(v)
                case 4: setID = try Wire.be32(v)
                case 5: flags = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let set, let sreg, flags & ~1 == 0 else { throw Fallback() }
            return .lookup(Lookup(sreg: sreg, dreg: dreg, set: set, setId: setID, inverted: flags & 1 != 0))

        case "immediate":
            var dreg: UInt32?, value: Wire.DataValue?
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: value = try Wire.data(v)
                default: throw Fallback()
                }
            }
            guard let dreg, let value else { throw Fallback() }
            switch value {
            case .value(let b): return .immediate(Immediate(dreg: dreg, data: Bytes(b)))
            case .verdict(let v): return .immediate(Immediate(dreg: dreg, verdict: v))
            }

        case "ct":
            var dreg: UInt32?, key: UInt32?, dir: UInt8?, sreg: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: key = try Wire.be32(v)
                case 3: dir = try Wire.u8(v)
                case 4: sreg = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let key, (dreg != nil) != (sreg != nil) else { throw Fallback() }
            return .ct(Ct(key: key, dreg: dreg, sreg: sreg, direction: dir))

        case "fib":
            var dreg: UInt32?, result: UInt32?, flags: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: result = try Wire.be32(v)
                case 3: flags = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let dreg, let result, let flags else { throw Fallback() }
            return .fib(Fib(dreg: dreg, result: result, flags: flags))

        case "nat":
            var type: UInt32?, family: UInt32?
            var regs: [UInt32?] = [nil, nil, nil, nil]
            var flags: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: type = try Wire.be32(v)
                case 2: family = try Wire.be32(v)
                case 3...6: regs[Int(t) - 3] = try Wire.be32(v)
                case 7: flags = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let type, let family else { throw Fallback() }
            return .nat(
                Nat(
                    type: type, family: family, regAddrMin: regs[0], regAddrMax: regs[1],
                    regProtoMin: regs[2], regProtoMax: regs[3], flags: flags))

        case "redir", "masq":
            // NFTA_REDIR_REG_PROTO_MIN=1 _MAX=2 _FLAGS=3; NFTA_MASQ_FLAGS=1 _REG_PROTO_MIN=2 _MAX=3.
            var pmin: UInt32?, pmax: UInt32?, flags: UInt32?
            let isMasq = name == "masq"
            try walk(d) { t, v in
                let value = try Wire.be32(v)
                switch (isMasq, t) {
                case (false, 1), (true, 2): pmin = value
                case (false, 2), (true, 3): pmax = value
                case (false, 3), (true, 1): flags = value
                default: throw Fallback()
                }
            }
            let r = Redir(regProtoMin: pmin, regProtoMax: pmax, flags: flags)
            return isMasq ? .masq(r) : .redir(r)

        case "reject":
            var type: UInt32?, code: UInt8?
            try walk(d) { t, v in
                switch t {
                case 1: type = try Wire.be32(v)
                case 2: code = try Wire.u8(v)
                default: throw Fallback()
                }
            }
            guard let type else { throw Fallback() }
            return .reject(Reject(type: type, code: code))

        case "counter":
            // Packet and byte counts are run-time statistics, not part of the ruleset's meaning.
            try walk(d) { t, _ in if t != 1 && t != 2 && t != 3 { throw Fallback() } }
            return .counter

        case "notrack":
            try walk(d) { _, _ in throw Fallback() }
            return .notrack

        case "log":
            var prefix: String?, group: UInt16?, level: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: group = try Wire.be16(v)
                case 2: prefix = Wire.string(v)
                case 3, 4, 6: break  // snaplen, queue threshold, flags: what is logged, not whether the packet passes
                case 5: level = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            return .log(Log(prefix: prefix, group: group, level: level))

        case "limit":
            var rate: UInt64?, unit: UInt64?, burst: UInt32 = 0, type: UInt32 = 0, flags: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 1: rate = try Wire.be64(v)
                case 2: unit = try Wire.be64(v)
                case 3: burst = try Wire.be32(v)
                case 4: type = try Wire.be32(v)
                case 5: flags = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let rate, let unit, flags & ~1 == 0 else { throw Fallback() }
            return .limit(Limit(rate: rate, unit: unit, burst: burst, type: type, inverted: flags & 1 != 0))

        case "quota":
            var bytes: UInt64?, flags: UInt32 = 0, consumed: UInt64?
            try walk(d) { t, v in
                switch t {
                case 1: bytes = try Wire.be64(v)
                case 2: flags = try Wire.be32(v)
                case 4: consumed = try Wire.be64(v)  // NFTA_QUOTA_CONSUMED: run-time state, kept to decide the rule
                default: throw Fallback()
                }
            }
            // NFT_QUOTA_F_INV=1; NFT_QUOTA_F_DEPLETED=2 is run-time state.
            guard let bytes else { throw Fallback() }
            return .quota(Quota(bytes: bytes, inverted: flags & 1 != 0, consumed: consumed))

        case "connlimit":
            var count: UInt32?, flags: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 1: count = try Wire.be32(v)
                case 2: flags = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let count, flags & ~1 == 0 else { throw Fallback() }
            return .connlimit(Connlimit(count: count, inverted: flags & 1 != 0))

        case "numgen":
            var dreg: UInt32?, modulus: UInt32?, type: UInt32?, offset: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: modulus = try Wire.be32(v)
                case 3: type = try Wire.be32(v)
                case 4: offset = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let dreg, let modulus, let type else { throw Fallback() }
            return .numgen(Numgen(dreg: dreg, modulus: modulus, type: type, offset: offset))

        case "hash":
            var dreg: UInt32?, modulus: UInt32?, type: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 2: dreg = try Wire.be32(v)
                case 4: modulus = try Wire.be32(v)
                case 7: type = try Wire.be32(v)
                case 1, 3, 5, 6: break  // source register, length, seed, offset: which value, not whether it matches
                default: throw Fallback()
                }
            }
            guard let dreg, let modulus else { throw Fallback() }
            return .hash(HashExpr(dreg: dreg, modulus: modulus, type: type))

        case "socket":
            var key: UInt32?, dreg: UInt32?, level: UInt32?
            try walk(d) { t, v in
                switch t {
                case 1: key = try Wire.be32(v)
                case 2: dreg = try Wire.be32(v)
                case 3: level = try Wire.be32(v)
                default: throw Fallback()
                }
            }
            guard let key, let dreg else { throw Fallback() }
            return .socket(SocketExpr(key: key, dreg: dreg, level: level))

        case "dynset":
            var set: String?, op: UInt32?, sregKey: UInt32?, sregData: UInt32?, timeout: UInt64?
            var exprs: [String] = []
            try walk(d) { t, v in
                switch t {
                case 1: set = Wire.string(v)
                case 2, 9: break  // set id (requests only), flags
                case 3: op = try Wire.be32(v)
                case 4: sregKey = try Wire.be32(v)
                case 5: sregData = try Wire.be32(v)
                case 6: timeout = try Wire.be64(v)
                case 7: exprs.append(try expressionName(v))
                case 10: try forEachAttribute(v) { _, e in exprs.append(try expressionName(e)) }
                default: throw Fallback()
                }
            }
            guard let set, let op, let sregKey else { throw Fallback() }
            return .dynset(Dynset(op: op, set: set, sregKey: sregKey, sregData: sregData, timeout: timeout, expressions: exprs))

        case "objref":
            var type: UInt32?, objName: String?, sreg: UInt32?, set: String?
            try walk(d) { t, v in
                switch t {
                case 1: type = try Wire.be32(v)
                case 2: objName = Wire.string(v)
                case 3: sreg = try Wire.be32(v)
                case 4: set = Wire.string(v)
                case 5: break  // set id: requests only
                default: throw Fallback()
                }
            }
            guard (objName != nil) || (set != nil) else { throw Fallback() }
            return .objref(Objref(objectType: type, name: objName, setSreg: sreg, set: set))

        case "queue":
            var num: UInt16 = 0, total: UInt16 = 1, flags: UInt16 = 0
            try walk(d) { t, v in
                switch t {
                case 1: num = try Wire.be16(v)
                case 2: total = try Wire.be16(v)
                case 3: flags = try Wire.be16(v)
                default: throw Fallback()  // NFTA_QUEUE_SREG_QNUM: the queue comes from a register
                }
            }
            return .queue(Queue(number: num, total: total, flags: flags))

        case "exthdr":
            var dreg: UInt32?, type: UInt8?, offset: UInt32?, len: UInt32?, flags: UInt32 = 0, op: UInt32 = 0
            try walk(d) { t, v in
                switch t {
                case 1: dreg = try Wire.be32(v)
                case 2: type = try Wire.u8(v)
                case 3: offset = try Wire.be32(v)
                case 4: len = try Wire.be32(v)
                case 5: flags = try Wire.be32(v)
                case 6: op = try Wire.be32(v)
                default: throw Fallback()  // NFTA_EXTHDR_SREG: a write (tcp option mangle), not modelled
                }
            }
            guard let type, let offset, let len else { throw Fallback() }
            return .exthdr(Exthdr(dreg: dreg, type: type, offset: offset, length: len, op: op, flags: flags))

        case "match", "target":
            var xtName: String?, rev: UInt32?, info: [UInt8] = []
            try walk(d) { t, v in
                switch t {
                case 1: xtName = Wire.string(v)
                case 2: rev = try Wire.be32(v)
                case 3: info = Array(v)
                default: throw Fallback()
                }
            }
            guard let xtName, let rev else { throw Fallback() }
            let xt = Xt(name: xtName, revision: rev, info: Bytes(info))
            return name == "match" ? .match(xt) : .target(xt)

        default:
            return nil
        }
    }

    private static func walk(_ d: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachAttribute(d, body)
    }

    /// The NFTA_EXPR_NAME inside a nested expression (dynset's per-element expressions).
    private static func expressionName(_ v: UnsafeRawBufferPointer) throws -> String {
        var name: String?
        try forEachAttribute(v) { t, inner in if t == NFTA.Expr.name { name = Wire.string(inner) } }
        guard let name else { throw Fallback() }
        return name
    }
}
