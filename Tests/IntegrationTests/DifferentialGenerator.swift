import Foundation
import TestSupport

// The generator half of the differential harness: from a seed, a valid nftables ruleset, a set of listening
// sockets and the probes to send. Everything here is pure and deterministic; DifferentialLab runs it for real.

/// Where a probe comes from, and so the interface it arrives on in the host namespace.
enum ProbeOrigin: String, Sendable, CaseIterable {
    case peerA, peerB, local

    var inputInterface: String {
        switch self {
        case .peerA: DiffTopology.linkA
        case .peerB: DiffTopology.linkB
        case .local: "lo"
        }
    }
}

/// The fixed addressing of the differential topology (documentation ranges only).
enum DiffTopology {
    static let linkA = "pwa0", peerLinkA = "pwa1"
    static let linkB = "pwb0", peerLinkB = "pwb1"

    static let hostA4 = "192.0.2.1", hostB4 = "198.51.100.1"
    static let hostA6 = "2001:db8:a::1", hostB6 = "2001:db8:b::1"
    static let peerA4 = "192.0.2.2", peerB4 = "198.51.100.2"
    static let peerA6 = "2001:db8:a::2", peerB6 = "2001:db8:b::2"

    static let hostV4 = [hostA4, hostB4]
    static let hostV6 = [hostA6, hostB6]

    /// Source addresses each peer owns. `spoofed` ones are routed by the host towards the *other* link, so a
    /// reverse-path check fails for them; they are only used for UDP (a SYN-ACK would go to the wrong peer).
    struct Source: Sendable { var address: String; var spoofed: Bool }

    static func sources(_ origin: ProbeOrigin, v6: Bool) -> [Source] {
        switch (origin, v6) {
        case (.peerA, false):
            [
                Source(address: peerA4, spoofed: false), Source(address: "203.0.113.10", spoofed: false),
                Source(address: "203.0.113.200", spoofed: true)
            ]
        case (.peerA, true):
            [
                Source(address: peerA6, spoofed: false), Source(address: "2001:db8:c::10", spoofed: false),
                Source(address: "2001:db8:d::20", spoofed: true)
            ]
        case (.peerB, false):
            [
                Source(address: peerB4, spoofed: false), Source(address: "203.0.113.130", spoofed: false),
                Source(address: "203.0.113.20", spoofed: true)
            ]
        case (.peerB, true):
            [
                Source(address: peerB6, spoofed: false), Source(address: "2001:db8:d::10", spoofed: false),
                Source(address: "2001:db8:c::20", spoofed: true)
            ]
        case (.local, false):
            [Source(address: hostA4, spoofed: false), Source(address: hostB4, spoofed: false)]
        case (.local, true):
            [Source(address: hostA6, spoofed: false), Source(address: hostB6, spoofed: false)]
        }
    }
}

/// One socket the holder opens in the host namespace.
struct DiffListener: Codable, Sendable, Hashable {
    var id: Int
    var proto: String
    var family: String  // ipv4 | ipv6 (the socket's own family)
    var address: String
    var port: Int
    var v6only: Bool
    var device: String?

    var receivesV4: Bool { family == "ipv4" || (!v6only && address == "::") }
    var receivesV6: Bool { family == "ipv6" }
    var isWildcard: Bool { address == "0.0.0.0" || address == "::" }

    var label: String {
        let host = family == "ipv6" ? "[\(address)]" : address
        return "\(proto) \(host)\(device.map { "%\($0)" } ?? ""):\(port)\(family == "ipv6" && address == "::" ? (v6only ? " v6only" : " dual") : "")"
    }
}

/// One packet to send: a TCP SYN (connect) or a UDP datagram.
struct DiffProbe: Sendable {
    var pid: Int
    var proto: String
    var src: String
    var dst: String
    var dport: Int
    var sport: Int
    var origin: ProbeOrigin

    var traceLine: [String: Any] {
        ["proto": proto, "src": src, "dst": dst, "dport": dport, "sport": sport, "iif": origin.inputInterface]
    }

    var proberLine: [String: Any] { ["pid": pid, "proto": proto, "src": src, "dst": dst, "dport": dport, "sport": sport] }

