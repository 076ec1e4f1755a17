/// One nf_tables expression of a rule, decoded from its netlink attributes.
///
/// Registers are the kernel's numbers (0 = verdict, 1…4 = 16-byte registers, 8…23 = 4-byte registers). An
/// expression this tool does not know is kept as `.unknown` with every raw attribute, never dropped: the evaluator
/// then reports the verdict as conditional instead of guessing.
public enum Expression: Codable, Sendable, Equatable {
    case payload(Payload)
    case meta(Meta)
    case cmp(Cmp)
    case bitwise(Bitwise)
    case byteorder(Byteorder)
    case range(RangeExpr)
    case lookup(Lookup)
    case immediate(Immediate)
    case ct(Ct)
    case fib(Fib)
    case nat(Nat)
    case redir(Redir)
    case masq(Redir)
    case reject(Reject)
    case counter
    case log(Log)
    case limit(Limit)
    case quota(Quota)
    case connlimit(Connlimit)
    case numgen(Numgen)
    case hash(HashExpr)
    case socket(SocketExpr)
    case dynset(Dynset)
    case objref(Objref)
    case notrack
    case queue(Queue)
    case exthdr(Exthdr)
    case match(Xt)
    case target(Xt)
    case unknown(Unknown)

    /// The kernel's name of the expression.
    public var name: String {
        switch self {
        case .payload: "payload"
        case .meta: "meta"
        case .cmp: "cmp"
        case .bitwise: "bitwise"
        case .byteorder: "byteorder"
        case .range: "range"
        case .lookup: "lookup"
        case .immediate: "immediate"
        case .ct: "ct"
        case .fib: "fib"
        case .nat: "nat"
        case .redir: "redir"
        case .masq: "masq"
        case .reject: "reject"
        case .counter: "counter"
        case .log: "log"
        case .limit: "limit"
        case .quota: "quota"
        case .connlimit: "connlimit"
        case .numgen: "numgen"
        case .hash: "hash"
        case .socket: "socket"
        case .dynset: "dynset"
        case .objref: "objref"
        case .notrack: "notrack"
        case .queue: "queue"
        case .exthdr: "exthdr"
        case .match: "match"
        case .target: "target"
        case .unknown(let u): u.name
        }
    }

    private enum TypeKey: String, CodingKey { case type }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .unknown: try c.encode("unknown", forKey: .type)
        default: try c.encode(name, forKey: .type)
        }
        switch self {
        case .payload(let v): try v.encode(to: encoder)
        case .meta(let v): try v.encode(to: encoder)
        case .cmp(let v): try v.encode(to: encoder)
        case .bitwise(let v): try v.encode(to: encoder)
        case .byteorder(let v): try v.encode(to: encoder)
        case .range(let v): try v.encode(to: encoder)
        case .lookup(let v): try v.encode(to: encoder)
        case .immediate(let v): try v.encode(to: encoder)
        case .ct(let v): try v.encode(to: encoder)
        case .fib(let v): try v.encode(to: encoder)
        case .nat(let v): try v.encode(to: encoder)
        case .redir(let v), .masq(let v): try v.encode(to: encoder)
        case .reject(let v): try v.encode(to: encoder)
        case .counter, .notrack: break
        case .log(let v): try v.encode(to: encoder)
        case .limit(let v): try v.encode(to: encoder)
        case .quota(let v): try v.encode(to: encoder)
        case .connlimit(let v): try v.encode(to: encoder)
        case .numgen(let v): try v.encode(to: encoder)
        case .hash(let v): try v.encode(to: encoder)
        case .socket(let v): try v.encode(to: encoder)
        case .dynset(let v): try v.encode(to: encoder)
        case .objref(let v): try v.encode(to: encoder)
        case .queue(let v): try v.encode(to: encoder)
        case .exthdr(let v): try v.encode(to: encoder)
        case .match(let v), .target(let v): try v.encode(to: encoder)
        case .unknown(let v): try v.encode(to: encoder)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: TypeKey.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "payload": self = .payload(try Payload(from: decoder))
        case "meta": self = .meta(try Meta(from: decoder))
        case "cmp": self = .cmp(try Cmp(from: decoder))
        case "bitwise": self = .bitwise(try Bitwise(from: decoder))
        case "byteorder": self = .byteorder(try Byteorder(from: decoder))
        case "range": self = .range(try RangeExpr(from: decoder))
        case "lookup": self = .lookup(try Lookup(from: decoder))
        case "immediate": self = .immediate(try Immediate(from: decoder))
        case "ct": self = .ct(try Ct(from: decoder))
        case "fib": self = .fib(try Fib(from: decoder))
        case "nat": self = .nat(try Nat(from: decoder))
        case "redir": self = .redir(try Redir(from: decoder))
        case "masq": self = .masq(try Redir(from: decoder))
        case "reject": self = .reject(try Reject(from: decoder))
        case "counter": self = .counter
        case "notrack": self = .notrack
        case "log": self = .log(try Log(from: decoder))
        case "limit": self = .limit(try Limit(from: decoder))
        case "quota": self = .quota(try Quota(from: decoder))
        case "connlimit": self = .connlimit(try Connlimit(from: decoder))
        case "numgen": self = .numgen(try Numgen(from: decoder))
        case "hash": self = .hash(try HashExpr(from: decoder))
        case "socket": self = .socket(try SocketExpr(from: decoder))
        case "dynset": self = .dynset(try Dynset(from: decoder))
        case "objref": self = .objref(try Objref(from: decoder))
        case "queue": self = .queue(try Queue(from: decoder))
        case "exthdr": self = .exthdr(try Exthdr(from: decoder))
        case "match": self = .match(try Xt(from: decoder))
        case "target": self = .target(try Xt(from: decoder))
        case "unknown": self = .unknown(try Unknown(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown expression type '\(type)'")
        }
    }
}

