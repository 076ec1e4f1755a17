import HostModel

/// The register file: payload, meta and conntrack loads, bitwise and byte-order operations, taint tracking.

extension Walker {
    func store(_ t: inout EvalThread, _ reg: UInt32, _ data: [UInt8]) {
        if t.partialMark?.reg == reg { t.partialMark = nil }
        guard let off = regOffset(reg) else { return }
        let padded = (data.count + 3) / 4 * 4
        for i in 0..<padded where off + i < EvalThread.registerBytes {
            t.regs[off + i] = i < data.count ? data[i] : 0
            t.tags[off + i] = .concrete
        }
    }

    func taint(_ t: inout EvalThread, _ reg: UInt32, _ len: Int, _ reason: String) {
        guard let off = regOffset(reg) else { return }
        let idx = reasonIndex(&t, reason)
        let padded = (len + 3) / 4 * 4
        for i in 0..<padded where off + i < EvalThread.registerBytes {
            t.regs[off + i] = 0
            t.tags[off + i] = ByteTag(kind: 2, index: idx, mask: 0, xor: 0)
        }
    }

    /// Reasons are interned in the thread's assumption table through a stable small index.
    func reasonIndex(_ t: inout EvalThread, _ reason: String) -> UInt8 {
        if let i = Walker.reasonTable.firstIndex(of: reason) { return UInt8(i) }
        return UInt8(Walker.reasonTable.count - 1)
    }

    static let reasonTable: [String] = [
        "source port", "packet mark", "conntrack mark", "socket owner (uid/gid/cgroup)", "time of day", "random number",
        "packet length", "security mark", "numgen (random/incremental number)", "hash of packet fields", "socket expression",
        "extension header / TCP option", "link-layer addresses", "IPv4 length/id field", "IPv4 ttl", "IPv4 checksum",
        "IPv6 traffic class/flow label", "IPv6 payload length", "IPv6 hop limit", "TCP sequence number", "TCP data offset",
        "TCP window/checksum", "TCP options", "UDP length/checksum", "UDP payload", "transport header", "inner header payload",
        "dynamic set data", "conntrack field", "interface group", "cpu", "routing by packet mark", "byte order conversion of source address",
        "unmodelled meta key"
    ]

    func readU32Host(_ regs: [UInt8], _ off: Int) -> UInt32 {
        UInt32(regs[off]) | UInt32(regs[off + 1]) << 8 | UInt32(regs[off + 2]) << 16 | UInt32(regs[off + 3]) << 24
    }

    func hostU32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
    func hostU16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

    static func ifname(_ s: String) -> [UInt8] {
        var b = Array(s.utf8.prefix(16))
        while b.count < 16 { b.append(0) }
        return b
    }

    func loadPayload(_ t: inout EvalThread, _ p: Payload, _ dreg: UInt32) -> Bool {
        guard let off = regOffset(dreg) else { return false }
        let len = Int(p.length)
        let padded = (len + 3) / 4 * 4
        guard off + padded <= EvalThread.registerBytes else { return false }
        for i in 0..<padded {
            if i >= len { t.regs[off + i] = 0; t.tags[off + i] = .concrete; continue }
            switch t.pkt.byte(base: p.base, offset: Int(p.offset) + i, symbolic: symbolic && t.region != nil) {
            case .value(let v): t.regs[off + i] = v; t.tags[off + i] = .concrete
            case .saddr(let j, let v): t.regs[off + i] = v; t.tags[off + i] = ByteTag(kind: 1, index: UInt8(j), mask: 0xff, xor: 0)
            case .unknown(let why):
                t.regs[off + i] = 0
                t.tags[off + i] = ByteTag(kind: 2, index: reasonIndex(&t, why), mask: 0, xor: 0)
            case .beyond: return false
            }
        }
        return true
    }

