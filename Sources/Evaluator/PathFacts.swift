import HostModel

/// A published port together with what the host's own input path does with the same connection when no DNAT applies:
/// the fact behind "a published port bypasses the host firewall".
public struct PublishedPath: Sendable, Equatable {
    public var port: ForwardedPort
    /// The verdict of input (prerouting without NAT, routing, input) for one accepted source of the published port,
    /// on the same interface and host address.
    public var inputVerdict: PacketVerdict
    /// The input path's deciding steps for that probe.
    public var inputPath: [PathStep]

    public init(port: ForwardedPort, inputVerdict: PacketVerdict, inputPath: [PathStep]) {
        self.port = port
        self.inputVerdict = inputVerdict
        self.inputPath = inputPath
    }
}

/// New connections the host routes between two of its networks for any source and port it was tried with: forwarding
/// is on and no forward chain filters them. Bridges (Docker's, libvirt's) are not tried as the incoming side.
public struct OpenForwarding: Sendable, Equatable {
    public var family: IPFamily
    public var from: String
    public var to: String
    /// The destination tried (an address routed out of `to`, not the host's nor a known namespace's).
    public var destination: String
    public var path: [PathStep]

    public init(family: IPFamily, from: String, to: String, destination: String, path: [PathStep]) {
        self.family = family
        self.from = from
        self.to = to
        self.destination = destination
        self.path = path
    }
}

/// IPv6 neighbour discovery refused by the input path on an interface: IPv6 cannot work there at all.
public struct BlockedNeighbourDiscovery: Sendable, Equatable {
    public var interface: String
    /// `neighbour solicitation` or `neighbour advertisement`.
    public var message: String
    public var verdict: PacketVerdict
    public var path: [PathStep]

    public init(interface: String, message: String, verdict: PacketVerdict, path: [PathStep]) {
        self.interface = interface
        self.message = message
        self.verdict = verdict
        self.path = path
    }
}

extension Evaluator {
    /// Runs one concrete packet through `stages` and summarizes it (no tie resolution: facts use the first order).
    func walkPacket(_ pkt: PacketState, stages: [Stage], proto: L4Proto) -> TraceResult {
        var walker = Walker(rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: stages, symbolic: false, cache: nil)
        return summarize(walker.run(initialThread(pkt, region: nil)), proto: proto)
    }

    /// A source address inside `ranges` (evaluator text) that is not a martian (a few points of each range are tried).
    func representative(_ sources: [String], _ family: IPFamily) -> [UInt8]? {
        let martian = Walker.martianSources(family, routeLocalnet: false)
        for s in sources {
            guard let r = AddressSet.parseRange(s, family) else { continue }
            let span = r.upperBound - r.lowerBound
            for v in [r.lowerBound, r.lowerBound + span / 2 + 1, r.lowerBound + span / 4, r.upperBound]
            where v <= r.upperBound && !martian.contains(v) {
                return addressBytes(v, family)
            }
        }
        return nil
    }

    /// For each published port: what the input path would do with its first accepted (or conditional) region's
    /// connection if no NAT rewrote it.
    public func publishedPaths(_ forwarded: [ForwardedPort]) -> [PublishedPath] {
        var out: [PublishedPath] = []
        for f in forwarded {
            guard let region = f.regions.first(where: { $0.verdict != .drop && $0.verdict != .reject }),
                let src = representative(region.sources, f.family), let dst = IPAddress(region.destination)
            else { continue }
            let pkt = makePacket(family: f.family, proto: f.proto, saddr: src, daddr: dst.bytes, sport: nil, dport: f.port, iif: region.interface)
            let noNat = stages(for: pkt).filter { if case .chain(let b) = $0 { return !b.isNat } else { return true } }
            let r = walkPacket(pkt, stages: noNat, proto: f.proto)
            out.append(PublishedPath(port: f, inputVerdict: r.verdict, inputPath: r.path))
        }
        return out
    }