public enum PayloadBase: String, Codable, Sendable, Hashable {
    case link, network, transport, inner

    public init?(raw: UInt32) {
        switch raw {
        case 0: self = .link
        case 1: self = .network
        case 2: self = .transport
        case 3: self = .inner
        default: return nil
        }
    }
}

/// Load `length` bytes at `base + offset` into `dreg`; with `sreg` set it writes the packet instead (mangle).
public struct Payload: Codable, Sendable, Equatable {
    public var base: PayloadBase
    public var offset: UInt32
    public var length: UInt32
    public var dreg: UInt32?
    public var sreg: UInt32?
    public init(base: PayloadBase, offset: UInt32, length: UInt32, dreg: UInt32? = nil, sreg: UInt32? = nil) {
        self.base = base; self.offset = offset; self.length = length; self.dreg = dreg; self.sreg = sreg
    }
}

/// `meta` load (dreg) or set statement (sreg). `key` is NFT_META_*.
public struct Meta: Codable, Sendable, Equatable {
    public var key: UInt32
    public var dreg: UInt32?
    public var sreg: UInt32?
    public init(key: UInt32, dreg: UInt32? = nil, sreg: UInt32? = nil) { self.key = key; self.dreg = dreg; self.sreg = sreg }
}

public enum CmpOp: String, Codable, Sendable, Hashable {
    case eq, neq, lt, lte, gt, gte
    public init?(raw: UInt32) {
        switch raw {
        case 0: self = .eq
        case 1: self = .neq
        case 2: self = .lt
        case 3: self = .lte
        case 4: self = .gt
        case 5: self = .gte
        default: return nil
        }
    }
}

/// Compare a register with constant bytes (memcmp over `data.count` bytes); a failed compare ends the rule.
public struct Cmp: Codable, Sendable, Equatable {
    public var sreg: UInt32
    public var op: CmpOp
    public var data: Bytes
    public init(sreg: UInt32, op: CmpOp, data: Bytes) { self.sreg = sreg; self.op = op; self.data = data }
}

