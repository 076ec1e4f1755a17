import Foundation
import HostModel

/// A tiny compiler from nft-like rule text to the bytecode nft 1.0.6 emits (nftables-netlink.md §2), so tests read
/// like rulesets while the evaluator sees exactly what the kernel holds.
///
/// Supported: `tcp|udp|th dport|sport`, `ip|ip6 saddr|daddr` (prefixes shrink the load or add a bitwise mask),
/// `meta l4proto|nfproto|mark|skuid|iifname|iif`, `iifname`, `iif`, `ct state|status|mark|original proto-dst`,
/// `fib daddr type`, `fib saddr . iif oif missing`, values, `!=`, ranges, anonymous sets `{…}`, named sets `@x`,
/// concatenations `a . b`, `vmap {k : verdict}`, verdicts, `counter log notrack limit quota`, `dnat [ip|ip6] to`,
/// `redirect to :p`, `reject`, `unknown NAME`, `xt match|target …` for the decoded iptables-nft structs, and
/// `-s|-d|! -s ADDR/LEN` in the iptables-nft ≤ 1.8.8 form (full-length load + bitwise mask).
struct CompileError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

enum KeyType {
    case ipv4, ipv6, port, l4proto, ifname, mark, ctState, nfproto, ifindex

    var length: Int {
        switch self {
        case .ipv4: 4
        case .ipv6: 16
        case .port: 2
        case .l4proto, .nfproto: 1
        case .ifname: 16
        case .mark, .ctState, .ifindex: 4
        }
    }

    /// nft datatype id (include/datatype.h).
    var typeId: UInt32 {
        switch self {
        case .ipv4: 7
        case .ipv6: 8
        case .port: 13
        case .l4proto: 12
        case .ifname: 41
        case .mark: 19
        case .ctState: 26
        case .nfproto: 15
        case .ifindex: 20
        }
    }
}

final class TableBuilder {
    let family: TableFamily
    let name: String
    var flags: UInt32 = 0
    var chains: [Chain] = []
    var sets: [NFTSet] = []
    var nextHandle: UInt64 = 1
    var anon = 0
    let ifindex: [String: UInt32]

    init(family: TableFamily, name: String, ifindex: [String: UInt32]) {
        self.family = family
        self.name = name
        self.ifindex = ifindex
    }

    func handle() -> UInt64 { defer { nextHandle += 1 }; return nextHandle }

    /// A named set: `keys` are the component types (more than one = concatenation).
    @discardableResult
    func set(_ name: String, _ keys: [KeyType], interval: Bool = false, flags extra: UInt32 = 0, elements: [String]) throws -> TableBuilder {
        var s = try makeSet(name: name, keys: keys, interval: interval, elements: elements.map { ($0, nil) }, anonymous: false)
        s.flags |= extra
        sets.append(s)
        return self
    }

    func makeSet(name: String, keys: [KeyType], interval: Bool, elements: [(String, Verdict?)], anonymous: Bool, map: Bool = false) throws -> NFTSet {
        let concat = keys.count > 1
        let padded = keys.map { ($0.length + 3) / 4 * 4 }
        let keyLen = concat ? padded.reduce(0, +) : keys[0].length
        var flags: UInt32 = anonymous ? 0x3 : 0
        if interval { flags |= 0x4 }
        if concat { flags |= 0x80 }
        if map { flags |= 0x8 }
        var elems: [SetElement] = []
        if interval && !concat {
            // rbtree: start elements and exclusive END elements, dumped in descending order with a leading 0 END.
            var ranges: [([UInt8], [UInt8]?, Verdict?)] = []
            for (text, v) in elements {
                let (lo, hi) = try Values.range(text, keys[0], self)
                ranges.append((lo, Values.increment(hi), v))
            }
            ranges.sort { $0.0.lexicographicallyPrecedes($1.0) }
            var out: [SetElement] = []
            if let first = ranges.first, first.0.contains(where: { $0 != 0 }) {
                out.append(SetElement(key: Bytes([UInt8](repeating: 0, count: keyLen)), flags: 1))
            }
            for (lo, end, v) in ranges {
                out.append(SetElement(key: Bytes(lo), verdict: v))
                if let e = end { out.append(SetElement(key: Bytes(e), flags: 1)) }
            }
            elems = out.reversed()
        } else {
            for (text, v) in elements {
                let parts = concat ? text.components(separatedBy: " . ") : [text]
                guard parts.count == keys.count else { throw CompileError(message: "element '\(text)' does not match the key") }
                var key: [UInt8] = [], keyEnd: [UInt8] = []
                var ranged = false
                for (p, k) in zip(parts, keys) {
                    let (lo, hi) = try Values.range(p.trimmingCharacters(in: .whitespaces), k, self)
                    if lo != hi { ranged = true }
                    let pad = concat ? [UInt8](repeating: 0, count: (k.length + 3) / 4 * 4 - k.length) : []
                    key += lo + pad
                    keyEnd += hi + pad
                }
                elems.append(SetElement(key: Bytes(key), keyEnd: (interval && (ranged || concat)) ? Bytes(keyEnd) : nil, verdict: v))
                if ranged && !interval { throw CompileError(message: "range element '\(text)' needs an interval set") }
            }
        }
        let typeId = keys.reduce(UInt32(0)) { ($0 << 6) | $1.typeId }
        return NFTSet(name: name, handle: handle(), flags: flags, keyType: typeId, keyLength: UInt32(keyLen),
                      dataType: map ? 0xffff_ff00 : nil, dataLength: map ? 16 : nil,
                      concatLengths: concat ? keys.map { UInt32($0.length) } : [], keyByteOrder: nil, elements: elems)
    }

