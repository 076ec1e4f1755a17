import HostModel

/// The firewall prepared once per snapshot: chains by name, sets compiled, base chains per hook in order.
struct CompiledRuleset: Sendable {
    struct TableInfo: Sendable {
        var family: TableFamily
        var name: String
        var chains: [Chain]
        var chainIndex: [String: Int]
        var sets: [String: CompiledSet]
        /// Per chain, per rule: necessary conditions checked before running the rule (a fast path only).
        var guards: [[RuleGuard]]
        /// Per chain, per rule: which question fields running the rule may observe (`RuleTouches`).
        var touches: [[UInt8]]
        /// Per chain, per rule: the destination ports its guard allows, `lo << 16 | hi` (0...65535 when unconstrained).
        /// Plain integers, so a walk steps over the rules of other ports without touching their guards.
        var portBounds: [[UInt32]]
        /// Per chain, per rule: the one IPv4 destination its guard requires (`RuleGuard.destinationKey`), or 0.
        var destinationKeys: [[UInt64]]
    }

    struct BaseRef: Sendable {
        var table: Int
        var chain: Int
        var hook: Hook
        var priority: Int32
        /// Position in the hook's ordering (nat chains run inside the NAT core at its fixed priority).
        var effectivePriority: Int32
        var isNat: Bool
        var devices: [String]
        var policy: ChainPolicy
    }

    var tables: [TableInfo]
    /// The rules of the input path (input base chains, and regular chains of tables that have one) as typed matches.
    var inputRules: [RuleMatch]
    var bases: [BaseRef]
    /// Whether any DNAT/redirect exists at all (exposure then also tries the external ports and addresses below).
    var hasNat: Bool
    /// Per family, every destination port a rule of a translating table of that family compares with: tried on each
    /// local address (an `ip` table's DNAT never sees IPv6, so its ports are not IPv6 questions).
    var natPorts: [IPFamily: [L4Proto: Set<UInt16>]]
    /// Other destination addresses those rules compare with, each with the ports compared in the same rule (a
    /// kube-proxy ClusterIP with its service port), or every port in `natPorts` when its rule names none. Pairs, not
    /// a cross product: 2,000 services would otherwise be 4 million questions. Ports are per protocol where the rule
    /// names one (`-p tcp`, `meta l4proto tcp`), else under both.
    var natAddresses: [IPFamily: [[UInt8]: [L4Proto: Set<UInt16>]]]
    var firewallStatus: Firewall.Status
    var legacyPresent: Bool
    /// The addresses of each xt `recent` list, per family; nil when the snapshot did not read them.
    var recent: [String: [IPFamily: AddressSet]]?

    /// The addresses of each xt `recent` list as a set per family.
    static func recentSets(_ lists: [RecentList]) -> [String: [IPFamily: AddressSet]] {
        var out: [String: [IPFamily: AddressSet]] = [:]
        for l in lists {
            var byFamily: [IPFamily: [ClosedRange<UInt128>]] = [:]
            for a in l.addresses {
                guard let ip = IPAddress(a) else { continue }
                let v = addressValue(ip.bytes)
                byFamily[ip.family, default: []].append(v...v)
            }
            out[l.name] = Dictionary(uniqueKeysWithValues: IPFamily.allCases.map { ($0, AddressSet(family: $0, ranges: byFamily[$0] ?? [])) })
        }
        return out
    }

    /// The base chains of table `t` (at `index`) on the hooks a new connection meets; a dormant table has none. NAT
    /// chains run inside the NAT core at its fixed priority.
    static func baseRefs(_ t: Table, index ti: Int) -> [BaseRef] {
        var out: [BaseRef] = []
        for (ci, c) in t.chains.enumerated() {
            guard !t.dormant, let b = c.base else { continue }
            guard [.ingress, .prerouting, .input, .forward, .output, .postrouting].contains(b.hook) else { continue }
            let isNat = b.type == "nat"
            var eff = b.priority
            if isNat {
                switch b.hook {
                case .prerouting, .output: eff = -100
                case .input, .postrouting: eff = 100
                default: break
                }
            }
            out.append(
                BaseRef(
                    table: ti, chain: ci, hook: b.hook, priority: b.priority, effectivePriority: eff,
                    isNat: isNat, devices: b.devices, policy: b.policy))
        }
        return out
    }