/// `dreg = (sreg & mask) ^ xor` (op 0), or a shift by `data` (op 1 lshift, 2 rshift); other ops are kept raw.
public struct Bitwise: Codable, Sendable, Equatable {
    public var sreg: UInt32
    public var dreg: UInt32
    public var length: UInt32
    public var op: UInt32
    public var mask: Bytes?
    public var xor: Bytes?
    public var data: Bytes?
    public init(sreg: UInt32, dreg: UInt32, length: UInt32, op: UInt32 = 0, mask: Bytes? = nil, xor: Bytes? = nil, data: Bytes? = nil) {
        self.sreg = sreg; self.dreg = dreg; self.length = length; self.op = op; self.mask = mask; self.xor = xor; self.data = data
    }
}

/// Byte-order conversion: op 0 ntoh, 1 hton, over `length` bytes in units of `size`.
public struct Byteorder: Codable, Sendable, Equatable {
    public var sreg: UInt32
    public var dreg: UInt32
    public var op: UInt32
    public var length: UInt32
    public var size: UInt32
    public init(sreg: UInt32, dreg: UInt32, op: UInt32, length: UInt32, size: UInt32) {
        self.sreg = sreg; self.dreg = dreg; self.op = op; self.length = length; self.size = size
    }
}

/// Inclusive range compare; `inverted` is NFT_RANGE_NEQ.
public struct RangeExpr: Codable, Sendable, Equatable {
    public var sreg: UInt32
    public var inverted: Bool
    public var from: Bytes
    public var to: Bytes
    public init(sreg: UInt32, inverted: Bool, from: Bytes, to: Bytes) { self.sreg = sreg; self.inverted = inverted; self.from = from; self.to = to }
}

/// Set membership (no dreg), map lookup (dreg > 0) or verdict map (dreg 0).
public struct Lookup: Codable, Sendable, Equatable {
    public var sreg: UInt32
    public var dreg: UInt32?
    public var set: String
    public var setId: UInt32?
    /// NFT_LOOKUP_F_INV: `!= @set`.
    public var inverted: Bool
    public init(sreg: UInt32, dreg: UInt32? = nil, set: String, setId: UInt32? = nil, inverted: Bool = false) {
        self.sreg = sreg; self.dreg = dreg; self.set = set; self.setId = setId; self.inverted = inverted
    }
}

/// Load a constant (`data`) or set the verdict (`dreg == 0`).
public struct Immediate: Codable, Sendable, Equatable {
    public var dreg: UInt32
    public var data: Bytes?
    public var verdict: Verdict?
    public init(dreg: UInt32, data: Bytes? = nil, verdict: Verdict? = nil) { self.dreg = dreg; self.data = data; self.verdict = verdict }
}

/// Conntrack load (dreg) or set (sreg). `key` is NFT_CT_*, `direction` 0 original, 1 reply.
public struct Ct: Codable, Sendable, Equatable {
    public var key: UInt32
    public var dreg: UInt32?
    public var sreg: UInt32?
    public var direction: UInt8?
    public init(key: UInt32, dreg: UInt32? = nil, sreg: UInt32? = nil, direction: UInt8? = nil) {
        self.key = key; self.dreg = dreg; self.sreg = sreg; self.direction = direction
    }
}

/// Routing lookup: `result` 1 oif, 2 oifname, 3 addrtype; `flags` SADDR=1 DADDR=2 MARK=4 IIF=8 OIF=16 PRESENT=32.
public struct Fib: Codable, Sendable, Equatable {
    public var dreg: UInt32
    public var result: UInt32
    public var flags: UInt32
    public init(dreg: UInt32, result: UInt32, flags: UInt32) { self.dreg = dreg; self.result = result; self.flags = flags }
}

/// SNAT (type 0) or DNAT (type 1) from registers.
public struct Nat: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "natType".
    private enum CodingKeys: String, CodingKey { case type = "natType", family, regAddrMin, regAddrMax, regProtoMin, regProtoMax, flags }
    public var type: UInt32
    public var family: UInt32
    public var regAddrMin: UInt32?
    public var regAddrMax: UInt32?
    public var regProtoMin: UInt32?
    public var regProtoMax: UInt32?
    public var flags: UInt32?
    public init(
        type: UInt32, family: UInt32, regAddrMin: UInt32? = nil, regAddrMax: UInt32? = nil,
        regProtoMin: UInt32? = nil, regProtoMax: UInt32? = nil, flags: UInt32? = nil
    ) {
        self.type = type; self.family = family; self.regAddrMin = regAddrMin; self.regAddrMax = regAddrMax
        self.regProtoMin = regProtoMin; self.regProtoMax = regProtoMax; self.flags = flags
    }
}

