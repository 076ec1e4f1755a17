import HostModel

/// The matches and statements of `RuleDecoder`: compares on what a register holds, set lookups, verdicts, and the
/// nft text of each.
extension RuleDecoder {
    mutating func compare(_ cmp: Cmp) {
        let data = cmp.data.bytes
        switch regs[cmp.sreg] {
        case .l4proto?, .ipProto?:
            if cmp.op == .eq, data.count == 1, let p = L4Proto.allCases.first(where: { $0.number == data[0] }) {
                f.proto = p
                let key =
                    regs[cmp.sreg].map {
                        if case .ipProto = $0 { return t.family == .ip6 ? "ip6 nexthdr" : "ip protocol" }; return "meta l4proto"
                    } ?? "meta l4proto"
                f.printed.add(.proto("\(key) \(p.rawValue)"))
            } else {
                f.opaque.append("l4proto \(cmp.op.rawValue)"); f.printed.cannotPrint("l4proto \(cmp.op.rawValue)")
            }
        case .nfproto?:
            if cmp.op == .eq, data.count == 1, data[0] == 2 || data[0] == 10 {
                f.nfproto = data[0] == 2 ? .ipv4 : .ipv6
                f.printed.add(.nfproto("meta nfproto \(data[0] == 2 ? "ipv4" : "ipv6")"))
            } else {
                f.opaque.append("nfproto"); f.printed.cannotPrint("nfproto")
            }
        case .dport?: comparePort(cmp, data)
        case .iifname?: compareInterfaceName(cmp, data)
        case .iif?: compareInterfaceIndex(cmp, data)
        case .saddr?: compareSource(cmp, data)
        case .ctState?: compareCtState(cmp, data)
        case let other?:
            f.opaque.append(other.text); f.printed.cannotPrint(other.text)
        case nil:
            f.opaque.append("cmp"); f.printed.cannotPrint("cmp")
        }
    }

    mutating func range(_ r: RangeExpr) {
        if case .dport? = regs[r.sreg], !r.inverted, r.from.bytes.count == 2, r.to.bytes.count == 2 {
            let a = UInt16(r.from.bytes[0]) << 8 | UInt16(r.from.bytes[1])
            let b = UInt16(r.to.bytes[0]) << 8 | UInt16(r.to.bytes[1])
            f.dports = [PortRange(first: a, last: b)]
            f.printed.add(.dport(RuleText.ports([PortRange(first: a, last: b)])))
        } else {
            f.opaque.append("range"); f.printed.cannotPrint("range")
        }
    }

    /// `dport N`, `dport != N`, and `dport A-B` (a `gte` then an `lte`).
    mutating func comparePort(_ cmp: Cmp, _ data: [UInt8]) {
        if data.count == 2 && (cmp.op == .gte || (cmp.op == .lte && lowerBound?.reg == cmp.sreg)) {
            let port = UInt16(data[0]) << 8 | UInt16(data[1])
            if cmp.op == .gte { lowerBound = (cmp.sreg, port); return }
            let low = lowerBound?.port ?? 0
            lowerBound = nil
            f.dports = [PortRange(first: low, last: port)]
            f.printed.add(.dport(RuleText.ports([PortRange(first: low, last: port)])))
            return
        }
        if cmp.op == .eq || cmp.op == .neq, data.count == 2 {
            let port = UInt16(data[0]) << 8 | UInt16(data[1])
            if cmp.op == .eq { f.dports = [PortRange(first: port, last: port)] } else { f.opaque.append("dport neq") }
            f.printed.add(.dport((cmp.op == .neq ? "!= " : "") + "\(port)"))
        } else {
            f.opaque.append("dport \(cmp.op.rawValue)"); f.printed.cannotPrint("dport \(cmp.op.rawValue)")
        }
    }

    mutating func compareInterfaceName(_ cmp: Cmp, _ data: [UInt8]) {
        let end = data.firstIndex(of: 0) ?? data.count
        let name = String(decoding: data[0..<end], as: UTF8.self) + (data.contains(0) ? "" : "*")
        if cmp.op == .eq || cmp.op == .neq, !name.contains("\"") {
            f.interface = InterfaceMatch(name: name, negated: cmp.op == .neq)
            f.printed.add(.plain("iifname \(cmp.op == .neq ? "!= " : "")\"\(name)\""))
        } else {
            f.opaque.append("iifname"); f.printed.cannotPrint("iifname \(cmp.op.rawValue)")
        }
    }

