import HostModel
import Testing
@testable import Evaluator

/// Disagreements with the kernel found by the differential harness (network namespaces), one suite per cause.

private func udpBound(_ address: String, _ port: UInt16, device: String? = nil, deviceIndex: UInt32 = 0, name: String) -> Listener {
    Listener(
        proto: .udp, family: address.contains(":") ? .ipv6 : .ipv4, address: address, port: port, device: device,
        deviceIndex: deviceIndex, processes: [ProcessInfo(pid: 300, name: name)])
}

/// __udp4_lib_lookup / __udp6_lib_lookup search the (daddr, port) slot before the (any, port) slot, like TCP's
/// listener lookup: an exact bind wins over a device-bound wildcard.
@Suite struct UDPTwoSlotLookupTests {
    @Test func exactAddressBeatsDeviceBoundWildcardIPv4() throws {
        // kernel: udp 203.0.113.10:17202 → 198.51.100.1:22 iif eth1 reaches `198.51.100.1:22`, not `0.0.0.0%eth1:22`
        let ls = [udpBound("0.0.0.0", 22, device: "eth1", deviceIndex: 3, name: "dev"), udpBound("198.51.100.1", 22, name: "exact")]
        let e = Evaluator(snapshot: snapshot(listeners: ls))
        let r = try e.trace(probe(.udp, "203.0.113.10", "198.51.100.1", 22, "eth1", sport: 17202))
        #expect(r.listener?.processes.first?.name == "exact")
        // no exact bind for eth0's address: the wildcard slot, where the device-bound socket is eligible on eth1
        #expect(try e.trace(probe(.udp, "203.0.113.10", "192.0.2.1", 22, "eth1")).listener?.processes.first?.name == "dev")
        // on eth0 the eth1-bound socket is not eligible
        #expect(try e.trace(probe(.udp, "203.0.113.10", "192.0.2.1", 22, "eth0")).listener == nil)
    }

    @Test func exactAddressBeatsDeviceBoundWildcardIPv6() throws {
        let ls = [udpBound("::", 2222, device: "eth0", deviceIndex: 2, name: "dev"), udpBound("2001:db8::1", 2222, name: "exact")]
        let e = Evaluator(snapshot: snapshot(listeners: ls))
        #expect(try e.trace(probe(.udp, "2001:db8::7", "2001:db8::1", 2222, "eth0")).listener?.processes.first?.name == "exact")
    }

    @Test func exactBindForAnotherDeviceFallsBackToWildcard() throws {
        // the exact socket is bound to eth0: not eligible for a packet on eth1, so the wildcard slot decides
        let ls = [udpBound("198.51.100.1", 53, device: "eth0", deviceIndex: 2, name: "exact-eth0"), udpBound("0.0.0.0", 53, name: "any")]
        let e = Evaluator(snapshot: snapshot(listeners: ls))
        #expect(try e.trace(probe(.udp, "203.0.113.10", "198.51.100.1", 53, "eth1")).listener?.processes.first?.name == "any")
        #expect(try e.trace(probe(.udp, "203.0.113.10", "198.51.100.1", 53, "eth0")).listener?.processes.first?.name == "exact-eth0")
    }

    @Test func tcpFollowsTheSameTwoSlots() throws {
        let ls = [tcpListener("0.0.0.0", 22, device: "eth1", deviceIndex: 3, name: "dev"), tcpListener("198.51.100.1", 22, name: "exact")]
        let e = Evaluator(snapshot: snapshot(listeners: ls))
        #expect(try e.trace(probe(.tcp, "203.0.113.10", "198.51.100.1", 22, "eth1")).listener?.processes.first?.name == "exact")
    }
}

