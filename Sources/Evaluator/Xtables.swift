import HostModel

/// iptables-nft compat expressions: the common `xt_*` info structs decoded in host (little-endian) byte order.
/// Anything not decoded here is undecidable rather than guessed.
extension Walker {
    private func le16(_ b: [UInt8], _ o: Int) -> UInt16? { o + 2 <= b.count ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : nil }
    private func le32(_ b: [UInt8], _ o: Int) -> UInt32? {
        o + 4 <= b.count ? UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 : nil
    }
    private func be16At(_ b: [UInt8], _ o: Int) -> UInt16? { o + 2 <= b.count ? UInt16(b[o]) << 8 | UInt16(b[o + 1]) : nil }

    /// A condition on the source address: symbolic on exposure branches, concrete otherwise.
    func sourceCond(_ t: EvalThread, _ m: AddressSet) -> Cond {
        if symbolic, t.region != nil { return .region(m) }
        return .bool(m.contains(addressValue(t.pkt.saddr)))
    }

    private func portIn(_ t: EvalThread, source: Bool, _ lo: UInt16, _ hi: UInt16, invert: Bool) -> Cond {
        if source {
            if lo == 0 && hi == 0xffff { return .bool(!invert) }
            guard t.pkt.sportKnown else { return .unknown("source port") }
            return .bool((t.pkt.sport >= lo && t.pkt.sport <= hi) != invert)
        }
        return .bool((t.pkt.dport >= lo && t.pkt.dport <= hi) != invert)
    }

    private func both(_ a: Cond, _ b: Cond) -> Cond {
        switch (a, b) {
        case (.bool(false), _), (_, .bool(false)): return .bool(false)
        case (.bool(true), let x), (let x, .bool(true)): return x
        case (.unknown(let r), _), (_, .unknown(let r)): return .unknown(r)
        case (.region(let x), .region(let y)): return .region(x.intersection(y))
        }
    }

    /// xt `recent` (ufw's `limit`): `--set` always matches and puts the address into the list; `--rcheck` and
    /// `--update` match an address with enough recent hits; `--remove` one that is there. An address in none of the
    /// snapshot's lists has no hits (one, if this path has just set it), which decides the match; for a listed one it
    /// depends on when it was seen, so that part is conditional. xt_recent_mtinfo(_v1): u32 seconds, hit_count;
    /// u8 check_set, invert; char name[200]; u8 side; (v1) nf_inet_addr mask at 212.
    mutating func xtRecent(_ t: inout EvalThread, _ x: Xt) -> Cond {
        let b = x.info.bytes
        guard b.count >= 211, let hitCount = le32(b, 4) else { return .unknown("xt match recent (short info)") }
        let flags = b[8], invert = b[9] != 0
        let name = String(decoding: b[10..<210].prefix { $0 != 0 }, as: UTF8.self)
        if flags & 0x02 != 0 {
            if !t.recentSet.contains(name) { t.recentSet.append(name) }
            return .bool(!invert)
        }
        let what = "xt recent list \(name)"
        guard let lists = rs.recent else { return .unknown("\(what) (not in the snapshot)") }
        let listed = lists[name]?[t.pkt.family] ?? AddressSet(family: t.pkt.family)
        if x.revision >= 1 {
            guard b.count >= 228 else { return .unknown("xt match recent (short info)") }
            let mask = t.pkt.family == .ipv4 ? b[212..<216] : b[212..<228]
            if !listed.isEmpty && !mask.allSatisfy({ $0 == 0xff }) { return .unknown("\(what) (masked addresses)") }
        }
        let setHere = t.recentSet.contains(name)
        // The answer for an address the list did not hold: --remove matches only what this path set; --rcheck and
        // --update count this path's one hit against --hitcount (0 means any hit).
        let absent = flags & 0x08 != 0 ? setHere != invert : (setHere && hitCount <= 1) != invert
        let listedReason = "\(what) holds the address: when it was seen decides"
        if b[210] == 1 {
            return listed.contains(addressValue(t.pkt.daddr)) ? .unknown(listedReason) : .bool(absent)
        }
        guard symbolic, let region = t.region else {
            return listed.contains(addressValue(t.pkt.saddr)) ? .unknown(listedReason) : .bool(absent)
        }
        if t.pendingRegion != nil { commit(&t) }
        let current = t.region ?? region
        let inList = isect(current, listed)
        if inList.isEmpty { return .bool(absent) }
        if !absent {
            // The sources not in the list do not match: they go on at the next rule; the listed ones are conditional.
            let rest = minus(current, listed)
            if !rest.isEmpty { forkNoMatch(t, region: rest, assumption: nil) }
            t.region = inList
        }
        return .unknown(listedReason)
    }

