import HostModel

/// Necessary conditions of a rule on fields that are fixed for the packet at that point (l4proto, nfproto,
/// destination port, input interface): taken by `RuleDecoder` from the rule's load+compare pairs, so a packet failing one can skip
/// the rule without running its expressions. The rule itself still decides everything else.
struct RuleGuard: Sendable {
    /// `daddr4` is the IPv4 destination, a guard only where the packet is known to be IPv4 (an `ip` table, or after
    /// `meta nfproto ipv4`): kube-proxy's KUBE-SERVICES compares thousands of ClusterIPs on one port.
    enum Field: UInt8, Sendable { case l4proto, nfproto, dport, iif, iifname, daddr4 }

    /// One comparison on a field of at most 8 bytes, as top-aligned big-endian integers (plain data: no refcounting).
    struct Test: Sendable {
        var field: Field
        /// 0-5 = CmpOp eq…gte, 6 = inside [a, b], 7 = outside [a, b].
        var op: UInt8
        var len: UInt8
        var a: UInt64
        var b: UInt64
    }

    /// A comparison on the interface name (16 bytes).
    struct NameTest: Sendable {
        var op: CmpOp
        var data: [UInt8]
    }

    var tests: [Test] = []
    var names: [NameTest] = []
    /// Whether a test reads the input interface (exposure records those outcomes to reuse a walk on other devices).
    var readsInterface: Bool { !names.isEmpty || tests.contains { $0.field == .iif } }
    /// Whether a test reads the destination address (a walk is then not reused for another destination).
    var readsDestination: Bool { tests.contains { $0.field == .daddr4 } }

    /// The destination ports the equality and inside-range tests allow, as `lo << 16 | hi`; a packet outside fails
    /// the guard whatever else it carries.
    var portBounds: UInt32 {
        var lo: UInt32 = 0, hi: UInt32 = 0xffff
        for t in tests where t.field == .dport && t.len == 2 {
            switch t.op {
            case 0:
                let v = UInt32(t.a >> 48)
                lo = max(lo, v); hi = min(hi, v)
            case 6:
                lo = max(lo, UInt32(t.a >> 48)); hi = min(hi, UInt32(t.b >> 48))
            default: break
            }
        }
        // Contradictory tests: nothing matches; keep an empty range that no port falls into.
        if lo > hi { return 0xffff_0000 }
        return lo << 16 | hi
    }

    /// `1 << 32 | address` when a test requires one whole IPv4 destination and none reads the input interface
    /// (whose outcome exposure records), else 0: a packet to another address fails the guard, so a walk steps over
    /// the rule by this integer alone (kube-proxy's KUBE-SERVICES: one rule per ClusterIP, all on port 80).
    var destinationKey: UInt64 {
        if readsInterface { return 0 }
        for t in tests where t.field == .daddr4 && t.op == 0 && t.len == 4 { return 1 << 32 | t.a >> 32 }
        return 0
    }

    var isEmpty: Bool { tests.isEmpty && names.isEmpty }

    static func pack(_ b: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for (i, x) in b.prefix(8).enumerated() { v |= UInt64(x) << (56 - 8 * UInt64(i)) }
        return v
    }

    static func opCode(_ op: CmpOp) -> UInt8 {
        switch op {
        case .eq: 0
        case .neq: 1
        case .lt: 2
        case .lte: 3
        case .gt: 4
        case .gte: 5
        }
    }
}

extension Walker {
    /// The packet's destination as `RuleGuard.destinationKey` spells it (0 for IPv6, which no such key matches).
    @inline(__always) static func destinationKey(_ pkt: PacketState) -> UInt64 {
        let d = pkt.daddr
        guard d.count == 4 else { return 0 }
        return 1 << 32 | UInt64(d[0]) << 24 | UInt64(d[1]) << 16 | UInt64(d[2]) << 8 | UInt64(d[3])
    }
}