    init(_ fw: Firewall) {
        firewallStatus = fw.status
        legacyPresent = !fw.legacyTables.isEmpty
        recent = fw.recentLists.map(Self.recentSets)
        var ts: [TableInfo] = []
        var bs: [BaseRef] = []
        var hasNat = false
        var ports: [IPFamily: [L4Proto: Set<UInt16>]] = [.ipv4: [:], .ipv6: [:]]
        var pairs: [IPFamily: [[UInt8]: [L4Proto: Set<UInt16>]]] = [.ipv4: [:], .ipv6: [:]]
        var addressOnly: [IPFamily: Set<[UInt8]>] = [.ipv4: [], .ipv6: []]
        var matches: [RuleMatch] = []
        for (ti, t) in fw.tables.enumerated() {
            var dynamicSets = Set<String>()
            for c in t.chains {
                for r in c.rules {
                    for e in r.expressions {
                        if case .dynset(let d) = e { dynamicSets.insert(d.set) }
                    }
                }
            }
            var sets: [String: CompiledSet] = [:]
            for s in t.sets { sets[s.name] = CompiledSet(s, dynamic: dynamicSets.contains(s.name)) }
            var idx: [String: Int] = [:]
            for (ci, c) in t.chains.enumerated() { idx[c.name] = ci }
            let guards = Self.decodeRules(t, readable: fw.status == .ok, matches: &matches)
            let touches = t.chains.map { c in c.rules.map(RuleTouches.of) }
            let bounds = guards.map { g in g.map(\.portBounds) }
            ts.append(
                TableInfo(
                    family: t.family, name: t.name, chains: t.chains, chainIndex: idx, sets: sets, guards: guards,
                    touches: touches, portBounds: bounds, destinationKeys: guards.map { g in g.map(\.destinationKey) }))
            // NAT constants: candidate external ports and addresses for exposure. A table that translates destinations
            // is read whole: the port often sits in the rule that jumps to the DNAT (kube-proxy's KUBE-NODEPORTS).
            let isDnat: (Rule) -> Bool = { r in
                r.expressions.contains(where: {
                    if case .nat(let n) = $0 { return n.type == 1 }; if case .redir = $0 { return true };
                    if case .target(let x) = $0 { return x.name == "DNAT" || x.name == "REDIRECT" }; return false
                })
            }
            let translates = t.chains.contains { $0.rules.contains(where: isDnat) }
            if translates {
                hasNat = true
                for c in t.chains {
                    for r in c.rules {
                        var rulePorts = Set<UInt16>()
                        var ruleAddrs: [IPFamily: Set<[UInt8]>] = [:]
                        collectNatConstants(r, table: t, ports: &rulePorts, addrs: &ruleAddrs)
                        let protos = ruleProtocols(r)
                        for fam in IPFamily.allCases where t.family.sees(fam) {
                            for p in protos { ports[fam, default: [:]][p, default: []].formUnion(rulePorts) }
                        }
                        for (fam, set) in ruleAddrs where t.family.sees(fam) {
                            if rulePorts.isEmpty { addressOnly[fam, default: []].formUnion(set); continue }
                            for a in set { for p in protos { pairs[fam, default: [:]][a, default: [:]][p, default: []].formUnion(rulePorts) } }
                        }
                    }
                }
            }
            bs += Self.baseRefs(t, index: ti)
        }
        // Signed priority across tables; NAT chains sit at the NAT core's priority, ordered among themselves by their own.
        bs.sort { a, b in
            if a.effectivePriority != b.effectivePriority { return a.effectivePriority < b.effectivePriority }
            if a.isNat != b.isNat { return a.isNat }
            if a.priority != b.priority { return a.priority < b.priority }
            return (a.table, a.chain) < (b.table, b.chain)
        }
        tables = ts
        bases = bs
        inputRules = matches
        self.hasNat = hasNat
        natPorts = ports
        for (fam, set) in addressOnly { for a in set { pairs[fam, default: [:]][a] = ports[fam] ?? [:] } }
        natAddresses = pairs
    }
}