    private func ctStateBit(_ t: EvalThread) -> UInt32 {
        if t.pkt.notrack { return 0x40 }
        // Same attachment points as `ct state`: no entry below -200 on prerouting (remote) or output (local).
        return ctState(t) == nil ? 0x01 : 0x08
    }

    func xtMatch(_ t: EvalThread, _ x: Xt) -> Cond {
        let b = x.info.bytes
        switch x.name {
        case "comment":
            return .bool(true)
        case "tcp":
            guard let s0 = le16(b, 0), let s1 = le16(b, 2), let d0 = le16(b, 4), let d1 = le16(b, 6), b.count >= 12 else {
                return .unknown("xt match tcp (short info)")
            }
            guard t.pkt.l4 == 6 else { return .bool(false) }
            let inv = b[11]
            if b[8] != 0 { return .unknown("TCP options") }
            let flagsOK = ((0x02 & b[9]) == b[10]) != (inv & 0x04 != 0)
            return both(
                both(portIn(t, source: true, s0, s1, invert: inv & 1 != 0), portIn(t, source: false, d0, d1, invert: inv & 2 != 0)), .bool(flagsOK))
        case "udp":
            guard let s0 = le16(b, 0), let s1 = le16(b, 2), let d0 = le16(b, 4), let d1 = le16(b, 6), b.count >= 9 else {
                return .unknown("xt match udp (short info)")
            }
            guard t.pkt.l4 == 17 else { return .bool(false) }
            let inv = b[8]
            return both(portIn(t, source: true, s0, s1, invert: inv & 1 != 0), portIn(t, source: false, d0, d1, invert: inv & 2 != 0))
        case "multiport":
            return multiport(t, x)
        case "state":
            guard let mask = le32(b, 0) else { return .unknown("xt match state (short info)") }
            return .bool(mask & ctStateBit(t) != 0)
        case "conntrack":
            return conntrack(t, b, rev: x.revision)
        case "addrtype":
            return addrtype(t, x)
        case "iprange":
            return iprange(t, b)
        case "rt", "frag", "hbh", "dst", "ah", "esp", "mh", "srh":
            // IPv6 extension headers / IPsec headers: a SYN or first datagram as modelled carries none, and these
            // matches return false when the header is absent.
            return .bool(false)
        case "mark" where x.revision == 1:
            // xt_mark_mtinfo1 {u32 mark, mask; u8 invert}
            guard let mark = le32(b, 0), let mask = le32(b, 4), b.count >= 9 else { return .unknown("xt match mark (short info)") }
            guard mask & ~t.pkt.markKnown == 0 else { return .unknown("packet mark") }
            return .bool(((t.pkt.markBits & mask) == mark) != (b[8] != 0))
        case "icmp", "icmp6":
            return .bool(false)  // only ever matches ICMP packets
        case "pkttype":
            guard let type = le32(b, 0), let inv = le32(b, 4) else { return .unknown("xt match pkttype (short info)") }
            return .bool((type == 0) != (inv != 0))
        default:
            return .unknown("xt match \(x.name)")
        }
    }