    var label: String {
        let d = dst.contains(":") ? "[\(dst)]" : dst
        let s = src.contains(":") ? "[\(src)]" : src
        return "#\(pid) \(proto) \(s):\(sport) -> \(d):\(dport) iif \(origin.inputInterface)"
    }
}

enum DiffLayout: String, Sendable, CaseIterable {
    /// One inet table; an ip and an ip6 table; 2-3 tables with competing base chains; no table (maybe a dormant
    /// one); iptables-nft and ip6tables-nft (xt matches and targets) beside an nft inet table.
    case inet, split, competing, none, xtables
}

/// A generated case: the ruleset (without the leading `flush ruleset`), the sockets and the probes.
struct DiffCase: Sendable {
    var seed: UInt64
    var layout: DiffLayout
    var ruleset: String
    var listeners: [DiffListener]
    var probes: [DiffProbe]
    /// Hand-written cases: their name, and the listener id each probe must reach (nil: not delivered).
    var name: String? = nil
    var expected: [Int: Int?] = [:]
    /// Rulesets written by a tool (ufw, firewalld): a shell script run instead of loading `ruleset`, inside the host
    /// namespace and a private mount namespace (`unshare -m --propagation private`).
    var toolScript: String? = nil
    /// iptables-nft-restore / ip6tables-nft-restore input, loaded after `ruleset`.
    var iptables: String? = nil
    var ip6tables: String? = nil
    /// Probes for which `conditional` is the right answer by design (probe id → why).
    var conditionalAllowed: [Int: String] = [:]

    var title: String { name.map { "case \"\($0)\"" } ?? "seed \(seed)" }
}

/// Builds cases. Probe source ports come from `sportBase` upward so that no two probes of nearby seeds share a
/// 4-tuple (conntrack entries of earlier seeds must never make a later probe look established or re-NATed).
struct DiffGenerator {
    static let listenerPorts = [22, 80, 443, 1500, 2222, 5353, 8080]
    static let closedPorts = [23, 1999, 3000, 6000]
    static let natPorts = [8022, 9080, 1800, 5300]
    /// Upper bound on probes per case; each case's source ports start `maxProbes` after the previous one's.
    static let maxProbes = 160

    enum TableFamily: String { case inet, ip, ip6, netdev }

    var rng: SplitMix64
    let seed: UInt64
    var listeners: [DiffListener] = []
    var ports: [Int] = []  // ports rules talk about
    /// NAT external port → (target address or nil for redirect, target port, proto).
    var natMappings: [(ext: Int, proto: String, v6: Bool?)] = []

    init(seed: UInt64) {
        self.seed = seed
        rng = SplitMix64(seed: seed ^ 0x5057_4152_4445_4E21)
    }

    /// The case for `seed`. Its probes' source ports are a function of the seed alone (so a rerun of one seed
    /// sends the same packets), spaced so that consecutive seeds never share a 4-tuple.
    static func make(seed: UInt64) -> DiffCase {
        var g = DiffGenerator(seed: seed)
        return g.build(sportBase: Int(seed % 312) * maxProbes)
    }