    func loadMeta(_ t: inout EvalThread, _ key: UInt32, _ d: UInt32) -> Bool {
        let p = t.pkt
        switch key {
        case 1: store(&t, d, be16(p.family == .ipv4 ? 0x0800 : 0x86dd))
        case 3:
            if let m = p.mark { store(&t, d, hostU32(m)) } else { taint(&t, d, 4, "packet mark") }
        case 4: store(&t, d, hostU32(p.iifIndex))
        case 5: store(&t, d, hostU32(p.oifIndex))
        case 6: store(&t, d, Walker.ifname(p.iifName))
        case 7: store(&t, d, Walker.ifname(p.oifName))
        case 8:
            if p.iifIndex == 0 { return false }
            store(&t, d, hostU16(p.iifType))
        case 9:
            if p.oifIndex == 0 { return false }
            store(&t, d, hostU16(772))
        case 10, 11, 23: taint(&t, d, key == 23 ? 8 : 4, "socket owner (uid/gid/cgroup)")
        case 15: store(&t, d, [stageNfproto(t)])
        case 16: store(&t, d, [p.l4])
        case 19:
            let daddr = addressValue(p.daddr)
            let pt: UInt8 =
                HostRouting.isMulticast(p.family, daddr)
                ? 2 : (p.family == .ipv4 && routing.addressType(.ipv4, daddr, device: nil) == RTN.broadcast ? 1 : 0)
            store(&t, d, [pt])
        case 0: taint(&t, d, 4, "packet length")
        case 2: store(&t, d, hostU32(0))
        case 20: taint(&t, d, 4, "cpu")
        case 21: taint(&t, d, 4, "interface group")
        case 24: taint(&t, d, 4, "random number")
        case 25: store(&t, d, [0])
        case 26:
            guard let kind = p.iifKind, p.iifIndex != 0 else { return false }
            store(&t, d, Walker.ifname(kind))
        case 18: taint(&t, d, 4, "security mark")
        case 30, 31, 32: taint(&t, d, 8, "time of day")
        case 33: store(&t, d, hostU32(0))
        case 34: store(&t, d, Walker.ifname(""))
        default: taint(&t, d, 16, "unmodelled meta key")
        }
        return true
    }

    func stageNfproto(_ t: EvalThread) -> UInt8 {
        if let b = currentBase(t), rs.tables[b.table].family == .netdev { return 5 }
        return t.pkt.nfproto
    }

    func ctState(_ t: EvalThread) -> UInt32? {
        // nil: no conntrack entry attached (the kernel reads `invalid` for the state and fails other keys).
        if t.pkt.notrack { return nil }
        guard let b = currentBase(t) else { return 8 }
        if t.pkt.local { return b.hook == .output && b.effectivePriority < -200 ? nil : 8 }
        if b.hook == .ingress { return nil }
        if b.hook == .prerouting && b.effectivePriority < -200 { return nil }
        return 8
    }

    /// `notrack` / `-j CT --notrack` only mark a packet that has no conntrack entry yet (nft_notrack_eval,
    /// xt_ct_target: "previously seen? ignore"). Host-local traffic was tracked on output at -200, so a notrack in
    /// prerouting/input (or late in output) leaves it `new`.
    func applyNotrack(_ t: inout EvalThread, handle: UInt64) {
        if t.pkt.notrack { return }
        if ctState(t) != nil {
            t.path.append(chainStep(t, .note("notrack (ignored: already tracked)"), handle: handle))
            return
        }
        t.pkt.notrack = true
        t.path.append(chainStep(t, .note("notrack"), handle: handle))
    }

    func loadCt(_ t: inout EvalThread, _ c: Ct, _ d: UInt32) -> Bool {
        let state = ctState(t)
        if c.key == 0 {
            store(&t, d, hostU32(state ?? (t.pkt.notrack ? 0x40 : 0x01)))
            return true
        }
        guard state != nil else { return false }
        let p = t.pkt
        let reply = (c.direction ?? 0) == 1
        let famLen = p.family == .ipv4 ? 4 : 16
        func loadSaddr(_ t: inout EvalThread) {
            guard let off = regOffset(d) else { return }
            for i in 0..<((famLen + 3) / 4 * 4) where off + i < EvalThread.registerBytes {
                if i < famLen, symbolic && t.region != nil {
                    t.regs[off + i] = p.saddr[i]; t.tags[off + i] = ByteTag(kind: 1, index: UInt8(i), mask: 0xff, xor: 0)
                } else {
                    t.regs[off + i] = i < famLen ? p.saddr[i] : 0; t.tags[off + i] = .concrete
                }
            }
        }
        switch c.key {
        case 1: store(&t, d, [0])
        case 2: store(&t, d, hostU32(p.dnat ? 0x120 : 0))
        case 3:
            if let m = p.ctMark { store(&t, d, hostU32(m)) } else { taint(&t, d, 4, "conntrack mark") }
        case 7: store(&t, d, [p.nfproto])
        case 10: store(&t, d, [p.l4])
        case 8, 19, 21:
            if (c.key == 19 && p.family != .ipv4) || (c.key == 21 && p.family != .ipv6) { return false }
            if reply { store(&t, d, p.daddr) } else { loadSaddr(&t) }
        case 9, 20, 22:
            if (c.key == 20 && p.family != .ipv4) || (c.key == 22 && p.family != .ipv6) { return false }
            if reply { loadSaddr(&t) } else { store(&t, d, p.origDaddr) }
        case 11:
            if reply { store(&t, d, be16(p.dport)) } else if p.sportKnown { store(&t, d, be16(p.sport)) } else { taint(&t, d, 2, "source port") }
        case 12:
            if reply {
                if p.sportKnown { store(&t, d, be16(p.sport)) } else { taint(&t, d, 2, "source port") }
            } else {
                store(&t, d, be16(p.origDport))
            }
        default:
            taint(&t, d, 16, "conntrack field")
        }
        return true
    }