    /// Pairs of interfaces between which forwarding passes new TCP and UDP connections from an outside source to an
    /// address routed out of the other interface, whatever the port: a host that routes by accident.
    public func openForwarding() -> [OpenForwarding] {
        var out: [OpenForwarding] = []
        for fam in IPFamily.allCases where (fam == .ipv4 ? snapshot.sysctls.ipForward : snapshot.sysctls.ipv6Forwarding) == true {
            let candidates =
                fam == .ipv4
                ? ["203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.0.77"]
                : ["2001:db8:ffff::77", "2001:db8:fffe::77", "3fff::77"]
            // Link-local routes are never forwarded.
            let routes = (routing.routes[fam] ?? []).filter {
                $0.type == RTN.unicast && $0.table == 254 && !(fam == .ipv6 && $0.range.lowerBound >> 118 == 0x3fa)
            }
            guard
                let src = candidates.compactMap({ IPAddress($0) }).first(where: { a in
                    !routes.contains { $0.range.contains(addressValue(a.bytes)) && $0.prefixLength > 0 }
                        && !routing.isLocal(fam, addressValue(a.bytes))
                })
            else { continue }
            for r in routes {
                guard let dst = forwardTarget(r, fam), let oif = routing.iface(index: r.device) else { continue }
                // From the host's own addressed links, not from its container bridges (containers reaching out is by
                // design) nor from bridge ports (their packets reach IP on the bridge).
                for iif in routing.interfaces
                where !iif.loopback && iif.index != r.device && iif.kind != "bridge"
                    && (fam == .ipv4 ? !iif.v4.isEmpty : iif.v6.contains { $0 >> 118 != 0x3fa })
                {
                    if out.contains(where: { $0.family == fam && $0.from == iif.name && $0.to == oif.name }) { continue }
                    let results = [(L4Proto.tcp, UInt16(22)), (.udp, 53), (.tcp, 8443)].map { proto, port in
                        let pkt = makePacket(
                            family: fam, proto: proto, saddr: src.bytes, daddr: addressBytes(dst, fam), sport: nil, dport: port, iif: iif.name)
                        return walkPacket(pkt, stages: stages(for: pkt), proto: proto)
                    }
                    guard results.allSatisfy({ $0.verdict == .accept && $0.forwarded }) else { continue }
                    out.append(OpenForwarding(family: fam, from: iif.name, to: oif.name, destination: addressText(dst, fam), path: results[0].path))
                }
            }
        }
        return out
    }

    /// An address routed by `r` that is neither the host's nor a known namespace's (where forwarding is by design).
    private func forwardTarget(_ r: HostRouting.RouteEntry, _ fam: IPFamily) -> UInt128? {
        let span = r.range.upperBound - r.range.lowerBound
        for k in [UInt128(1), 2, 3, 5, 9, span / 2, span > 1 ? span - 1 : 0] where k <= span {
            let v = r.range.lowerBound + k
            if routing.isLocal(fam, v) || peers.byAddress[fam]?[v] != nil { continue }
            if HostRouting.isMulticast(fam, v) || (fam == .ipv4 && v == r.range.upperBound && r.prefixLength < 31) { continue }
            return v
        }
        return nil
    }

    /// Neighbour solicitations and advertisements (ICMPv6 135/136, untracked by conntrack, hop limit 255) from a
    /// link-local neighbour to the interface's own address, through the input path, on every interface with IPv6.
    public func neighbourDiscovery() -> [BlockedNeighbourDiscovery] {
        guard snapshot.firewall.status == .ok else { return [] }
        var out: [BlockedNeighbourDiscovery] = []
        for i in routing.interfaces where !i.loopback {
            guard let own = i.primaryV6 ?? i.v6.first.map({ addressBytes($0, .ipv6) }), let src = IPAddress("fe80::7:7") else { continue }
            for (type, name) in [(UInt16(135), "neighbour solicitation"), (136, "neighbour advertisement")] {
                var pkt = makePacket(family: .ipv6, proto: .udp, saddr: src.bytes, daddr: own, sport: type << 8, dport: 0, iif: i.name)
                pkt.l4 = 58
                pkt.notrack = true
                var walker = Walker(rs: rs, routing: routing, sysctls: snapshot.sysctls, stages: stages(for: pkt), symbolic: false, cache: nil)
                let leaves = walker.run(initialThread(pkt, region: nil))
                let r = summarize(leaves, proto: .udp)
                if r.verdict == .drop || r.verdict == .reject {
                    out.append(BlockedNeighbourDiscovery(interface: i.name, message: name, verdict: r.verdict, path: r.path))
                }
            }
        }
        return out
    }
}