    private mutating func build(sportBase: Int) -> DiffCase {
        let layout = DiffLayout.allCases[Int(seed % UInt64(DiffLayout.allCases.count))]
        makeListeners()
        ports = Array(Set(listeners.map(\.port))).sorted() + rng.sample(Self.closedPorts, 1)
        var tables: [String] = []
        switch layout {
        case .inet:
            tables.append(
                table(
                    name: "pw", index: 0, family: .inet, inputPriority: rng.pick([0, -5, 10]), withNat: rng.chance(70),
                    withRaw: rng.chance(50), withPre: rng.chance(50)))
        case .split:
            let nat4 = rng.chance(60)
            tables.append(
                table(
                    name: "pw4", index: 0, family: .ip, inputPriority: rng.pick([0, -10]), withNat: nat4,
                    withRaw: rng.chance(40), withPre: rng.chance(40)))
            tables.append(
                table(
                    name: "pw6", index: 1, family: .ip6, inputPriority: rng.pick([0, 5]), withNat: rng.chance(60),
                    withRaw: rng.chance(40), withPre: rng.chance(40)))
        case .competing:
            let count = rng.range(2...3)
            var prios = rng.sample([-200, -20, -1, 0, 3, 10, 50], count)
            prios.sort()
            let natAt = rng.below(count)
            for i in 0..<count {
                let fam = rng.pick([TableFamily.inet, .inet, .ip, .ip6])
                tables.append(
                    table(
                        name: "pwc\(i)", index: i, family: fam, inputPriority: prios[i], withNat: i == natAt && rng.chance(70),
                        withRaw: rng.chance(30), withPre: rng.chance(30)))
            }
        case .none:
            break
        case .xtables:
            // iptables-nft's INPUT sits at priority 0 and its nat PREROUTING at -100: the nft table stays clear of both.
            if rng.chance(70) {
                tables.append(
                    table(
                        name: "pw", index: 0, family: .inet, inputPriority: rng.pick([-10, 10]), withNat: false,
                        withRaw: rng.chance(40), withPre: rng.chance(40)))
            }
        }
        if rng.chance(35) { tables.append(dormantTable()) }
        if rng.chance(25) { tables.append(ingressTable()) }
        var xt4: String? = nil, xt6: String? = nil
        if layout == .xtables {
            xt4 = xtables(v6: false)
            if rng.chance(70) { xt6 = xtables(v6: true) }
        }
        let probes = makeProbes(sportBase: sportBase)
        var c = DiffCase(seed: seed, layout: layout, ruleset: tables.joined(separator: "\n"), listeners: listeners, probes: probes)
        c.iptables = xt4
        c.ip6tables = xt6
        return c
    }

    // MARK: listeners

    private static let candidateSockets: [(family: String, address: String, v6only: Bool)] = [
        ("ipv4", "0.0.0.0", false), ("ipv4", "0.0.0.0", false), ("ipv4", DiffTopology.hostA4, false),
        ("ipv4", DiffTopology.hostB4, false), ("ipv4", "127.0.0.1", false),
        ("ipv6", "::", false), ("ipv6", "::", false), ("ipv6", "::", true), ("ipv6", DiffTopology.hostA6, true),
        ("ipv6", DiffTopology.hostB6, true), ("ipv6", "::1", true)
    ]

    /// Whether two sockets on the same protocol and port could both match one packet with the same lookup
    /// precedence: then the kernel's choice depends on hash-chain order or the receiving CPU, so never generate it.
    private static func overlaps(_ a: DiffListener, _ b: DiffListener) -> Bool {
        guard a.proto == b.proto, a.port == b.port else { return false }
        let sameBucket: Bool
        if a.isWildcard && b.isWildcard { sameBucket = true } else { sameBucket = a.address == b.address }
        guard sameBucket else { return false }
        let families = (a.receivesV4 && b.receivesV4) || (a.receivesV6 && b.receivesV6)
        let devices = a.device == nil || b.device == nil || a.device == b.device
        return families && devices
    }

    private mutating func makeListeners() {
        let count = rng.range(3...8)
        var attempts = 0
        while listeners.count < count && attempts < 60 {
            attempts += 1
            let proto = rng.chance(60) ? "tcp" : "udp"
            let port = rng.pick(Self.listenerPorts)
            let s = rng.pick(Self.candidateSockets)
            var device: String? = nil
            if rng.chance(20) && s.address != "127.0.0.1" && s.address != "::1" {
                device = rng.pick([DiffTopology.linkA, DiffTopology.linkB])
            }
            let l = DiffListener(
                id: listeners.count + 1, proto: proto, family: s.family, address: s.address, port: port,
                v6only: s.v6only, device: device)
            if listeners.contains(where: { Self.overlaps($0, l) }) { continue }
            listeners.append(l)
        }
    }

    // MARK: rulesets

    /// First rule of every generated filter base chain. The harness observes TCP through complete handshakes, so
    /// the client's ACK (and, for local traffic, the SYN-ACK, which comes back in through `lo`) must pass
    /// wherever the SYN did; a rule such as `ct state != new drop` would otherwise let the SYN reach the
    /// listener while the connection never completes. It never matches the NEW packet the probe is about.
    static let followUpAccept = "ct state established,related accept"