    /// xt `multiport` (revisions 0 and 1, with ranges): destination, source or either port in a list.
    private func multiport(_ t: EvalThread, _ x: Xt) -> Cond {
        let b = x.info.bytes
        guard b.count >= 2 else { return .unknown("xt match multiport (short info)") }
        let flags = b[0], count = min(Int(b[1]), 15)
        let v1 = x.revision >= 1 && b.count >= 48
        var ports: [UInt16] = []
        for i in 0..<count { ports.append(le16(b, 2 + 2 * i) ?? 0) }
        let invert = v1 && b[47] != 0
        func hit(_ p: UInt16) -> Bool {
            var i = 0
            while i < count {
                let s = ports[i]
                if v1 && b[32 + i] != 0, i + 1 < count {
                    let e = ports[i + 1]
                    i += 2
                    if p >= s && p <= e { return true }
                } else {
                    i += 1
                    if p == s { return true }
                }
            }
            return false
        }
        guard t.pkt.l4 == 6 || t.pkt.l4 == 17 else { return .bool(false) }
        let dHit = hit(t.pkt.dport)
        switch flags {
        case 1: return .bool(dHit != invert)
        case 0, 2:
            if flags == 2 && dHit { return .bool(!invert) }
            guard t.pkt.sportKnown else { return .unknown("source port") }
            return .bool(hit(t.pkt.sport) != invert)
        default: return .unknown("xt match multiport (flags \(flags))")
        }
    }

    /// xt `addrtype` (revision 1): the routing type of the destination and, symbolically, of the source.
    private func addrtype(_ t: EvalThread, _ x: Xt) -> Cond {
        let b = x.info.bytes
        let fam = t.pkt.family
        guard x.revision == 1, let src = le16(b, 0), let dst = le16(b, 2), let flags = le32(b, 4) else {
            return .unknown("xt match addrtype rev \(x.revision)")
        }
        let dev: UInt32? = flags & 0x4 != 0 ? t.pkt.iifIndex : nil
        var cond: Cond = .bool(true)
        if dst != 0 {
            let type = routing.addressType(fam, addressValue(t.pkt.daddr), device: dev)
            cond = both(cond, .bool(((UInt32(dst) & (1 << type)) != 0) != (flags & 0x2 != 0)))
        }
        if src != 0 {
            let parts = routing.partition(AddressSet.full(fam)) { routing.addressType(fam, $0, device: dev) }
            var m = AddressSet(family: fam)
            for (type, s) in parts where (UInt32(src) & (1 << type)) != 0 { m = m.union(s) }
            if flags & 0x1 != 0 { m = m.complement() }
            cond = both(cond, sourceCond(t, m))
        }
        return cond
    }

    /// xt `iprange`: source (symbolic) and destination address ranges, each possibly inverted.
    private func iprange(_ t: EvalThread, _ b: [UInt8]) -> Cond {
        let fam = t.pkt.family
        guard b.count >= 65 else { return .unknown("xt match iprange (short info)") }
        let flags = b[64]
        let n = fam == .ipv4 ? 4 : 16
        func range(_ o: Int) -> AddressSet {
            let lo = addressValue(b[o..<(o + n)]), hi = addressValue(b[(o + 16)..<(o + 16 + n)])
            return lo <= hi ? AddressSet(family: fam, sorted: [lo...hi]) : AddressSet(family: fam)
        }
        var cond: Cond = .bool(true)
        if flags & 0x01 != 0 {
            var m = range(0)
            if flags & 0x10 != 0 { m = m.complement() }
            cond = both(cond, sourceCond(t, m))
        }
        if flags & 0x02 != 0 {
            let m = range(32)
            cond = both(cond, .bool(m.contains(addressValue(t.pkt.daddr)) != (flags & 0x20 != 0)))
        }
        return cond
    }