extension CompiledRuleset {
    /// One decoding pass per rule of `t`: its guard, and for the input path (input base chains, and regular chains of
    /// a table that has one) its match, appended to `matches` (`Evaluator.rules`).
    static func decodeRules(_ t: Table, readable: Bool, matches: inout [RuleMatch]) -> [[RuleGuard]] {
        let inputPath = readable && !t.dormant && [.inet, .ip, .ip6].contains(t.family) && t.chains.contains { $0.base?.hook == .input }
        var guards: [[RuleGuard]] = []
        var decoder = RuleDecoder(table: t)
        for c in t.chains {
            let describes = inputPath && (c.base == nil || c.base?.hook == .input)
            var chainGuards: [RuleGuard] = []
            chainGuards.reserveCapacity(c.rules.count)
            for (i, r) in c.rules.enumerated() {
                let (g, m) = decoder.decode(r, chain: c, index: i, describes: describes)
                chainGuards.append(g)
                if let m { matches.append(m) }
            }
            guards.append(chainGuards)
        }
        return guards
    }
}

extension TableFamily {
    /// Whether packets of `fam` traverse this family's chains (netdev and bridge tables do not translate addresses).
    func sees(_ fam: IPFamily) -> Bool {
        switch self {
        case .inet: true
        case .ip: fam == .ipv4
        case .ip6: fam == .ipv6
        default: false
        }
    }
}

/// The transport protocols a rule can match: the one it compares (`meta l4proto`, the IPv4 protocol or IPv6 next
/// header field, an xt `tcp`/`udp` match), or both when it compares none.
private func ruleProtocols(_ r: Rule) -> [L4Proto] {
    var protoRegs = Set<UInt32>()
    for e in r.expressions {
        switch e {
        case .meta(let m): if let d = m.dreg { if m.key == 16 { protoRegs.insert(d) } else { protoRegs.remove(d) } }
        case .payload(let p):
            if let d = p.dreg {
                if p.base == .network && p.length == 1 && (p.offset == 9 || p.offset == 6) { protoRegs.insert(d) } else { protoRegs.remove(d) }
            }
        case .cmp(let c) where c.op == .eq && protoRegs.contains(c.sreg) && c.data.bytes.count == 1:
            if c.data.bytes[0] == 6 { return [.tcp] }
            if c.data.bytes[0] == 17 { return [.udp] }
        case .match(let x):
            if x.name == "tcp" { return [.tcp] }
            if x.name == "udp" { return [.udp] }
        default: break
        }
    }
    return L4Proto.allCases
}

/// Ports and addresses a NAT rule matches on (external side): payload compares and set keys on transport+2 and daddr.
private func collectNatConstants(_ r: Rule, table: Table, ports: inout Set<UInt16>, addrs: inout [IPFamily: Set<[UInt8]>]) {
    var regSource: [UInt32: (PayloadBase, UInt32, UInt32)] = [:]
    for e in r.expressions {
        switch e {
        case .payload(let p):
            if let d = p.dreg { regSource[d] = (p.base, p.offset, p.length) }
        case .cmp(let c):
            guard c.op == .eq, let src = regSource[c.sreg] else { continue }
            noteConstant(src, c.data.bytes, &ports, &addrs)
        case .range(let rg):
            guard let src = regSource[rg.sreg], src.0 == .transport, src.1 == 2, rg.from.bytes.count == 2, rg.to.bytes.count == 2 else { continue }
            let a = UInt16(rg.from.bytes[0]) << 8 | UInt16(rg.from.bytes[1]), b = UInt16(rg.to.bytes[0]) << 8 | UInt16(rg.to.bytes[1])
            if a <= b, Int(b) - Int(a) < 4096 { for p in a...b { ports.insert(p) } } else { ports.insert(a); ports.insert(b) }
        case .match(let x):
            // iptables-nft DNAT rules written with `-m tcp/udp --dport` or `-m multiport --dports` (host-order structs).
            let b = x.info.bytes
            func le16(_ o: Int) -> UInt16 { o + 2 <= b.count ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : 0 }
            if (x.name == "tcp" || x.name == "udp") && b.count >= 8 {
                let lo = le16(4), hi = le16(6)
                if lo <= hi, Int(hi) - Int(lo) < 4096 { for p in lo...hi { ports.insert(p) } } else { ports.insert(lo); ports.insert(hi) }
            } else if x.name == "multiport" && b.count >= 2 && b[0] == 1 {
                for i in 0..<min(Int(b[1]), 15) { ports.insert(le16(2 + 2 * i)) }
            }
        case .lookup(let l):
            guard let src = regSource[l.sreg], let s = table.set(named: l.set) else { continue }
            for el in s.elements where !el.isIntervalEnd {
                noteConstant(src, el.key.bytes, &ports, &addrs)
            }
        default:
            break
        }
    }
}