    func bitwise(_ t: inout EvalThread, _ b: Bitwise) {
        guard let s = regOffset(b.sreg), let d = regOffset(b.dreg) else { return }
        let len = Int(b.length)
        guard s + len <= EvalThread.registerBytes, d + len <= EvalThread.registerBytes else { return }
        let src = Array(t.regs[s..<(s + len)]), stag = Array(t.tags[s..<(s + len)])
        switch b.op {
        case 0:
            let mask = b.mask?.bytes ?? [], xor = b.xor?.bytes ?? []
            for i in 0..<len {
                let m = i < mask.count ? mask[i] : 0xff, x = i < xor.count ? xor[i] : 0
                t.regs[d + i] = (src[i] & m) ^ x
                var tag = stag[i]
                switch tag.kind {
                case 1:
                    tag.mask &= m
                    tag.xor = (tag.xor & m) ^ x
                    // A byte masked to zero stays tagged, so the prefix test it belongs to is still recognised;
                    // one set to a non-zero constant is just that constant.
                    if tag.mask == 0 && tag.xor != 0 { tag = .concrete }
                case 2:
                    if m == 0 { tag = .concrete }
                default: break
                }
                t.tags[d + i] = tag
            }
        case 1, 2:
            // Shifts work on 32-bit host-order words.
            let shift = UInt32(b.data?.bytes.first ?? 0)
            let anyTag = stag.contains { $0.kind != 0 }
            var words: [UInt32] = stride(from: 0, to: len, by: 4).map { i in
                var w: UInt32 = 0
                for k in 0..<4 where i + k < len { w |= UInt32(src[i + k]) << (8 * UInt32(k)) }
                return w
            }
            if b.op == 1 {
                var carry: UInt32 = 0
                for i in stride(from: words.count - 1, through: 0, by: -1) {
                    let w = words[i]
                    words[i] = (w << shift) | carry
                    carry = shift == 0 ? 0 : w >> (32 - shift)
                }
            } else {
                var carry: UInt32 = 0
                for i in 0..<words.count {
                    let w = words[i]
                    words[i] = carry | (w >> shift)
                    carry = shift == 0 ? 0 : w << (32 - shift)
                }
            }
            for i in 0..<len {
                t.regs[d + i] = UInt8(truncatingIfNeeded: words[i / 4] >> (8 * UInt32(i % 4)))
                t.tags[d + i] =
                    anyTag ? ByteTag(kind: 2, index: reasonIndex(&t, "byte order conversion of source address"), mask: 0, xor: 0) : .concrete
            }
        default:
            taint(&t, b.dreg, len, "unmodelled meta key")
        }
    }

    func byteorder(_ t: inout EvalThread, _ b: Byteorder) {
        guard let s = regOffset(b.sreg), let d = regOffset(b.dreg) else { return }
        let len = Int(b.length), size = max(Int(b.size), 1)
        guard s + len <= EvalThread.registerBytes, d + len <= EvalThread.registerBytes else { return }
        let src = Array(t.regs[s..<(s + len)]), stag = Array(t.tags[s..<(s + len)])
        var i = 0
        while i < len {
            let n = min(size, len - i)
            for k in 0..<n {
                t.regs[d + i + k] = src[i + n - 1 - k]
                let tag = stag[i + n - 1 - k]
                t.tags[d + i + k] =
                    tag.kind == 1 ? ByteTag(kind: 2, index: reasonIndex(&t, "byte order conversion of source address"), mask: 0, xor: 0) : tag
            }
            i += n
        }
    }
}