/// notrack only marks a packet without a conntrack entry; host-local traffic got one on output at -200.
@Suite struct LocalNotrackTests {
    @Test func preroutingNotrackIgnoredForLocalTraffic() throws {
        // kernel: tcp 127.0.0.1 → 127.0.0.1:80 dropped by `iifname != "eth0" ct state new drop` after a raw notrack
        let t = table(.inet)
        try t.chain("raw", hook: .prerouting, priority: -300, ["notrack"])
        try t.chain("input", hook: .input, policy: .accept, ["iifname != \"eth0\" ct state new drop"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 80)], t))
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 80, "lo") == .drop)
        // remote traffic arrives untracked: the prerouting notrack applies, `ct state new` misses
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 80, "eth1")).delivered)
    }

    @Test func ipv6LocalNotrackIgnored() throws {
        // kernel: tcp [::1] → [::1]:8080 delivered where `ct state untracked reject` was expected to hit
        let t = table(.inet)
        try t.chain("raw", hook: .prerouting, priority: -300, ["tcp dport 8080 notrack"])
        try t.chain("input", hook: .input, policy: .accept, ["ct state untracked reject"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 8080)], t))
        let r = try e.trace(probe(.tcp, "::1", "::1", 8080, "lo"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(try e.verdict(.tcp, "2001:db8::7", "2001:db8::1", 8080, "eth0") == .reject)
    }

    @Test func outputRawNotrackStillApplies() throws {
        let t = table(.inet)
        try t.chain("rawout", hook: .output, priority: -300, ["tcp dport 80 notrack"])
        try t.chain("input", hook: .input, policy: .accept, ["ct state untracked drop"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 80)], t))
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 80, "lo") == .drop)
    }

    @Test func notrackAfterConntrackIsIgnoredForRemoteTraffic() throws {
        // prerouting at -150 runs after nf_conntrack_in (-200): the entry exists, notrack does nothing
        let t = table(.inet)
        try t.chain("mangle", hook: .prerouting, priority: -150, ["notrack"])
        try t.chain("input", hook: .input, policy: .drop, ["ct state new accept"])
        #expect(try Evaluator(snapshot: snapshot(t)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func xtNotrackTargetIgnoredForLocalTraffic() throws {
        let raw = table(.ip, "raw")
        try raw.chain("PREROUTING", hook: .prerouting, priority: -300, ["xt target NOTRACK"])
        let f = table(.ip, "filter")
        try f.chain("INPUT", hook: .input, policy: .drop, ["xt match state NEW accept"])
        let e = Evaluator(snapshot: snapshot(raw, f))
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func xtStateBelowMinus200ForLocalTrafficIsNew() throws {
        let raw = table(.ip, "raw")
        try raw.chain("PREROUTING", hook: .prerouting, priority: -300, ["xt match state INVALID drop"])
        let e = Evaluator(snapshot: snapshot(raw))
        #expect(try e.verdict(.tcp, "127.0.0.1", "127.0.0.1", 22, "lo") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }
}

/// `ip6tables-nft -A INPUT -p tcp -m state --state NEW -j REJECT --reject-with tcp-reset` as iptables 1.8.9 stores it:
/// the `state` alias of xt_conntrack rev 3, match_flags = STATE | STATE_ALIAS (0x2001), state_mask = NEW.
@Suite struct XtConntrackStateAliasTests {
    /// The 168 info bytes read back from the kernel (`portwarden collect` in a scratch namespace).
    static func info(alias: Bool) -> Bytes {
        var b = [UInt8](repeating: 0, count: 168)
        b[146] = 0x01
        b[147] = alias ? 0x20 : 0x00
        b[150] = 0x08
        return Bytes(b)
    }

    static func filter(_ family: TableFamily, alias: Bool) throws -> TableBuilder {
        let t = table(family, "filter")
        try t.chain("INPUT", hook: .input, policy: .accept, [])
        t.chains[0].rules.append(
            Rule(
                handle: 10,
                expressions: [
                    .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                    .match(Xt(name: "conntrack", revision: 3, info: info(alias: alias))), .counter,
                    .target(Xt(name: "REJECT", revision: 0, info: Bytes([6, 0, 0, 0, 0, 0, 0, 0])))
                ]))
        return t
    }

    @Test func stateNewMatchesForIPv6() throws {
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], try XtConntrackStateAliasTests.filter(.ip6, alias: true)))
        let r = try e.trace(probe(.tcp, "2001:db8::7", "2001:db8::1", 22, "eth0"))
        #expect(r.verdict == .reject)
        #expect(r.reasons.isEmpty)
        // `-m conntrack --ctstate NEW` (no alias bit) alike
        let c = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], try XtConntrackStateAliasTests.filter(.ip6, alias: false)))
        #expect(try c.verdict(.tcp, "2001:db8::7", "2001:db8::1", 22, "eth0") == .reject)
    }

    @Test func stateNewMatchesForIPv4() throws {
        let e = Evaluator(snapshot: snapshot(try XtConntrackStateAliasTests.filter(.ip, alias: true)))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .reject)
        #expect(try e.verdict(.udp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }

    static func dropIf(_ family: TableFamily, _ b: [UInt8]) throws -> TableBuilder {
        let t = table(family, "filter")
        try t.chain("INPUT", hook: .input, policy: .accept, [])
        t.chains[0].rules.append(
            Rule(
                handle: 10,
                expressions: [
                    .match(Xt(name: "conntrack", revision: 3, info: Bytes(b))),
                    .immediate(Immediate(dreg: 0, verdict: .drop))
                ]))
        return t
    }

    @Test func expiryOptionStaysConditional() throws {
        var b = XtConntrackStateAliasTests.info(alias: false).bytes
        b[146] |= 0x80  // XT_CONNTRACK_EXPIRES
        let r = try Evaluator(snapshot: snapshot(try XtConntrackStateAliasTests.dropIf(.ip6, b))).trace(
            probe(.tcp, "2001:db8::7", "2001:db8::1", 22, "eth0"))
        #expect(r.verdict == .conditional)
    }

    @Test func originalSourcePrefix() throws {
        // `-m conntrack --ctstate NEW --ctorigsrc 198.51.100.0/24`: addr then mask, 16 bytes each, IPv4 in the first 4
        var b = XtConntrackStateAliasTests.info(alias: false).bytes
        b[146] |= 0x04
        b.replaceSubrange(0..<4, with: [198, 51, 100, 0])
        b.replaceSubrange(16..<20, with: [255, 255, 255, 0])
        let e = Evaluator(snapshot: snapshot(try XtConntrackStateAliasTests.dropIf(.ip, b)))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "203.0.113.5", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func originalDestinationPrefixIPv6() throws {
        var b = XtConntrackStateAliasTests.info(alias: false).bytes
        b[146] |= 0x08  // --ctorigdst 2001:db8::/64
        b.replaceSubrange(32..<36, with: [0x20, 0x01, 0x0d, 0xb8])
        b.replaceSubrange(48..<56, with: [UInt8](repeating: 0xff, count: 8))
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], try XtConntrackStateAliasTests.dropIf(.ip6, b)))
        #expect(try e.verdict(.tcp, "2001:db8:5::7", "2001:db8::1", 22, "eth0") == .drop)
        // a non-prefix mask is not decoded
        b[50] = 0x0f
        let c = Evaluator(snapshot: snapshot(listeners: [tcpListener("::", 22)], try XtConntrackStateAliasTests.dropIf(.ip6, b)))
        #expect(try c.verdict(.tcp, "2001:db8:5::7", "2001:db8::1", 22, "eth0") == .conditional)
    }
}