    mutating func compareInterfaceIndex(_ cmp: Cmp, _ data: [UInt8]) {
        // Index 1 is the loopback device in every network namespace; other indexes name interfaces this
        // decoder cannot name.
        f.opaque.append("iif")
        if cmp.op == .eq, data == [1, 0, 0, 0] {
            f.loopbackOnly = true
            f.printed.add(.plain("iif \"lo\""))
        } else {
            f.printed.cannotPrint("iif")
        }
    }

    mutating func compareSource(_ cmp: Cmp, _ data: [UInt8]) {
        let full = lengths[cmp.sreg] ?? data.count
        if cmp.op == .eq, data.count <= full, let a = IPAddress.fromBytes(data + [UInt8](repeating: 0, count: full - data.count)) {
            let prefix = CIDR(address: a, prefixLength: min(masks[cmp.sreg] ?? data.count * 8, data.count * 8))
            f.sources = [prefix]
            if let key = RuleDecoder.addressKey(t.family, f.nfproto, full), !oddMask.contains(cmp.sreg) {
                f.printed.add(.plain("\(key) saddr \(RuleMatch.text(prefix))"))
            } else {
                f.printed.cannotPrint("saddr load")
            }
        } else {
            f.opaque.append("saddr \(cmp.op.rawValue)"); f.printed.cannotPrint("saddr \(cmp.op.rawValue)")
        }
    }

    mutating func compareCtState(_ cmp: Cmp, _ data: [UInt8]) {
        f.opaque.append("ct state")
        if cmp.op == .neq, data.allSatisfy({ $0 == 0 }), let m = ctMasks[cmp.sreg], let names = RuleText.ctStates(m) {
            f.printed.add(.plain("ct state \(names)"))
            if m & 8 == 0 && m & 64 == 0 { f.excludesNew = true }
        } else {
            f.printed.cannotPrint("ct state \(cmp.op.rawValue)")
        }
    }

