import Foundation
import HostModel

/// The statements and special forms of `RuleCompiler`: iptables-nft addresses, `fib`, `dnat` and `xt`.
extension RuleCompiler {
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
            info += [UInt8](repeating: 0, count: 15)  // pflags
            info.append(0)  // invert
            out.append(.match(Xt(name: "multiport", revision: 1, info: Bytes(info))))
        case "conntrack":
            try expect("state")
            var info = [UInt8](repeating: 0, count: 128 + 8)
            info += le16(0) + [0, 0, 0, 0, 0, 0, 0, 0]  // l4proto, 4 ports
            info += le16(1) + le16(0)  // match_flags STATE, invert_flags
            info += le16(UInt16(states(try next()))) + le16(0)
            info += [UInt8](repeating: 0, count: 8)  // rev 3 high ports
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