/// `redirect` (and `masquerade`, same attributes): optional port registers.
public struct Redir: Codable, Sendable, Equatable {
    public var regProtoMin: UInt32?
    public var regProtoMax: UInt32?
    public var flags: UInt32?
    public init(regProtoMin: UInt32? = nil, regProtoMax: UInt32? = nil, flags: UInt32? = nil) {
        self.regProtoMin = regProtoMin; self.regProtoMax = regProtoMax; self.flags = flags
    }
}

/// Terminal: type 0 icmp unreach, 1 tcp reset, 2 icmpx.
public struct Reject: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "rejectType".
    private enum CodingKeys: String, CodingKey { case type = "rejectType", code }
    public var type: UInt32
    public var code: UInt8?
    public init(type: UInt32, code: UInt8? = nil) { self.type = type; self.code = code }
}

public struct Log: Codable, Sendable, Equatable {
    public var prefix: String?
    public var group: UInt16?
    public var level: UInt32?
    public init(prefix: String? = nil, group: UInt16? = nil, level: UInt32? = nil) { self.prefix = prefix; self.group = group; self.level = level }
}

/// Rate limit: matches sometimes. `inverted` is NFT_LIMIT_F_INV (`over`).
public struct Limit: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "limitType".
    private enum CodingKeys: String, CodingKey { case type = "limitType", rate, unit, burst, inverted }
    public var rate: UInt64
    public var unit: UInt64
    public var burst: UInt32
    /// 0 packets, 1 bytes.
    public var type: UInt32
    public var inverted: Bool
    public init(rate: UInt64, unit: UInt64, burst: UInt32 = 0, type: UInt32 = 0, inverted: Bool = false) {
        self.rate = rate; self.unit = unit; self.burst = burst; self.type = type; self.inverted = inverted
    }
}

public struct Quota: Codable, Sendable, Equatable {
    public var bytes: UInt64
    public var inverted: Bool
    /// Bytes counted so far when the ruleset was read (NFTA_QUOTA_CONSUMED): whether the quota is used up decides
    /// the rule. Nil in snapshots from before it was recorded.
    public var consumed: UInt64?
    public init(bytes: UInt64, inverted: Bool, consumed: UInt64? = nil) {
        self.bytes = bytes; self.inverted = inverted; self.consumed = consumed
    }
}

public struct Connlimit: Codable, Sendable, Equatable {
    public var count: UInt32
    public var inverted: Bool
    public init(count: UInt32, inverted: Bool) { self.count = count; self.inverted = inverted }
}

public struct Numgen: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "numgenType".
    private enum CodingKeys: String, CodingKey { case type = "numgenType", dreg, modulus, offset }
    public var dreg: UInt32
    public var modulus: UInt32
    public var type: UInt32
    public var offset: UInt32
    public init(dreg: UInt32, modulus: UInt32, type: UInt32, offset: UInt32) {
        self.dreg = dreg; self.modulus = modulus; self.type = type; self.offset = offset
    }
}

public struct HashExpr: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "hashType".
    private enum CodingKeys: String, CodingKey { case type = "hashType", dreg, modulus }
    public var dreg: UInt32
    public var modulus: UInt32
    public var type: UInt32
    public init(dreg: UInt32, modulus: UInt32, type: UInt32) { self.dreg = dreg; self.modulus = modulus; self.type = type }
}

/// `socket` does its own socket lookup: key 0 transparent, 1 mark, 2 wildcard, 3 cgroupv2.
public struct SocketExpr: Codable, Sendable, Equatable {
    public var key: UInt32
    public var dreg: UInt32
    public var level: UInt32?
    public init(key: UInt32, dreg: UInt32, level: UInt32? = nil) { self.key = key; self.dreg = dreg; self.level = level }
}