    private struct TableContext {
        var family: TableFamily
        var sets: [String: String] = [:]
        var regularChains: [String] = []
        var v4: Bool { family != .ip6 }
        var v6: Bool { family != .ip }
    }

    private mutating func dormantTable() -> String {
        """
        table inet pwdormant {
            flags dormant
            chain input {
                type filter hook input priority -50; policy drop;
                tcp dport \(rng.pick(ports)) accept
            }
            chain pre {
                type filter hook prerouting priority -50; policy drop;
            }
        }
        """
    }

    /// A netdev (or inet) ingress chain on one of the links: runs before any IP processing, only for that device.
    private mutating func ingressTable() -> String {
        var ctx = TableContext(family: rng.chance(70) ? .netdev : .inet)
        let device = rng.pick([DiffTopology.linkA, DiffTopology.linkB])
        var text = "    chain ingress {\n        type filter hook ingress device \"\(device)\" priority \(rng.pick([0, -10, 5])); policy accept;\n"
        for _ in 0..<rng.range(1...3) {
            let match = rng.chance(50) ? (sourceMatch(&ctx) ?? portMatch(&ctx)) : portMatch(&ctx)
            text += "        \(match) \(rng.pick(["drop", "drop", "accept", "counter"]))\n"
        }
        text += "    }\n"
        var out = "table \(ctx.family.rawValue) pwingress {\n"
        for (_, decl) in ctx.sets.sorted(by: { $0.key < $1.key }) { out += decl }
        return out + text + "}\n"
    }

    /// `index` keeps the prerouting priorities of different tables apart: base chains of equal priority on one hook
    /// run in an order the snapshot cannot tell (the kernel puts a later registration first), so a generated case
    /// never has two. Input priorities are distinct by construction (see `build`).
    private mutating func table(
        name: String, index: Int, family: TableFamily, inputPriority: Int, withNat: Bool, withRaw: Bool,
        withPre: Bool
    ) -> String {
        var ctx = TableContext(family: family)
        var chains: [String] = []
        let regular = rng.range(0...3)
        ctx.regularChains = (0..<regular).map { "c\($0 + 1)" }

        // Regular chains first in the text is not required; nft resolves forward references within a file.
        if withRaw { chains.append(rawChain(&ctx, priority: -300 + index)) }
        if withNat { chains.append(natChain(&ctx)) }
        if withPre { chains.append(preChain(&ctx, priority: rng.pick([-150, 0, -5]) + 7 * index)) }
        let policyDrop = rng.chance(45)
        var input = "    chain input {\n        type filter hook input priority \(inputPriority); policy \(policyDrop ? "drop" : "accept");\n"
        for rule in baseRules(&ctx, policyDrop: policyDrop) { input += "        \(rule)\n" }
        input += "    }\n"
        chains.append(input)
        for (i, chain) in ctx.regularChains.enumerated() {
            var text = "    chain \(chain) {\n"
            let later = Array(ctx.regularChains[(i + 1)...])
            for _ in 0..<rng.range(1...4) { text += "        \(rule(&ctx, jumpTargets: later, inBase: false))\n" }
            text += "    }\n"
            chains.append(text)
        }
        var out = "table \(family.rawValue) \(name) {\n"
        for (_, decl) in ctx.sets.sorted(by: { $0.key < $1.key }) { out += decl }
        out += chains.joined()
        out += "}\n"
        return out
    }

    private mutating func baseRules(_ ctx: inout TableContext, policyDrop: Bool) -> [String] {
        var rules = [Self.followUpAccept]
        if policyDrop && rng.chance(50) { rules.append(rng.pick(["iif lo accept", "iifname \"lo\" accept", "iifname != \"pw*\" accept"])) }
        for _ in 0..<rng.range(2...6) { rules.append(rule(&ctx, jumpTargets: ctx.regularChains, inBase: true)) }
        return rules
    }

