import HostModel

/// Source NAT on the way into another namespace of the host: kube-proxy masquerades a NodePort connection it marked
/// in prerouting, so the pod's own rules see the node's address, not the client's. The host's postrouting NAT chains
/// are walked for each forwarded branch whose receiving namespace has rules that read the source address; elsewhere
/// the source cannot change the outcome (socket lookup ignores it) and the walk is skipped.
extension Evaluator {
    /// The forwarded branch `l` after the host's postrouting NAT chains: one branch per outcome, each with
    /// `packet.sourceNat` set where a masquerade or snat rewrote the source, and the NAT rule in its path.
    func throughPostroutingNat(_ l: Leaf) -> [Leaf] {
        let fam = l.packet.family
        let stages: [Stage] = rs.bases.filter { b in
            guard b.hook == .postrouting, b.isNat else { return false }
            switch rs.tables[b.table].family {
            case .inet: return true
            case .ip: return fam == .ipv4
            case .ip6: return fam == .ipv6
            default: return false
            }
        }.map { .chain($0) }
        if stages.isEmpty || l.packet.notrack { return [l] }
        let symbolic = l.region != nil
        var walker = Walker(
            rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: stages, symbolic: symbolic, cache: symbolic ? SymbolicCache() : nil)
        var start = initialThread(l.packet, region: l.region)
        start.assumptions = l.assumptions
        start.limits = l.limits
        return walker.run(start).map { nl in
            var out = nl
            out.path = l.path + nl.path
            return out
        }
    }

    /// Whether any rule of this namespace may read a packet's source address (payload loads of the source, conntrack
    /// addresses, `fib saddr`, the socket expression, xt matches other than those known not to, anything unknown).
    /// Errs on the side of yes.
    static func readsSource(_ fw: Firewall) -> Bool {
        for t in fw.tables {
            for c in t.chains {
                for r in c.rules where r.expressions.contains(where: { readsSource($0, family: t.family) }) { return true }
            }
        }
        return false
    }

    static let sourceFreeMatches: Set<String> = [
        "tcp", "udp", "multiport", "comment", "mark", "state", "icmp", "icmp6", "limit", "length", "connmark", "statistic", "pkttype"
    ]

    static func readsSource(_ e: Expression, family: TableFamily) -> Bool {
        switch e {
        case .payload(let p) where p.dreg != nil && p.base == .network:
            let lo = p.offset, hi = p.offset + p.length
            switch family {
            case .ip: return lo < 16 && hi > 12
            case .ip6: return lo < 24 && hi > 8
            default:
                // IPv4 (12..<16) or IPv6 (8..<24) source; a load of exactly the IPv4 destination is not one.
                return lo < 24 && hi > 8 && !(lo == 16 && p.length == 4)
            }
        case .ct(let c) where c.dreg != nil: return [8, 9, 19, 20, 21, 22].contains(c.key)
        case .fib(let f): return f.flags & 1 != 0
        case .socket, .unknown: return true
        case .match(let x): return !sourceFreeMatches.contains(x.name)
        default: return false
        }
    }
}