    private func conntrack(_ t: EvalThread, _ b: [UInt8], rev: UInt32) -> Cond {
        guard rev >= 1, rev <= 3, b.count >= 152 else { return .unknown("xt match conntrack rev \(rev)") }
        let l4proto = le16(b, 136) ?? 0
        let origsrcPort = be16At(b, 138) ?? 0, origdstPort = be16At(b, 140) ?? 0
        let replsrcPort = be16At(b, 142) ?? 0, repldstPort = be16At(b, 144) ?? 0
        let matchFlags = le16(b, 146) ?? 0, invert = le16(b, 148) ?? 0
        let stateMask: UInt16, statusMask: UInt16
        if rev == 1 {
            stateMask = UInt16(b[150]); statusMask = UInt16(b[151])
        } else {
            guard b.count >= 154 else { return .unknown("xt match conntrack (short info)") }
            stateMask = le16(b, 150) ?? 0; statusMask = le16(b, 152) ?? 0
        }
        var highs: [UInt16] = [origsrcPort, origdstPort, replsrcPort, repldstPort]
        if rev == 3, b.count >= 162 {
            highs = [le16(b, 154) ?? 0, le16(b, 156) ?? 0, le16(b, 158) ?? 0, le16(b, 160) ?? 0].map { UInt16(bigEndian: $0) }
        }
        let stateBit = ctStateBit(t)
        let hasCt = stateBit == 0x08
        var cond: Cond = .bool(true)
        func flag(_ bit: UInt16) -> Bool { matchFlags & bit != 0 }
        func inv(_ bit: UInt16) -> Bool { invert & bit != 0 }
        if flag(1) {
            var sb = UInt16(truncatingIfNeeded: stateBit)
            if hasCt && t.pkt.dnat { sb |= 0x100 }
            let hit = (stateMask & sb) != 0
            if hit == inv(1) { return .bool(false) }
        }
        if !hasCt { return .bool(flag(1)) }
        // 0x2000 (XT_CONNTRACK_STATE_ALIAS) only tells iptables to print `-m state`; the kernel ignores it.
        let handled: UInt16 = 1 | 2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200 | 0x400 | 0x800 | 0x1000 | 0x2000
        if matchFlags & ~handled & 0x3fff != 0 { return .unknown("xt match conntrack (expiry option)") }
        if flag(2) { cond = both(cond, .bool((UInt16(t.pkt.l4) == l4proto) != inv(2))) }
        // --ctorigsrc/--ctorigdst/--ctreplsrc/--ctrepldst: addr/mask as 16-byte unions whatever the family (the
        // first 4 bytes for IPv4), compared as (tuple ^ addr) & mask == 0. Only prefix masks are decoded.
        let fam = t.pkt.family
        func masked(_ o: Int) -> AddressSet? {
            let n = fam == .ipv4 ? 4 : 16
            let a = addressValue(b[o..<(o + n)]), m = addressValue(b[(o + 16)..<(o + 16 + n)])
            let host = ~m & AddressSet.maxValue(fam)
            guard host & (host &+ 1) == 0 else { return nil }
            return AddressSet(family: fam, sorted: [(a & m)...((a & m) | host)])
        }
        for (bit, offset, source) in [(UInt16(0x4), 0, true), (0x8, 32, false), (0x10, 64, false), (0x20, 96, true)] where flag(bit) {
            guard let set = masked(offset) else { return .unknown("xt match conntrack (non-prefix address mask)") }
            if source {
                // original source and reply destination are the packet's source (no SNAT on inbound new packets)
                cond = both(cond, sourceCond(t, inv(bit) ? set.complement() : set))
            } else {
                // original destination is before DNAT; reply source is where DNAT sent it (the current destination)
                let d = bit == 0x8 ? t.pkt.origDaddr : t.pkt.daddr
                cond = both(cond, .bool(set.contains(addressValue(d)) != inv(bit)))
            }
        }
        if flag(0x40) {
            let status: UInt16 = t.pkt.dnat ? 0x120 : 0
            cond = both(cond, .bool(((status & statusMask) != 0) != inv(0x40)))
        }
        func portCond(_ value: UInt16?, _ lo: UInt16, _ hiRaw: UInt16, _ bit: UInt16) -> Cond {
            guard let v = value else { return .unknown("source port") }
            let hi = rev == 3 ? hiRaw : lo
            return .bool((v >= lo && v <= hi) != inv(bit))
        }
        let sport: UInt16? = t.pkt.sportKnown ? t.pkt.sport : nil
        if flag(0x100) { cond = both(cond, portCond(sport, origsrcPort, highs[0], 0x100)) }
        if flag(0x200) { cond = both(cond, portCond(t.pkt.origDport, origdstPort, highs[1], 0x200)) }
        if flag(0x400) { cond = both(cond, portCond(t.pkt.dport, replsrcPort, highs[2], 0x400)) }
        if flag(0x800) { cond = both(cond, portCond(sport, repldstPort, highs[3], 0x800)) }
        if flag(0x1000) { cond = both(cond, .bool(!inv(0x1000))) }  // a NEW packet travels in the original direction
        return cond
    }

