import Foundation
import TestSupport

/// The probes of a generated case: every listener from every origin, plus ports no one listens on.
extension DiffGenerator {
    mutating func makeProbes(sportBase: Int) -> [DiffProbe] {
        var specs: [(proto: String, origin: ProbeOrigin, v6: Bool, dst: String?, port: Int)] = []
        for l in listeners {
            for _ in 0..<rng.range(3...5) {
                let v6 = l.receivesV4 && l.receivesV6 ? rng.chance(50) : l.receivesV6
                var dst: String? = nil
                if l.address == "127.0.0.1" || l.address == "::1" {
                    if rng.chance(70) { specs.append((l.proto, .local, v6, l.address, l.port)); continue }
                } else if !l.isWildcard && rng.chance(75) {
                    dst = l.address
                }
                specs.append((l.proto, rng.pick(ProbeOrigin.allCases), v6, dst, l.port))
            }
        }
        for (ext, proto, v6) in natMappings {
            for _ in 0..<3 { specs.append((proto, rng.pick(ProbeOrigin.allCases), v6 ?? rng.chance(40), nil, ext)) }
        }
        for p in rng.sample(Self.closedPorts + Self.listenerPorts, 4) {
            specs.append((rng.pick(["tcp", "udp"]), rng.pick(ProbeOrigin.allCases), rng.chance(40), nil, p))
        }
        var probes: [DiffProbe] = []
        for (i, s) in specs.prefix(Self.maxProbes).enumerated() {
            var sources = DiffTopology.sources(s.origin, v6: s.v6)
            if s.proto == "tcp" { sources = sources.filter { !$0.spoofed } }
            var dst = s.dst ?? rng.pick(s.v6 ? DiffTopology.hostV6 : DiffTopology.hostV4)
            if s.origin == .local && s.dst == nil && rng.chance(25) { dst = s.v6 ? "::1" : "127.0.0.1" }
            var src = rng.pick(sources).address
            if dst == "127.0.0.1" || dst == "::1" {
                if s.origin != .local { dst = rng.pick(s.v6 ? DiffTopology.hostV6 : DiffTopology.hostV4) } else { src = dst }
            }
            probes.append(
                DiffProbe(
                    pid: i + 1, proto: s.proto, src: src, dst: dst, dport: s.port,
                    sport: 10000 + (sportBase + i) % 50000, origin: s.origin))
        }
        return probes
    }
}
