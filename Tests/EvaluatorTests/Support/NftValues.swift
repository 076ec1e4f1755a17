import Foundation
import HostModel

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
        if k == .ipv4 || k == .ipv6, text.contains("/") {
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