private func noteConstant(_ src: (PayloadBase, UInt32, UInt32), _ data: [UInt8], _ ports: inout Set<UInt16>, _ addrs: inout [IPFamily: Set<[UInt8]>])
{
    if src.0 == .transport, src.1 == 2, data.count >= 2 {
        ports.insert(UInt16(data[0]) << 8 | UInt16(data[1]))
    } else if src.0 == .network, src.1 == 16, src.2 == 4, data.count >= 4 {
        addrs[.ipv4, default: []].insert(Array(data[0..<4]))
    } else if src.0 == .network, src.1 == 24, src.2 == 16, data.count >= 16 {
        addrs[.ipv6, default: []].insert(Array(data[0..<16]))
    }
}

/// Which fields of an exposure question running a rule may observe, decided from its expressions alone and on the
/// safe side: anything not known to ignore the destination address or the input interface counts as reading both.
/// Exposure reuses one walk for other local destinations or devices when no rule it ran (beyond its guard) read them.
enum RuleTouches {
    static let destination: UInt8 = 1
    static let interface: UInt8 = 2
    static let both: UInt8 = 3

    /// iptables-nft matches by what they read: ports, marks, conntrack state and randomness are the same for every
    /// device and destination of a question; `addrtype` reads the destination (and the input device with
    /// `--limit-iface-in`); anything else is assumed to read both.
    static func xtMatchTouches(_ x: Xt) -> UInt8 {
        switch x.name {
        case "tcp", "udp", "multiport", "comment", "statistic", "mark", "conntrack", "state", "icmp", "icmp6", "connmark", "length":
            return 0
        case "addrtype":
            let b = x.info.bytes
            let flags = x.revision >= 1 && b.count >= 8 ? UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24 : 0
            return flags & 0x4 != 0 ? both : destination  // XT_ADDRTYPE_LIMIT_IFACE_IN
        default:
            return both
        }
    }

    static func of(_ r: Rule) -> UInt8 {
        var t: UInt8 = 0
        for e in r.expressions {
            switch e {
            case .payload(let p):
                // A write can change the destination or port; link and inner headers depend on the device.
                guard p.dreg != nil, p.sreg == nil else { t |= both; continue }
                switch p.base {
                case .transport: break
                case .network:
                    // The destination address of either family (an inet table sees both): IPv4 16..<20, IPv6 24..<40.
                    let lo = Int(p.offset), hi = lo + Int(p.length)
                    if (lo < 20 && hi > 16) || (lo < 40 && hi > 24) { t |= destination }
                default: t |= both
                }
            case .meta(let m):
                guard m.sreg == nil else { continue }
                switch m.key {
                // protocol, priority, mark, oif, oifname, oiftype, nfproto, l4proto, oifgroup, oifkind
                case 1, 2, 3, 5, 7, 9, 15, 16, 22, 27: break
                // iif, iifname, iiftype, iifgroup, iifkind
                case 4, 6, 8, 21, 26: t |= interface
                default: t |= both
                }
            case .ct(let c):
                guard c.sreg == nil else { continue }
                // state, direction, status, mark are the same for every new connection of a question.
                if c.key > 3 { t |= both }
            case .cmp, .range, .bitwise, .byteorder, .immediate, .lookup, .counter, .log, .limit, .quota, .connlimit,
                .numgen, .dynset, .objref, .reject, .notrack, .masq:
                break
            case .nat(let n):
                // DNAT rewrites the destination (SNAT only the source): the walk stands only for its own destination.
                if n.type == 1 { t |= destination }
            case .redir:
                t |= destination
            case .match(let x):
                t |= xtMatchTouches(x)
            case .target(let x):
                switch x.name {
                case "DNAT", "REDIRECT": t |= destination
                case "MARK", "CONNMARK", "SNAT", "MASQUERADE", "LOG", "NFLOG", "REJECT", "CT", "NOTRACK", "TCPMSS", "CLASSIFY",
                    "DSCP", "TOS", "TTL", "HL", "CHECKSUM", "AUDIT":
                    break
                default: t |= both
                }
            default:
                t |= both
            }
        }
        return t
    }
}