    /// Below -200 (conntrack), so `ct state` reads invalid there for traffic from outside.
    private mutating func rawChain(_ ctx: inout TableContext, priority: Int) -> String {
        var text = "    chain raw {\n        type filter hook prerouting priority \(priority); policy accept;\n        \(Self.followUpAccept)\n"
        for _ in 0..<rng.range(1...3) {
            switch rng.below(5) {
            case 0, 1: text += "        \(portMatch(&ctx)) notrack\n"
            case 2: text += "        \(sourceMatch(&ctx) ?? portMatch(&ctx)) notrack\n"
            case 3: text += "        \(portMatch(&ctx)) ct state invalid drop\n"
            default: text += "        \(sourceMatch(&ctx) ?? interfaceMatch()) \(portMatch(&ctx)) drop\n"
            }
        }
        text += "    }\n"
        return text
    }

    private mutating func preChain(_ ctx: inout TableContext, priority: Int) -> String {
        var text = "    chain pre {\n        type filter hook prerouting priority \(priority); policy accept;\n        \(Self.followUpAccept)\n"
        if rng.chance(60) { text += "        fib saddr . iif oif missing drop\n" }
        for _ in 0..<rng.range(0...2) {
            switch rng.below(4) {
            case 0: text += "        \(interfaceMatch()) \(portMatch(&ctx)) drop\n"
            case 1: text += "        fib daddr type local \(portMatch(&ctx)) accept\n"
            case 2: text += "        ct state new \(portMatch(&ctx)) counter\n"
            default: text += "        \(sourceMatch(&ctx) ?? portMatch(&ctx)) drop\n"
            }
        }
        text += "    }\n"
        return text
    }

    private mutating func natChain(_ ctx: inout TableContext) -> String {
        var text = "    chain nat {\n        type nat hook prerouting priority dstnat; policy accept;\n"
        for _ in 0..<rng.range(1...3) {
            let proto = rng.chance(65) ? "tcp" : "udp"
            let ext = rng.pick(Self.natPorts)
            let target = rng.chance(80) ? rng.pick(listeners.map(\.port) + [rng.pick(Self.closedPorts)]) : rng.pick(Self.closedPorts)
            switch rng.below(4) {
            case 0, 1:
                text += "        \(proto) dport \(ext) redirect to :\(target)\n"
                natMappings.append((ext, proto, nil))
            case 2 where ctx.v4:
                let to = rng.pick(DiffTopology.hostV4)
                let dst = rng.pick(DiffTopology.hostV4)
                let verb = ctx.family == .inet ? "dnat ip to" : "dnat to"
                text += "        ip daddr \(dst) \(proto) dport \(ext) \(verb) \(to):\(target)\n"
                natMappings.append((ext, proto, false))
            case 3 where ctx.v6:
                let to = rng.pick(DiffTopology.hostV6)
                let verb = ctx.family == .inet ? "dnat ip6 to" : "dnat to"
                text += "        \(proto) dport \(ext) \(verb) [\(to)]:\(target)\n"
                natMappings.append((ext, proto, true))
            default:
                text += "        \(proto) dport \(ext) redirect to :\(target)\n"
                natMappings.append((ext, proto, nil))
            }
        }
        text += "    }\n"
        return text
    }

    /// One rule: up to three matches and a verdict or statement.
    private mutating func rule(_ ctx: inout TableContext, jumpTargets: [String], inBase: Bool) -> String {
        if rng.chance(12) { return vmapRule(&ctx, jumpTargets: jumpTargets) }
        var matches: [String] = []
        let n = rng.range(1...3)
        var usedPort = false
        // One transport protocol per rule: nft refuses `tcp dport … udp dport …` in one rule.
        let proto = rng.pick(["tcp", "udp", "tcp"])
        // And one address family: `ip saddr … ip6 daddr …` is refused too.
        let v6 = ctx.v6 && (!ctx.v4 || rng.chance(40))
        for _ in 0..<n {
            switch rng.below(6) {
            case 0, 1:
                if !usedPort { matches.append(portMatch(&ctx, proto: proto)); usedPort = true }
            case 2: if let s = sourceMatch(&ctx, v6: v6) { matches.append(s) }
            case 3: matches.append(interfaceMatch())
            case 4: matches.append(miscMatch(&ctx, proto: proto, v6: v6))
            default:
                if !usedPort, let c = concatMatch(&ctx, proto: proto, v6: v6) {
                    matches.append(c); usedPort = true
                } else if !usedPort {
                    matches.append(portMatch(&ctx, proto: proto)); usedPort = true
                }
            }
        }
        if matches.isEmpty { matches.append(portMatch(&ctx, proto: proto)) }
        var verdicts = ["accept", "accept", "accept", "drop", "drop", "reject", "counter"]
        if !jumpTargets.isEmpty { verdicts += ["jump \(rng.pick(jumpTargets))", "goto \(rng.pick(jumpTargets))"] }
        if !inBase || rng.chance(20) { verdicts.append("return") }
        return matches.joined(separator: " ") + " " + rng.pick(verdicts)
    }