    mutating func lookup(_ l: Lookup) {
        let set = t.set(named: l.set)
        if case .dport? = regs[l.sreg], !l.inverted, let set, !set.isDynamic, let ports = RuleDecoder.portRanges(set) {
            f.dports = ports
        } else if case .saddr? = regs[l.sreg], !l.inverted, let set, set.isAnonymous, !set.isInterval {
            f.sources = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes) }.map {
                CIDR(address: $0, prefixLength: $0.family == .ipv4 ? 32 : 128)
            }
        } else {
            f.opaque.append("@\(l.set)")
        }
        printLookup(l, set)
    }

    /// Verdicts and statements.
    mutating func statement(_ e: Expression) {
        switch e {
        case .immediate(let im) where im.dreg == 0:
            f.verdict = RuleVerdict(im.verdict)
            switch im.verdict {
            case .accept?, .drop?, .return?, .continue?, .jump?, .goto?: f.printed.setVerdict(im.verdict?.description ?? "")
            default: f.printed.cannotPrint("verdict \(im.verdict?.description ?? "?")")
            }
        case .immediate:
            break  // a data register: `track` follows it
        case .lookup(let l) where l.dreg == 0:
            // A verdict map: opaque as a match, but the rule has a verdict, and it may accept.
            f.verdict = .map(l.set)
            f.opaque.append(e.name)
            f.printed.cannotPrint(e.name)
        case .reject(let r):
            f.verdict = .reject
            if let text = RuleText.reject(r, family: t.family) {
                f.printed.setVerdict(text)
            } else {
                f.printed.cannotPrint("reject type \(r.type) code \(r.code.map(String.init) ?? "-")")
                f.printed.setVerdict("reject")
            }
        case .counter:
            f.printed.add(.plain("counter"))
        case .log(let l):
            if let text = RuleText.log(l) { f.printed.add(.plain(text)) } else { f.printed.cannotPrint("log") }
        case .limit(let l):
            // Printable, but still opaque: a rule behind a limit is never called broad, shadowing or stale.
            f.opaque.append(e.name)
            f.printed.add(.plain(l.nftText))
        case .quota(let q):
            f.opaque.append(e.name)
            f.printed.add(.plain(q.nftText))
        default:
            f.opaque.append(e.name)
            f.printed.cannotPrint(e.name)
        }
    }

    /// nft text of a set lookup on a destination port or source address: `@name` for a named set (it stays live), the
    /// elements for a small anonymous one.
    mutating func printLookup(_ l: Lookup, _ set: NFTSet?) {
        let reg = regs[l.sreg], length = lengths[l.sreg]
        let neg = l.inverted ? "!= " : ""
        // The key must be exactly the loaded field (a concatenation spans several registers).
        let width: UInt32 = {
            if case .dport? = reg { return 2 }; return UInt32(length ?? 0)
        }()
        guard let set, masks[l.sreg] == nil, set.concatLengths.isEmpty, set.keyLength == width else {
            f.printed.cannotPrint("lookup @\(l.set)"); return
        }
        var rhs: String?
        if !set.isAnonymous {
            rhs = RuleText.isPlainName(set.name) ? "@\(set.name)" : nil
        } else if case .dport? = reg, let ports = RuleDecoder.portRanges(set) {
            rhs = "{ " + ports.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)-\($0.last)" }.joined(separator: ", ") + " }"
        } else if case .saddr? = reg, !set.isInterval {
            let addrs = set.elements.compactMap { IPAddress.fromBytes($0.key.bytes)?.description }
            rhs = addrs.count == set.elements.count && !addrs.isEmpty ? "{ \(addrs.joined(separator: ", ")) }" : nil
        }
        switch (reg, rhs) {
        case (.dport?, let r?): f.printed.add(.dport(neg + r))
        case (.saddr?, let r?):
            if let key = RuleDecoder.addressKey(t.family, f.nfproto, length ?? 0) {
                f.printed.add(.plain("\(key) saddr \(neg)\(r)"))
            } else {
                f.printed.cannotPrint("saddr lookup")
            }
        default: f.printed.cannotPrint("lookup @\(l.set)")
        }
    }

    /// `ip`/`ip6` for a source address load, or nil when nft would add a family check the rule does not have.
    static func addressKey(_ family: TableFamily, _ nfproto: IPFamily?, _ length: Int) -> String? {
        switch (family, nfproto, length) {
        case (.ip, _, 4): "ip"
        case (.ip6, _, 16): "ip6"
        case (.inet, .ipv4?, 4): "ip"
        case (.inet, .ipv6?, 16): "ip6"
        default: nil
        }
    }

    /// Port ranges of a port set (plain or interval), or nil when the keys are not 2-byte ports.
    static func portRanges(_ set: NFTSet) -> [PortRange]? {
        var out: [PortRange] = []
        let els = set.elements.filter { !$0.isCatchAll }.sorted { $0.key < $1.key }
        guard els.allSatisfy({ $0.key.bytes.count == 2 }) else { return nil }
        func port(_ b: [UInt8]) -> UInt16 { UInt16(b[0]) << 8 | UInt16(b[1]) }
        if set.isInterval {
            var i = 0
            while i < els.count {
                let e = els[i]
                if e.isIntervalEnd { i += 1; continue }
                let start = port(e.key.bytes)
                if let end = e.keyEnd, end.bytes.count == 2 {
                    out.append(PortRange(first: start, last: port(end.bytes)))
                } else if i + 1 < els.count, els[i + 1].isIntervalEnd {
                    let stop = port(els[i + 1].key.bytes)
                    out.append(PortRange(first: start, last: stop == 0 ? start : stop - 1))
                } else {
                    out.append(PortRange(first: start, last: 65535))
                }
                i += 1
            }
        } else {
            out = els.map { PortRange(first: port($0.key.bytes), last: port($0.key.bytes)) }
        }
        return out
    }
}

extension IPAddress {
    /// An address from 4 or 16 network-order bytes.
    static func fromBytes(_ b: [UInt8]) -> IPAddress? {
        if b.count == 4 { return .v4(IPv4Address(bytes: b)) }
        if b.count == 16 { return .v6(IPv6Address(bytes: b)) }
        return nil
    }
}
