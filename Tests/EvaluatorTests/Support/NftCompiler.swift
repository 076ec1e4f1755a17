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
        return NFTSet(
            name: name, handle: handle(), flags: flags, keyType: typeId, keyLength: UInt32(keyLen),
            dataType: map ? 0xffff_ff00 : nil, dataLength: map ? 16 : nil,
            concatLengths: concat ? keys.map { UInt32($0.length) } : [], keyByteOrder: nil, elements: elems)
    }

    /// Adds a chain; base chains give `hook`. Each rule is one line of nft rule syntax.
    @discardableResult
    func chain(
        _ name: String, hook: Hook? = nil, type: String = "filter", priority: Int32 = 0, policy: ChainPolicy = .accept,
        devices: [String] = [], _ rules: [String] = []
    ) throws -> TableBuilder {
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
            let map: [String: (UInt32, KeyType)] = [
                "l4proto": (16, .l4proto), "nfproto": (15, .nfproto), "mark": (3, .mark),
                "skuid": (10, .mark), "iifname": (6, .ifname), "iif": (4, .mark), "pkttype": (19, .l4proto)
            ]
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
                out.append(
                    .limit(Limit(rate: UInt64(rate.split(separator: "/").first.flatMap { UInt64($0) } ?? 1), unit: 1, burst: 5, inverted: over)))
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
                    let mask = Values.prefixBytes(
                        CIDR(
                            address: c.family == .ipv4 ? .v4(IPv4Address(0xffff_ffff)) : .v6(IPv6Address(bytes: [UInt8](repeating: 0xff, count: 16))),
                            prefixLength: c.prefixLength)
                    ).0
                    out.append(
                        .bitwise(Bitwise(sreg: 1, dreg: 1, length: UInt32(full), mask: Bytes(mask), xor: Bytes([UInt8](repeating: 0, count: full)))))
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
                if negate {
                    out.append(.range(RangeExpr(sreg: 1, inverted: true, from: Bytes(ab), to: Bytes(bb))))
                } else {
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
}