/// Adds to, updates or deletes from a set at run time (meters, `add @set`): that set's membership is dynamic.
public struct Dynset: Codable, Sendable, Equatable {
    public var op: UInt32
    public var set: String
    public var sregKey: UInt32
    public var sregData: UInt32?
    public var timeout: UInt64?
    /// Names of the expressions attached to the element (`limit`, `counter`, …).
    public var expressions: [String]
    public init(op: UInt32, set: String, sregKey: UInt32, sregData: UInt32? = nil, timeout: UInt64? = nil, expressions: [String] = []) {
        self.op = op; self.set = set; self.sregKey = sregKey; self.sregData = sregData; self.timeout = timeout; self.expressions = expressions
    }
}

/// A reference to a named stateful object (counter 1, quota 2, ct helper 3, limit 4, connlimit 5, …).
public struct Objref: Codable, Sendable, Equatable {
    public var objectType: UInt32?
    public var name: String?
    public var setSreg: UInt32?
    public var set: String?
    public init(objectType: UInt32? = nil, name: String? = nil, setSreg: UInt32? = nil, set: String? = nil) {
        self.objectType = objectType; self.name = name; self.setSreg = setSreg; self.set = set
    }
}

public struct Queue: Codable, Sendable, Equatable {
    public var number: UInt16
    public var total: UInt16
    public var flags: UInt16
    public init(number: UInt16, total: UInt16, flags: UInt16) { self.number = number; self.total = total; self.flags = flags }
}

/// Extension header / TCP option load (`tcp option`, `ip6 exthdr`).
public struct Exthdr: Codable, Sendable, Equatable {
    // "type" is the expression discriminator in JSON, so this field is written as "exthdrType".
    private enum CodingKeys: String, CodingKey { case type = "exthdrType", dreg, offset, length, op, flags }
    public var dreg: UInt32?
    public var type: UInt8
    public var offset: UInt32
    public var length: UInt32
    public var op: UInt32
    public var flags: UInt32
    public init(dreg: UInt32?, type: UInt8, offset: UInt32, length: UInt32, op: UInt32, flags: UInt32) {
        self.dreg = dreg; self.type = type; self.offset = offset; self.length = length; self.op = op; self.flags = flags
    }
}

/// An iptables-nft compat `match` or `target`: the x_tables extension name, revision and its raw info struct
/// (host byte order).
public struct Xt: Codable, Sendable, Equatable {
    public var name: String
    public var revision: UInt32
    public var info: Bytes
    public init(name: String, revision: UInt32, info: Bytes) { self.name = name; self.revision = revision; self.info = info }
}

/// An expression this version does not decode: its kernel name and every attribute, by number, as raw bytes.
public struct Unknown: Codable, Sendable, Equatable {
    public var name: String
    public var attributes: [RawAttribute]
    public init(name: String, attributes: [RawAttribute]) { self.name = name; self.attributes = attributes }
}

public struct RawAttribute: Codable, Sendable, Equatable {
    public var type: UInt16
    public var value: Bytes
    public init(type: UInt16, value: Bytes) { self.type = type; self.value = value }
}

extension Limit {
    /// The limit as `nft list ruleset` prints it, for messages that name it.
    public var nftText: String {
        let per = [1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"][unit] ?? "\(unit) seconds"
        let over = inverted ? "over " : ""
        if type == 1 {
            let burstText = burst == 0 ? "" : " burst \(Quota.dataText(UInt64(burst)))"
            return "limit rate \(over)\(Quota.dataText(rate))/\(per)\(burstText)"
        }
        let burstText = burst == 5 ? "" : " burst \(burst) packets"  // nft's default burst is 5 packets
        return "limit rate \(over)\(rate)/\(per)\(burstText)"
    }
}

extension Quota {
    /// The quota as `nft list ruleset` prints it (without the run-time `used` part).
    public var nftText: String { "quota \(inverted ? "over" : "until") \(Quota.dataText(bytes))" }

    /// A byte count in nft's units: bytes, kbytes or mbytes, whichever divides it exactly.
    static func dataText(_ value: UInt64) -> String {
        var v = value
        var unit = 0
        while unit < 2, v >= 1024, v % 1024 == 0 { v /= 1024; unit += 1 }
        return "\(v) \(["bytes", "kbytes", "mbytes"][unit])"
    }
}