    private mutating func vmapRule(_ ctx: inout TableContext, jumpTargets: [String]) -> String {
        var verdicts = ["accept", "drop", "accept"]
        if !jumpTargets.isEmpty { verdicts.append("jump \(rng.pick(jumpTargets))") }
        let keys = rng.sample(ports + Self.natPorts, rng.range(1...3))
        let elements = keys.map { "\($0) : \(rng.pick(verdicts))" }.joined(separator: ", ")
        switch rng.below(3) {
        case 0:
            return "\(rng.pick(["tcp", "udp"])) dport vmap { \(elements) }"
        case 1:
            let pairs = keys.map { "\(rng.pick(["tcp", "udp"])) . \($0) : \(rng.pick(verdicts))" }.joined(separator: ", ")
            return "meta l4proto . th dport vmap { \(pairs) }"
        default:
            let name = "pv\(ctx.sets.count)"
            ctx.sets[name] = "    map \(name) {\n        type inet_service : verdict\n        elements = { \(elements) }\n    }\n"
            return "\(rng.pick(["tcp", "udp"])) dport vmap @\(name)"
        }
    }

    private mutating func portMatch(_ ctx: inout TableContext, proto fixed: String? = nil) -> String {
        let p = rng.pick(ports)
        let q = rng.pick(ports + Self.natPorts)
        let proto = fixed ?? rng.pick(["tcp", "udp", "tcp"])
        switch rng.below(10) {
        case 0: return "\(proto) dport \(p)"
        case 1: return "th dport \(p)"
        case 2: return "meta l4proto { tcp, udp } th dport \(p)"
        case 3: return p == q ? "\(proto) dport { \(p) }" : "\(proto) dport { \(min(p, q)), \(max(p, q)) }"
        case 4: return "\(proto) dport != \(p)"
        case 5: return "\(proto) dport \(rng.pick(["1000-2000", "1-1023", "2000-9000"]))"
        case 6: return "\(proto) dport != \(rng.pick(["1000-2000", "1-1023"]))"
        case 7:
            let name = "ports\(ctx.sets.count)"
            let elems = rng.sample(["22", "80", "1000-1600", "2200-2300", "5353", "8000-8100", "443"], rng.range(1...3)).sorted()
            ctx.sets[name] =
                "    set \(name) {\n        type inet_service\n        flags interval\n        elements = { \(elems.joined(separator: ", ")) }\n    }\n"
            return "\(proto) dport \(rng.chance(30) ? "!= " : "")@\(name)"
        case 8: return "\(proto) sport \(rng.pick(["10000-30000", "30001-65535"]))"
        default: return "\(proto) dport \(p)"
        }
    }