    /// Adds a chain; base chains give `hook`. Each rule is one line of nft rule syntax.
    @discardableResult
    func chain(_ name: String, hook: Hook? = nil, type: String = "filter", priority: Int32 = 0, policy: ChainPolicy = .accept,
               devices: [String] = [], _ rules: [String] = []) throws -> TableBuilder {
        let h = handle()
        var compiled: [Rule] = []
        for line in rules {
            var rc = RuleCompiler(table: self, text: line)
            let exprs = try rc.compile()
            compiled.append(Rule(handle: handle(), expressions: exprs))
        }
        let base = hook.map { BaseChain(type: type, hook: $0, priority: priority, policy: policy, devices: devices) }
        chains.append(Chain(name: name, handle: h, flags: base == nil ? 0 : 1, base: base, rules: compiled))
        return self
    }

    var table: Table { Table(family: family, name: name, handle: 0, flags: flags, chains: chains, sets: sets) }
}

enum Values {
    static let services: [String: UInt16] = ["ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25]

    static func increment(_ b: [UInt8]) -> [UInt8]? {
        var out = b
        var i = out.count - 1
        while i >= 0 {
            if out[i] == 0xff { out[i] = 0; i -= 1 } else { out[i] += 1; return out }
        }
        return nil
    }

    static func port(_ s: String) throws -> UInt16 {
        if let p = UInt16(s) { return p }
        if let p = services[s] { return p }
        throw CompileError(message: "bad port '\(s)'")
    }

    /// The inclusive byte range of a value: `a`, `a-b`, `prefix/len`.
    static func range(_ text: String, _ k: KeyType, _ t: TableBuilder) throws -> ([UInt8], [UInt8]) {
        if (k == .ipv4 || k == .ipv6), text.contains("/") {
            guard let c = CIDR(text) else { throw CompileError(message: "bad prefix '\(text)'") }
            let r = prefixBytes(c)
            return (r.0, r.1)
        }
        if let dash = text.firstIndex(of: "-"), k != .ifname, !(k == .ipv6 && !text.contains(".") && false) {
            let a = String(text[..<dash]), b = String(text[text.index(after: dash)...])
            if !a.isEmpty && !b.isEmpty { return (try value(a, k, t), try value(b, k, t)) }
        }
        if k == .ifname, text.hasSuffix("*") {
            let prefix = Array(text.dropLast().utf8)
            let lo = prefix + [UInt8](repeating: 0, count: 16 - prefix.count)
            var hiPrefix = prefix
            if let inc = increment(hiPrefix) { hiPrefix = inc }
            let hiExcl = hiPrefix + [UInt8](repeating: 0, count: 16 - hiPrefix.count)
            // inclusive end = exclusive end - 1
            var hi = hiExcl
            var i = hi.count - 1
            while i >= 0 { if hi[i] == 0 { hi[i] = 0xff; i -= 1 } else { hi[i] -= 1; break } }
            return (lo, hi)
        }
        let v = try value(text, k, t)
        return (v, v)
    }

    static func prefixBytes(_ c: CIDR) -> ([UInt8], [UInt8]) {
        var lo = c.address.bytes, hi = c.address.bytes
        var bits = c.prefixLength
        for i in 0..<lo.count {
            let keep: UInt8 = bits >= 8 ? 0xff : (bits <= 0 ? 0 : UInt8(0xff << (8 - bits) & 0xff))
            lo[i] &= keep
            hi[i] = (hi[i] & keep) | ~keep
            bits -= 8
        }
        return (lo, hi)
    }

    static func value(_ s: String, _ k: KeyType, _ t: TableBuilder) throws -> [UInt8] {
        switch k {
        case .ipv4:
            guard let a = IPv4Address(s) else { throw CompileError(message: "bad IPv4 address '\(s)'") }
            return a.bytes
        case .ipv6:
            guard let a = IPv6Address(s) else { throw CompileError(message: "bad IPv6 address '\(s)'") }
            return a.bytes
        case .port:
            let p = try port(s)
            return [UInt8(p >> 8), UInt8(p & 0xff)]
        case .l4proto:
            switch s {
            case "tcp": return [6]
            case "udp": return [17]
            case "icmp": return [1]
            default:
                guard let v = UInt8(s) else { throw CompileError(message: "bad protocol '\(s)'") }
                return [v]
            }
        case .nfproto:
            return [s == "ipv4" ? 2 : 10]
        case .ifindex:
            guard let v = t.ifindex[s] else { throw CompileError(message: "unknown interface '\(s)'") }
            return [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        case .ifname:
            let name = Array(s.utf8)
            return name + [UInt8](repeating: 0, count: max(0, 16 - name.count))
        case .mark:
            guard let v = UInt32(s) else { throw CompileError(message: "bad mark '\(s)'") }
            return [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        case .ctState:
            var v: UInt32 = 0
            for part in s.split(separator: ",") {
                switch part {
                case "invalid": v |= 1
                case "established": v |= 2
                case "related": v |= 4
                case "new": v |= 8
                case "untracked": v |= 0x40
                default: throw CompileError(message: "bad ct state '\(part)'")
                }
            }
            return [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        }
    }
}

/// Compiles one rule line.
struct RuleCompiler {
    let table: TableBuilder
    var tokens: [String]
    var pos = 0
    var out: [HostModel.Expression] = []
    var l4Dep: String?
    var famDep: String?

    init(table: TableBuilder, text: String) {
        self.table = table
        var toks: [String] = []
        var depth = 0
        for raw in text.split(separator: " ") {
            var cur = ""
            for ch in raw {
                if ch == "{" { depth += 1 }
                if ch == "}" { depth -= 1 }
                if ch == "{" || ch == "}" || (ch == "," && depth > 0) {
                    if !cur.isEmpty { toks.append(cur); cur = "" }
                    toks.append(String(ch))
                } else if ch != "\"" {
                    cur.append(ch)
                }
            }
            if !cur.isEmpty { toks.append(cur) }
        }
        tokens = toks
    }

    var peek: String? { pos < tokens.count ? tokens[pos] : nil }
    mutating func next() throws -> String {
        guard pos < tokens.count else { throw CompileError(message: "unexpected end of rule") }
        defer { pos += 1 }
        return tokens[pos]
    }
    mutating func expect(_ s: String) throws {
        let t = try next()
        guard t == s else { throw CompileError(message: "expected '\(s)', found '\(t)'") }
    }

    /// A field to load: its expressions (into `reg`), key type and whether its load shrinks for byte-aligned prefixes.
    struct Field {
        var type: KeyType
        var load: (UInt32, Int?) -> [HostModel.Expression]
    }

    mutating func l4Dependency(_ proto: String) {
        guard l4Dep != proto else { return }
        l4Dep = proto
        out.append(.meta(Meta(key: 16, dreg: 1)))
        out.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes([proto == "tcp" ? 6 : 17]))))
    }

    mutating func famDependency(_ fam: String) {
        guard famDep != fam else { return }
        famDep = fam
        switch table.family {
        case .inet:
            out.append(.meta(Meta(key: 15, dreg: 1)))
            out.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes([fam == "ip" ? 2 : 10]))))
        case .netdev, .bridge:
            out.append(.meta(Meta(key: 1, dreg: 1)))
            out.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes(fam == "ip" ? [0x08, 0x00] : [0x86, 0xdd]))))
        default:
            break
        }
    }

    /// Parses one field selector (the tokens before the relation).
    mutating func field(_ first: String) throws -> Field {
        switch first {
        case "tcp", "udp", "th":
            let which = try next()
            let off: UInt32 = which == "dport" ? 2 : 0
            guard which == "dport" || which == "sport" else { throw CompileError(message: "unknown \(first) field \(which)") }
            if first != "th" { l4Dependency(first) }
            return Field(type: .port) { reg, _ in [.payload(Payload(base: .transport, offset: off, length: 2, dreg: reg))] }
        case "ip", "ip6":
            let which = try next()
            famDependency(first)
            let v4 = first == "ip"
            let off: UInt32 = v4 ? (which == "saddr" ? 12 : 16) : (which == "saddr" ? 8 : 24)
            let len = v4 ? 4 : 16
            return Field(type: v4 ? .ipv4 : .ipv6) { reg, shrink in
                [.payload(Payload(base: .network, offset: off, length: UInt32(shrink ?? len), dreg: reg))]
            }
        case "iifname", "oifname":
            let key: UInt32 = first == "iifname" ? 6 : 7
            return Field(type: .ifname) { reg, _ in [.meta(Meta(key: key, dreg: reg))] }
        case "iif":
            return Field(type: .ifindex) { reg, _ in [.meta(Meta(key: 4, dreg: reg))] }
        case "meta":
            let key = try next()
            let map: [String: (UInt32, KeyType)] = ["l4proto": (16, .l4proto), "nfproto": (15, .nfproto), "mark": (3, .mark),
                                                    "skuid": (10, .mark), "iifname": (6, .ifname), "iif": (4, .mark), "pkttype": (19, .l4proto)]
            guard let (k, t) = map[key] else { throw CompileError(message: "unknown meta key \(key)") }
            if key == "iif" { return Field(type: .ifindex) { reg, _ in [.meta(Meta(key: 4, dreg: reg))] } }
            return Field(type: t) { reg, _ in [.meta(Meta(key: k, dreg: reg))] }
        case "ct":
            let key = try next()
            switch key {
            case "state": return Field(type: .ctState) { reg, _ in [.ct(Ct(key: 0, dreg: reg))] }
            case "mark": return Field(type: .mark) { reg, _ in [.ct(Ct(key: 3, dreg: reg))] }
            case "original", "reply":
                let f = try next()
                let dir: UInt8 = key == "original" ? 0 : 1
                switch f {
                case "proto-dst": return Field(type: .port) { reg, _ in [.ct(Ct(key: 12, dreg: reg, direction: dir))] }
                case "proto-src": return Field(type: .port) { reg, _ in [.ct(Ct(key: 11, dreg: reg, direction: dir))] }
                case "ip":
                    let w = try next()
                    return Field(type: .ipv4) { reg, _ in [.ct(Ct(key: w == "saddr" ? 19 : 20, dreg: reg, direction: dir))] }
                default: throw CompileError(message: "unknown ct \(key) field \(f)")
                }
            default: throw CompileError(message: "unknown ct key \(key)")
            }
        default:
            throw CompileError(message: "unknown selector '\(first)'")
        }
    }

    mutating func compile() throws -> [HostModel.Expression] {
        while let tok = peek {
            pos += 1
            switch tok {
            case "accept": out.append(.immediate(Immediate(dreg: 0, verdict: .accept)))
            case "drop": out.append(.immediate(Immediate(dreg: 0, verdict: .drop)))
            case "return": out.append(.immediate(Immediate(dreg: 0, verdict: .return)))
            case "continue": out.append(.immediate(Immediate(dreg: 0, verdict: .continue)))
            case "queue": out.append(.queue(Queue(number: 0, total: 1, flags: 0)))
            case "jump": out.append(.immediate(Immediate(dreg: 0, verdict: .jump(try next()))))
            case "goto": out.append(.immediate(Immediate(dreg: 0, verdict: .goto(try next()))))
            case "reject": out.append(.reject(Reject(type: 2, code: 1)))
            case "counter": out.append(.counter)
            case "log": out.append(.log(Log()))
            case "notrack": out.append(.notrack)
            case "limit":
                try expect("rate")
                let over = peek == "over"
                if over { pos += 1 }
                let rate = try next()
                out.append(.limit(Limit(rate: UInt64(rate.split(separator: "/").first.flatMap { UInt64($0) } ?? 1), unit: 1, burst: 5, inverted: over)))
            case "quota":
                // quota [over] N [used M]: bytes; without `used` the consumption is unknown, as in old snapshots.
                let over = peek == "over"
                if over { pos += 1 }
                let n = try next()
                var used: UInt64?
                if peek == "used" { pos += 1; used = UInt64(try next()) }
                out.append(.quota(Quota(bytes: UInt64(n) ?? 0, inverted: over, consumed: used)))
            case "unknown":
                out.append(.unknown(Unknown(name: try next(), attributes: [])))
            case "meta" where tokens.count > pos + 1 && tokens[pos + 1] == "set":
                let key = try next()
                guard key == "mark" else { throw CompileError(message: "only meta mark set") }
                try expect("set")
                let v = try Values.value(try next(), .mark, table)
                out.append(.immediate(Immediate(dreg: 1, data: Bytes(v))))
                out.append(.meta(Meta(key: 3, sreg: 1)))
            case "fib":
                try fib()
            case "dnat":
                try dnat()
            case "redirect":
                try expect("to")
                let p = try next()
                let port = try Values.port(String(p.dropFirst()))
                out.append(.immediate(Immediate(dreg: 1, data: Bytes([UInt8(port >> 8), UInt8(port & 0xff)]))))
                out.append(.redir(Redir(regProtoMin: 1, flags: 2)))
            case "xt":
                try xt()
            case "-s", "-d", "!":
                try iptablesAddress(tok)
            default:
                var fields = [try field(tok)]
                while peek == "." {
                    pos += 1
                    fields.append(try field(try next()))
                }
                try relation(fields)
            }
        }
        return out
    }

    /// Emits loads and the comparison/lookup for `fields` followed by a relation.
    mutating func relation(_ fields: [Field]) throws {
        var negate = false
        if peek == "!=" { negate = true; pos += 1 }
        if peek == "vmap" {
            pos += 1
            try emitLoads(fields)
            try expect("{")
            var elems: [(String, Verdict?)] = []
            while peek != "}" {
                var key = try next()
                while peek == "." { pos += 1; key += " . " + (try next()) }
                try expect(":")
                let v = try next()
                let verdict: Verdict
                switch v {
                case "accept": verdict = .accept
                case "drop": verdict = .drop
                case "jump": verdict = .jump(try next())
                case "goto": verdict = .goto(try next())
                default: throw CompileError(message: "bad vmap verdict \(v)")
                }
                elems.append((key, verdict))
                if peek == "," { pos += 1 }
            }
            try expect("}")
            let interval = elems.contains { $0.0.contains("-") || $0.0.contains("/") }
            let name = "__map\(table.anon)"; table.anon += 1
            let s = try table.makeSet(name: name, keys: fields.map(\.type), interval: interval, elements: elems, anonymous: true, map: true)
            table.sets.append(s)
            out.append(.lookup(Lookup(sreg: 1, dreg: 0, set: name)))
            return
        }
        if peek == "@" || (peek?.hasPrefix("@") ?? false) {
            let name = String(try next().dropFirst())
            try emitLoads(fields)
            out.append(.lookup(Lookup(sreg: 1, set: name, inverted: negate)))
            return
        }
        if peek == "{" {
            pos += 1
            var elems: [String] = []
            while peek != "}" {
                var e = try next()
                while peek == "." { pos += 1; e += " . " + (try next()) }
                elems.append(e)
                if peek == "," { pos += 1 }
            }
            try expect("}")
            let interval = elems.contains { e in
                e.contains("/") || (e.contains("-") && fields.count == 1) || (fields.count == 1 && fields[0].type == .ifname && e.hasSuffix("*"))
            }
            let name = "__set\(table.anon)"; table.anon += 1
            let s = try table.makeSet(name: name, keys: fields.map(\.type), interval: interval, elements: elems.map { ($0, nil) }, anonymous: true)
            table.sets.append(s)
            try emitLoads(fields)
            out.append(.lookup(Lookup(sreg: 1, set: name, inverted: negate)))
            return
        }
        guard fields.count == 1 else { throw CompileError(message: "a concatenation needs a set") }
        let f = fields[0]
        let text = try next()
        switch f.type {
        case .ctState:
            // Bitmask type: bitwise & mask, cmp neq 0 (or eq 0 for `!=`).
            let mask = try Values.value(text, .ctState, table)
            out += f.load(1, nil)
            out.append(.bitwise(Bitwise(sreg: 1, dreg: 1, length: 4, mask: Bytes(mask), xor: Bytes([0, 0, 0, 0]))))
            out.append(.cmp(Cmp(sreg: 1, op: negate ? .eq : .neq, data: Bytes([0, 0, 0, 0]))))
        case .ipv4, .ipv6:
            if text.contains("/"), let c = CIDR(text) {
                guard c.prefixLength > 0 else { throw CompileError(message: "a /0 prefix matches everything; write no match") }
                let full = f.type.length
                if c.prefixLength % 8 == 0 {
                    let n = max(c.prefixLength / 8, 1)
                    out += f.load(1, n == full ? nil : n)
                    out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(Array(c.address.bytes[0..<n])))))
                } else {
                    out += f.load(1, nil)
                    let (lo, _) = Values.prefixBytes(c)
                    let mask = Values.prefixBytes(CIDR(address: c.family == .ipv4 ? .v4(IPv4Address(0xffff_ffff)) : .v6(IPv6Address(bytes: [UInt8](repeating: 0xff, count: 16))), prefixLength: c.prefixLength)).0
                    out.append(.bitwise(Bitwise(sreg: 1, dreg: 1, length: UInt32(full), mask: Bytes(mask), xor: Bytes([UInt8](repeating: 0, count: full)))))
                    out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(lo))))
                }
            } else {
                try simple(f, text, negate)
            }
        case .ifname:
            out += f.load(1, nil)
            if text.hasSuffix("*") {
                out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(Array(text.dropLast().utf8)))))
            } else {
                out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(try Values.value(text, .ifname, table)))))
            }
        default:
            try simple(f, text, negate)
        }
    }

    mutating func simple(_ f: Field, _ text: String, _ negate: Bool) throws {
        if let dash = text.firstIndex(of: "-"), f.type != .ifname {
            let a = try Values.value(String(text[..<dash]), f.type, table)
            let b = try Values.value(String(text[text.index(after: dash)...]), f.type, table)
            out += f.load(1, nil)
            if f.type == .mark {
                // Host-endian keys are converted before a range check.
                out.append(.byteorder(Byteorder(sreg: 1, dreg: 1, op: 1, length: 4, size: 4)))
                let ab = Array(a.reversed()), bb = Array(b.reversed())
                if negate { out.append(.range(RangeExpr(sreg: 1, inverted: true, from: Bytes(ab), to: Bytes(bb)))) } else {
                    out.append(.cmp(Cmp(sreg: 1, op: .gte, data: Bytes(ab))))
                    out.append(.cmp(Cmp(sreg: 1, op: .lte, data: Bytes(bb))))
                }
                return
            }
            if negate {
                out.append(.range(RangeExpr(sreg: 1, inverted: true, from: Bytes(a), to: Bytes(b))))
            } else {
                out.append(.cmp(Cmp(sreg: 1, op: .gte, data: Bytes(a))))
                out.append(.cmp(Cmp(sreg: 1, op: .lte, data: Bytes(b))))
            }
            return
        }
        out += f.load(1, nil)
        out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(try Values.value(text, f.type, table)))))
    }

    mutating func emitLoads(_ fields: [Field]) throws {
        var word = 0
        for (i, f) in fields.enumerated() {
            let reg: UInt32 = i == 0 ? 1 : UInt32(8 + word)
            out += f.load(reg, nil)
            word += (f.type.length + 3) / 4
        }
    }

    /// `-s|-d|! -s|! -d ADDR[/LEN]` as iptables-nft up to 1.8.8 compiles it (RHEL 8/9, Debian 11): always a
    /// full-length load, a `bitwise` prefix mask unless the prefix is the whole address, then `cmp eq|neq`.
    /// (1.8.9 shortens byte-aligned prefixes like nft does; `ip saddr …` compiles that form.)
    mutating func iptablesAddress(_ tok: String) throws {
        var negate = false
        var which = tok
        if tok == "!" { negate = true; which = try next() }
        guard which == "-s" || which == "-d" else { throw CompileError(message: "expected -s or -d after !") }
        let text = try next()
        let v6 = text.contains(":")
        guard let c = CIDR(text.contains("/") ? text : text + (v6 ? "/128" : "/32")) else { throw CompileError(message: "bad address '\(text)'") }
        let full = v6 ? 16 : 4
        let off: UInt32 = v6 ? (which == "-s" ? 8 : 24) : (which == "-s" ? 12 : 16)
        out.append(.payload(Payload(base: .network, offset: off, length: UInt32(full), dreg: 1)))
        let (lo, _) = Values.prefixBytes(c)
        if c.prefixLength < 8 * full {
            var mask = [UInt8](repeating: 0, count: full)
            var bits = c.prefixLength
            for i in 0..<full {
                mask[i] = bits >= 8 ? 0xff : (bits <= 0 ? 0 : UInt8(0xff << (8 - bits) & 0xff))
                bits -= 8
            }
            out.append(.bitwise(Bitwise(sreg: 1, dreg: 1, length: UInt32(full), mask: Bytes(mask), xor: Bytes([UInt8](repeating: 0, count: full)))))
        }
        out.append(.cmp(Cmp(sreg: 1, op: negate ? .neq : .eq, data: Bytes(lo))))
    }

    mutating func fib() throws {
        // `fib daddr type local` | `fib saddr . iif oif missing|exists` | `fib daddr . iif type local`
        var flags: UInt32 = 0
        while true {
            let t = try next()
            switch t {
            case "saddr": flags |= 1
            case "daddr": flags |= 2
            case "mark": flags |= 4
            case "iif": flags |= 8
            case "oif": flags |= 16
            case ".": continue
            default: pos -= 1
            }
            if t != "saddr" && t != "daddr" && t != "mark" && t != "iif" && t != "oif" && t != "." { break }
            if peek != "." { break }
        }
        let result = try next()
        switch result {
        case "type":
            let v = try next()
            let code: UInt32 = ["unicast": 1, "local": 2, "broadcast": 3, "multicast": 5][v] ?? 0
            out.append(.fib(Fib(dreg: 1, result: 3, flags: flags)))
            out.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes([UInt8(code), 0, 0, 0]))))
        case "oif":
            let v = try next()
            out.append(.fib(Fib(dreg: 1, result: 1, flags: flags | 32)))
            out.append(.cmp(Cmp(sreg: 1, op: .eq, data: Bytes([v == "missing" ? 0 : 1]))))
        default:
            throw CompileError(message: "unsupported fib result \(result)")
        }
    }

    mutating func dnat() throws {
        var fam: UInt32 = table.family == .ip6 ? 10 : 2
        if peek == "ip" { pos += 1; fam = 2 } else if peek == "ip6" { pos += 1; fam = 10 }
        try expect("to")
        let target = try next()
        var addrText = target, port: UInt16?
        if fam == 2, let colon = target.lastIndex(of: ":") {
            addrText = String(target[..<colon]); port = try Values.port(String(target[target.index(after: colon)...]))
        } else if fam == 10, target.hasPrefix("["), let close = target.firstIndex(of: "]") {
            addrText = String(target[target.index(after: target.startIndex)..<close])
            let rest = target[target.index(after: close)...]
            if rest.hasPrefix(":") { port = try Values.port(String(rest.dropFirst())) }
        }
        let addr = try Values.value(addrText, fam == 2 ? .ipv4 : .ipv6, table)
        out.append(.immediate(Immediate(dreg: 1, data: Bytes(addr))))
        var flags: UInt32 = 1
        var protoReg: UInt32?
        if let p = port {
            out.append(.immediate(Immediate(dreg: 2, data: Bytes([UInt8(p >> 8), UInt8(p & 0xff)]))))
            flags |= 2
            protoReg = 2
        }
        out.append(.nat(Nat(type: 1, family: fam, regAddrMin: 1, regProtoMin: protoReg, flags: flags)))
    }

    /// `xt match multiport dports 80,443` | `xt match conntrack state NEW,ESTABLISHED` | `xt match state NEW`
    /// | `xt match comment TEXT` | `xt match tcp dport 22` | `xt match NAME` | `xt target REJECT|LOG|NAME`.
    mutating func xt() throws {
        let kind = try next()
        let name = try next()
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
        func states(_ s: String) -> UInt32 {
            var m: UInt32 = 0
            for p in s.split(separator: ",") {
                switch p {
                case "INVALID": m |= 1
                case "ESTABLISHED": m |= 2
                case "RELATED": m |= 4
                case "NEW": m |= 8
                case "UNTRACKED": m |= 0x40
                default: break
                }
            }
            return m
        }
        if kind == "target" {
            switch name {
            case "REJECT": out.append(.target(Xt(name: "REJECT", revision: 0, info: Bytes(le32(7)))))
            case "LOG": out.append(.target(Xt(name: "LOG", revision: 0, info: Bytes([UInt8](repeating: 0, count: 32)))))
            default: out.append(.target(Xt(name: name, revision: 0, info: Bytes([]))))
            }
            return
        }
        switch name {
        case "multiport":
            try expect("dports")
            let ports = try next().split(separator: ",").map { try Values.port(String($0)) }
            var info: [UInt8] = [1, UInt8(ports.count)]
            for i in 0..<15 { info += le16(i < ports.count ? ports[i] : 0) }
            info += [UInt8](repeating: 0, count: 15)   // pflags
            info.append(0)                               // invert
            out.append(.match(Xt(name: "multiport", revision: 1, info: Bytes(info))))
        case "conntrack":
            try expect("state")
            var info = [UInt8](repeating: 0, count: 128 + 8)
            info += le16(0) + [0, 0, 0, 0, 0, 0, 0, 0]   // l4proto, 4 ports
            info += le16(1) + le16(0)                    // match_flags STATE, invert_flags
            info += le16(UInt16(states(try next()))) + le16(0)
            info += [UInt8](repeating: 0, count: 8)      // rev 3 high ports
            out.append(.match(Xt(name: "conntrack", revision: 3, info: Bytes(info))))
        case "state":
            out.append(.match(Xt(name: "state", revision: 0, info: Bytes(le32(states(try next()))))))
        case "comment":
            let text = Array((try next()).utf8)
            out.append(.match(Xt(name: "comment", revision: 0, info: Bytes(text + [UInt8](repeating: 0, count: 256 - text.count)))))
        case "tcp", "udp":
            try expect("dport")
            let p = try Values.port(try next())
            var info = le16(0) + le16(0xffff) + le16(p) + le16(p)
            info += name == "tcp" ? [0, 0, 0, 0] : [0, 0, 0, 0]
            out.append(.match(Xt(name: name, revision: 0, info: Bytes(info))))
        case "addrtype":
            // `xt match addrtype dst LOCAL` (xt_addrtype_info_v1 {u16 source, u16 dest, u32 flags})
            try expect("dst")
            let t = try next()
            let bit: UInt16 = ["UNICAST": 1 << 1, "LOCAL": 1 << 2, "BROADCAST": 1 << 3][t] ?? 0
            out.append(.match(Xt(name: "addrtype", revision: 1, info: Bytes(le16(0) + le16(bit) + le32(0)))))
        case "iprange":
            // `xt match iprange src A-B` (xt_iprange_mtinfo: src_min, src_max, dst_min, dst_max as 16-byte unions, u8 flags)
            try expect("src")
            let r = try next().split(separator: "-").map(String.init)
            guard r.count == 2, let a = IPv4Address(r[0]), let b = IPv4Address(r[1]) else { throw CompileError(message: "bad iprange") }
            func u(_ x: [UInt8]) -> [UInt8] { x + [UInt8](repeating: 0, count: 16 - x.count) }
            let info = u(a.bytes) + u(b.bytes) + u([]) + u([]) + [0x01]
            out.append(.match(Xt(name: "iprange", revision: 1, info: Bytes(info))))
        default:
            out.append(.match(Xt(name: name, revision: 0, info: Bytes([]))))
        }
    }
}
