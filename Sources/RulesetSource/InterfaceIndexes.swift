import HostModel

/// Translates interface indexes in a ruleset read from one network namespace into another's numbering.
///
/// `iif "eth0"` and `oif "eth0"` are compiled to the interface's index, so a ruleset loaded in a private namespace
/// carries that namespace's indexes. The loader creates its dummy interfaces with the host's indexes, so this is
/// normally a no-op; where the kernel would not give an index, the compares are rewritten here by name.
/// Covered: `meta iif|oif` compared with `cmp`, and sets keyed by `iface_index` alone. Not covered: concatenated set
/// keys containing an index, and `fib … oif` results (rare in input rules).
public enum InterfaceIndexes {
    /// `map`: private index → host index.
    public static func remap(_ fw: Firewall, _ map: [UInt32: UInt32]) -> Firewall {
        guard !map.isEmpty else { return fw }
        func translate(_ data: Bytes) -> Bytes? {
            let b = data.bytes
            guard b.count == 4 else { return nil }
            // meta values are host-endian (little-endian on the machines this runs on).
            let v = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            guard let n = map[UInt32(littleEndian: v)] else { return nil }
            let le = n.littleEndian
            return Bytes([UInt8(le & 0xff), UInt8(le >> 8 & 0xff), UInt8(le >> 16 & 0xff), UInt8(le >> 24)])
        }
        var out = fw
        for t in out.tables.indices {
            for c in out.tables[t].chains.indices {
                for r in out.tables[t].chains[c].rules.indices {
                    var ex = out.tables[t].chains[c].rules[r].expressions
                    var indexRegs: Set<UInt32> = []
                    for e in ex.indices {
                        switch ex[e] {
                        case .meta(let m) where m.key == 4 || m.key == 5:
                            if let d = m.dreg { indexRegs.insert(d) }
                        case .meta(let m):
                            if let d = m.dreg { indexRegs.remove(d) }
                        case .cmp(var cmp) where indexRegs.contains(cmp.sreg):
                            if let n = translate(cmp.data) { cmp.data = n; ex[e] = .cmp(cmp) }
                        default: break
                        }
                    }
                    out.tables[t].chains[c].rules[r].expressions = ex
                }
            }
            for s in out.tables[t].sets.indices where out.tables[t].sets[s].keyType == 20 /* TYPE_IFINDEX */ {
                for e in out.tables[t].sets[s].elements.indices {
                    if let n = translate(out.tables[t].sets[s].elements[e].key) { out.tables[t].sets[s].elements[e].key = n }
                }
            }
        }
        return out
    }
}