    private mutating func sourceMatch(_ ctx: inout TableContext, v6: Bool? = nil) -> String? {
        let useV6 = v6 ?? (ctx.v6 && (!ctx.v4 || rng.chance(40)))
        if !ctx.v4 && !ctx.v6 { return nil }
        if useV6 {
            switch rng.below(6) {
            case 0: return "ip6 saddr 2001:db8:c::/64"
            case 1: return "ip6 saddr != 2001:db8:a::/64"
            case 2: return "ip6 daddr \(rng.pick(DiffTopology.hostV6 + ["::1"]))"
            case 3: return "ip6 saddr { 2001:db8:d::/64, ::1 }"
            default:
                let name = "src6_\(ctx.sets.count)"
                let elems = rng.sample(["2001:db8:c::/64", "2001:db8:d::10", "2001:db8:b::/64", "::1", "2001:db8:a::2"], rng.range(1...3))
                ctx.sets[name] =
                    "    set \(name) {\n        type ipv6_addr\n        flags interval\n        elements = { \(elems.joined(separator: ", ")) }\n    }\n"
                return "ip6 saddr \(rng.chance(30) ? "!= " : "")@\(name)"
            }
        }
        switch rng.below(7) {
        case 0: return "ip saddr 203.0.113.0/25"
        case 1: return "ip saddr != 192.0.2.0/24"
        case 2: return "ip daddr \(rng.pick(DiffTopology.hostV4 + ["127.0.0.1"]))"
        case 3: return "ip saddr 203.0.113.0-203.0.113.150"
        case 4: return "ip saddr { 198.51.100.0/24, 127.0.0.0/8 }"
        default:
            let name = "src4_\(ctx.sets.count)"
            let elems = rng.sample(["203.0.113.0/25", "198.51.100.2", "192.0.2.0/24", "127.0.0.1", "203.0.113.128-203.0.113.140"], rng.range(1...3))
            ctx.sets[name] =
                "    set \(name) {\n        type ipv4_addr\n        flags interval\n        elements = { \(elems.joined(separator: ", ")) }\n    }\n"
            return "ip saddr \(rng.chance(30) ? "!= " : "")@\(name)"
        }
    }

    private mutating func concatMatch(_ ctx: inout TableContext, proto: String, v6 useV6: Bool) -> String? {
        let p1 = rng.pick(ports)
        var p2 = rng.pick(ports)
        if p2 == p1 { p2 = p1 == 22 ? 80 : 22 }
        if useV6 {
            let a = rng.pick(["2001:db8:a::2", "2001:db8:c::10", "2001:db8:b::1"])
            if rng.chance(50) { return "ip6 saddr . \(proto) dport { \(a) . \(p1), 2001:db8:b::2 . \(p2) }" }
            let name = "pair6_\(ctx.sets.count)"
            ctx.sets[name] =
                "    set \(name) {\n        type ipv6_addr . inet_service\n        elements = { \(a) . \(p1), 2001:db8:d::10 . \(p2) }\n    }\n"
            return "ip6 saddr . \(proto) dport @\(name)"
        }
        guard ctx.v4 else { return nil }
        let a = rng.pick(["192.0.2.2", "203.0.113.10", "192.0.2.1"])
        switch rng.below(3) {
        case 0: return "ip saddr . \(proto) dport { \(a) . \(p1), 198.51.100.2 . \(p2) }"
        case 1:
            let name = "pair4_\(ctx.sets.count)"
            ctx.sets[name] =
                "    set \(name) {\n        type ipv4_addr . inet_service\n        elements = { \(a) . \(p1), 203.0.113.130 . \(p2) }\n    }\n"
            return "ip saddr . \(proto) dport \(rng.chance(25) ? "!= " : "")@\(name)"
        default:
            let name = "ipair4_\(ctx.sets.count)"
            // Interval elements must not overlap (nft refuses with "File exists"): the second one stays outside 203.0.113.0/25.
            let b = rng.pick(["192.0.2.2", "192.0.2.1", "198.51.100.2"])
            ctx.sets[name] =
                "    set \(name) {\n        type ipv4_addr . inet_service\n        flags interval\n        elements = { 203.0.113.0/25 . 1000-2500, \(b) . \(p1) }\n    }\n"
            return "ip saddr . \(proto) dport @\(name)"
        }
    }

    private mutating func interfaceMatch() -> String {
        rng.pick([
            "iifname \"pwa0\"", "iifname \"pwb*\"", "iifname != \"pw*\"", "iifname { \"lo\", \"pwa0\" }", "iif \"pwb0\"",
            "iif lo", "iifname \"veth*\"", "iifname != \"pwa0\"", "iif != \"pwa0\"", "iifname \"pw*\""
        ])
    }

    private mutating func miscMatch(_ ctx: inout TableContext, proto: String, v6: Bool) -> String {
        var options = [
            "ct state new", "ct state { new, untracked }", "ct state untracked", "ct state established",
            "fib daddr type local", "meta l4proto \(proto)", "ct state != new"
        ]
        if ctx.family == .inet { options.append(v6 ? "meta nfproto ipv6" : "meta nfproto ipv4") }
        return rng.pick(options)
    }
}