/// Base chains on one hook with the same priority run in registration order, which the snapshot does not show.
@Suite struct EqualPriorityChainTests {
    @Test func orderDependentOutcomeIsConditional() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, ["tcp dport 22 reject"])
        let b = table(.inet, "b")
        try b.chain("input", hook: .input, priority: 0, ["tcp dport 22 drop"])
        let e = Evaluator(snapshot: snapshot(a, b))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(!r.delivered)
        #expect(r.reasons.contains { $0.hasPrefix("ambiguous order: chains inet a input and inet b input have the same priority") })
        // a port neither chain touches: the order does not matter
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .accept)
    }

    @Test func orderIndependentOutcomeIsDecided() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, ["tcp dport 22 accept"])
        let b = table(.inet, "b")
        try b.chain("input", hook: .input, priority: 0, ["tcp dport 22 drop"])
        // accept is not final: b drops whatever the order
        let r = try Evaluator(snapshot: snapshot(a, b)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.reasons.isEmpty)
    }

    /// Exposure follows the same rule as a trace, for every source at once; a drop in one order and a reject in the
    /// other delivers in neither, so the listener stays blocked.
    @Test func exposureOfDropOrRejectStaysBlocked() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, ["tcp dport 22 ip saddr 198.51.100.0/24 reject"])
        let b = table(.inet, "b")
        try b.chain("input", hook: .input, priority: 0, ["tcp dport 22 drop"])
        let x = try #require(Evaluator(snapshot: snapshot(a, b)).exposure().first { $0.listener.port == 22 })
        #expect(x.summary == .blocked)
        #expect(x.regions.filter { $0.interface != "lo" }.allSatisfy { $0.verdict == .drop || $0.verdict == .reject })
        #expect(!x.reasons.contains { $0.hasPrefix("ambiguous order") })
    }

    /// Two DNAT chains at one priority redirect the same port to different listeners: which one receives depends on
    /// registration order, so both see those sources as conditional, while the ports' own traffic stays decided.
    @Test func exposureOfOrderDependentRedirectIsConditional() throws {
        let a = table(.ip, "a")
        try a.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 8080 ip saddr 198.51.100.0/24 redirect to :22"])
        let b = table(.ip, "b")
        try b.chain("pre", hook: .prerouting, type: "nat", priority: -100, ["tcp dport 8080 redirect to :80"])
        let f = table(.inet, "f")
        try f.chain("input", hook: .input, policy: .drop, ["tcp dport { 22, 80 } accept"])
        let e = Evaluator(snapshot: snapshot(listeners: [Host.sshd, tcpListener("0.0.0.0", 80, name: "web")], a, b, f))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8080, "eth0"))
        #expect(r.verdict == .conditional && r.reasons.contains { $0.hasPrefix("ambiguous order") })
        // outside a's source range both orders send 8080 to :80
        #expect(try e.verdict(.tcp, "203.0.113.9", "192.0.2.1", 8080, "eth0") == .accept)
        let all = e.exposure()
        for port: UInt16 in [22, 80] {
            let x = try #require(all.first { $0.listener.port == port })
            let via = x.regions.filter { $0.destinationPort == 8080 && $0.interface == "eth0" && $0.destination == "192.0.2.1" }
            let ambiguous = via.filter { $0.verdict == .conditional }
            #expect(ambiguous.count == 1, "port \(port)")
            #expect(ambiguous.first?.sources == ["198.51.100.0/24"], "port \(port)")
            #expect(ambiguous.first?.reasons.contains { $0.hasPrefix("ambiguous order: chains ip a pre and ip b pre") } == true)
            // the listeners' own port is not affected
            let own = x.regions.filter { $0.destinationPort == port && $0.interface == "eth0" }
            #expect(own.contains { $0.verdict == .accept } && own.allSatisfy { $0.verdict != .conditional && $0.reasons.isEmpty })
        }
        // the rest of 8080 goes to :80 whatever the order: decided
        let web = try #require(all.first { $0.listener.port == 80 })
        #expect(web.regions.contains { $0.destinationPort == 8080 && $0.interface == "eth0" && $0.verdict == .accept && $0.sourceCount > 1e9 })
        #expect(web.viaPorts == [8080])
    }

    @Test func stateDependsOnOrder() throws {
        // notrack in one prerouting chain at -300 and an invalid-drop in another at -300
        let a = table(.inet, "a")
        try a.chain("raw1", hook: .prerouting, priority: -300, ["tcp dport 22 notrack"])
        let b = table(.inet, "b")
        try b.chain("raw2", hook: .prerouting, priority: -300, ["ct state invalid drop"])
        let e = Evaluator(snapshot: snapshot(a, b))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons.contains { $0.hasPrefix("ambiguous order") })
        // exposure agrees: delivered in one order only, so conditional
        let ssh = try #require(e.exposure().first)
        #expect(ssh.summary == .conditional)
        #expect(
            ssh.regions.contains { $0.interface == "eth0" && $0.verdict == .conditional && $0.reasons.contains { $0.hasPrefix("ambiguous order") } })
        // different priorities: ordered, decided
        let c = table(.inet, "c")
        try c.chain("raw2", hook: .prerouting, priority: -299, ["ct state invalid drop"])
        #expect(try Evaluator(snapshot: snapshot(a, c)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }
}