    mutating func xtTarget(_ t: inout EvalThread, _ x: Xt, _ handle: UInt64) -> Walker.RuleOutcome? {
        let b = x.info.bytes
        switch x.name {
        case "REJECT":
            t.path.append(chainStep(t, .reject, handle: handle))
            leaves.append(Leaf(region: t.region, kind: .reject, packet: t.pkt, path: t.path, assumptions: t.assumptions, limits: t.allLimits))
            return .stop
        case "LOG", "NFLOG", "TRACE", "TCPMSS", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "CHECKSUM", "AUDIT", "IDLETIMER", "SECMARK", "CONNSECMARK",
            "SET":
            return nil
        case "MARK":
            if x.revision == 2, let mark = le32(b, 0), let mask = le32(b, 4) {
                // xt_mark: mark = (mark & ~mask) ^ value; the bits under `mask` become known.
                t.pkt.markBits = (t.pkt.markBits & ~mask) ^ mark
                t.pkt.markKnown |= mask
            } else {
                t.pkt.mark = nil
            }
            return nil
        case "CONNMARK":
            t.pkt.mark = nil
            t.pkt.ctMark = nil
            return nil
        case "CT", "NOTRACK":
            if x.name == "NOTRACK" || (le16(b, 0) ?? 0) & 1 != 0 {
                applyNotrack(&t, handle: handle)
            }
            return nil
        case "DNAT", "REDIRECT":
            let fam = t.pkt.family
            var flags: UInt32 = 0, addr: [UInt8]?, port: UInt16?
            if fam == .ipv4 && x.revision == 0 {
                guard let f = le32(b, 4), b.count >= 20 else { leafUndecidable(t, "xt target \(x.name) (short info)"); return .stop }
                flags = f
                if flags & 1 != 0 { addr = Array(b[8..<12]) }
                if flags & 2 != 0 { port = be16At(b, 16) }
            } else {
                guard let f = le32(b, 0), b.count >= 40 else { leafUndecidable(t, "xt target \(x.name) (short info)"); return .stop }
                flags = f
                let n = fam == .ipv4 ? 4 : 16
                if flags & 1 != 0 { addr = Array(b[4..<(4 + n)]) }
                if flags & 2 != 0 { port = be16At(b, 36) }
            }
            if x.name == "REDIRECT" {
                guard let a = redirectAddress(t) else { leafUndecidable(t, "redirect without an address on \(t.pkt.arrivalName)"); return .stop }
                return applyDNAT(&t, addr: a, port: port, kind: "redirect", handle: handle)
            }
            return applyDNAT(&t, addr: addr, port: port, kind: "dnat", handle: handle)
        case "MASQUERADE":
            return masquerade(&t, kind: "masquerade", handle: handle)
        case "SNAT":
            let fam = t.pkt.family
            let n = fam == .ipv4 ? 4 : 16
            if fam == .ipv4 && x.revision == 0 {
                // nf_nat_ipv4_multi_range_compat: rangesize, then flags, min_ip, max_ip, ports.
                guard let f = le32(b, 4), b.count >= 16 else { leafUndecidable(t, "xt target SNAT (short info)"); return .stop }
                let mapsAddress = f & 1 != 0
                return applySNAT(
                    &t, low: mapsAddress ? Array(b[8..<12]) : nil, high: mapsAddress ? Array(b[12..<16]) : nil, unknown: false, handle: handle)
            }
            // nf_nat_range(2): flags, min_addr, max_addr (16 bytes each), ports.
            guard let f = le32(b, 0), b.count >= 36 else { leafUndecidable(t, "xt target SNAT (short info)"); return .stop }
            let mapsAddress = f & 1 != 0
            return applySNAT(
                &t, low: mapsAddress ? Array(b[4..<(4 + n)]) : nil, high: mapsAddress ? Array(b[20..<(20 + n)]) : nil, unknown: false,
                handle: handle)
        default:
            t.path.append(chainStep(t, .note("xt target \(x.name)"), handle: handle))
            leafUndecidable(t, "xt target \(x.name)")
            return .stop
        }
    }
}
