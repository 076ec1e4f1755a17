import HostModel
import Testing
@testable import Evaluator

/// Source (and destination) prefixes in every form the kernel holds them: iptables-nft ≤ 1.8.8 loads the whole
/// address and masks it (`-s 10.30.0.0/24` = 4-byte load, `bitwise & ffffff00`, `cmp eq 0a1e0000`); nft and
/// iptables-nft 1.8.9 shorten byte-aligned prefixes; ranges and `lt`/`gt` compare whole addresses.
@Suite struct SourcePrefixTests {
    func exposure(_ listeners: [Listener], _ tables: TableBuilder...) -> [ListenerExposure] {
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: listeners,
            interfaces: Host.interfaces, routes: Host.routes,
            firewall: Firewall(status: .ok, tables: tables.map(\.table)))
        return Evaluator(snapshot: snap).exposure()
    }

    /// The exposure regions for one interface and destination must agree with single-packet traces.
    func agreesWithTrace(_ e: Evaluator, _ x: ListenerExposure, _ sources: [String], dst: String, iif: String) throws {
        for src in sources {
            let v = try e.verdict(x.listener.proto, src, dst, x.listener.port, iif)
            let fam: IPFamily = src.contains(":") ? .ipv6 : .ipv4
            let value = fam == .ipv4 ? addressValue(try #require(IPv4Address(src)).bytes) : addressValue(try #require(IPv6Address(src)).bytes)
            let hits = x.regions.filter { r in
                r.family == fam && r.interface == iif && r.destination == dst
                    && r.sources.contains { text in
                        Self.contains(text, value, fam)
                    }
            }
            #expect(hits.count == 1, "\(src): \(hits.count) regions")
            #expect(hits.first?.verdict == v, "\(src): exposure \(String(describing: hits.first?.verdict)) vs trace \(v)")
        }
    }

    static func contains(_ text: String, _ v: UInt128, _ fam: IPFamily) -> Bool {
        func value(_ s: Substring) -> UInt128? {
            if fam == .ipv4 { return IPv4Address(String(s)).map { addressValue($0.bytes) } }
            return IPv6Address(String(s)).map { addressValue($0.bytes) }
        }
        if text.contains("/") {
            guard let c = CIDR(text) else { return false }
            return c.valueRange.contains(v)
        }
        if let dash = text.firstIndex(of: "-"), let lo = value(text[..<dash]), let hi = value(text[text.index(after: dash)...]) {
            return lo <= v && v <= hi
        }
        return value(text[...]) == v
    }

    @Test func iptablesLegacyMaskedPrefixIsExact() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, ["meta l4proto tcp -s 10.30.0.0/24 tcp dport 22 accept"])
        // the bytecode is the masked full-length form
        let exprs = t.chains[0].rules[0].expressions
        #expect(
            exprs.contains {
                if case .bitwise(let b) = $0 { return b.mask?.bytes == [0xff, 0xff, 0xff, 0] }; return false
            })
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 22)], t)
        let e = Evaluator(snapshot: snap)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].acceptedSources == ["10.30.0.0/24"])
        try agreesWithTrace(e, x[0], ["10.30.0.0", "10.30.0.255", "10.30.1.0", "10.29.255.255", "203.0.113.9"], dst: "192.0.2.1", iif: "eth0")
    }

    @Test func iptablesLegacyNonAlignedAndHostPrefixes() throws {
        let t = table(.ip, "filter")
        try t.chain(
            "INPUT", hook: .input, policy: .drop,
            [
                "-s 172.16.0.0/12 accept", "-s 203.0.113.7 accept", "-s 198.51.100.128/25 accept"
            ])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].acceptedSources == ["172.16.0.0/12", "198.51.100.128/25", "203.0.113.7"])
    }

    @Test func iptablesLegacyNegatedPrefix() throws {
        let t = table(.ip, "filter")
        // everything except 203.0.113.0/24 is dropped
        try t.chain("INPUT", hook: .input, policy: .accept, ["! -s 203.0.113.0/24 drop"])
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 22)], t)
        let e = Evaluator(snapshot: snap)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].acceptedSources == ["203.0.113.0/24"])
        try agreesWithTrace(e, x[0], ["203.0.113.0", "203.0.113.255", "203.0.112.255", "203.0.114.0"], dst: "192.0.2.1", iif: "eth0")
    }

    @Test func iptablesLegacyIPv6Prefixes() throws {
        let t = table(.ip6, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, ["-s 2001:db8:1::/48 accept", "-s 2001:db8:ff00::/40 accept"])
        let exprs = t.chains[0].rules[0].expressions
        #expect(
            exprs.contains {
                if case .payload(let p) = $0 { return p.length == 16 }; return false
            })
        let snap = snapshot(listeners: [tcpListener("::", 22, v6only: true)], t)
        let e = Evaluator(snapshot: snap)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].acceptedSources == ["2001:db8:1::/48", "2001:db8:ff00::/40"])
        try agreesWithTrace(
            e, x[0], ["2001:db8:1::", "2001:db8:1:ffff::1", "2001:db8:2::", "2001:db8:ffff::1", "2001:db8:feff::1"],
            dst: "2001:db8::1", iif: "eth0")
    }

    @Test func shortenedLoadsOfEveryLength() throws {
        // nft 1.0.6 and iptables-nft 1.8.9: /8 is a 1-byte load, /16 2 bytes, /24 3 bytes, an IPv6 /48 6 bytes
        let t = table(.inet)
        try t.chain(
            "input", hook: .input, policy: .drop,
            [
                "ip saddr 10.0.0.0/8 accept", "ip saddr 192.168.0.0/16 accept", "ip saddr 198.51.100.0/24 accept",
                "ip6 saddr 2001:db8:1::/48 accept"
            ])
        let x = exposure([tcpListener("::", 22)], t)
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].acceptedSources == ["10.0.0.0/8", "192.168.0.0/16", "198.51.100.0/24", "2001:db8:1::/48"])
    }

    @Test func wholeAddressComparisonsAreIntervals() throws {
        // hand-written: `ip saddr < 198.51.100.0 drop`, `ip saddr > 203.0.113.9 drop`, `ip saddr != 198.51.100.0-203.0.113.9` never
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .accept, [])
        func load() -> HostModel.Expression { .payload(Payload(base: .network, offset: 12, length: 4, dreg: 1)) }
        t.chains[0].rules = [
            Rule(
                handle: 1,
                expressions: [load(), .cmp(Cmp(sreg: 1, op: .lt, data: Bytes([198, 51, 100, 0]))), .immediate(Immediate(dreg: 0, verdict: .drop))]),
            Rule(
                handle: 2,
                expressions: [load(), .cmp(Cmp(sreg: 1, op: .gt, data: Bytes([203, 0, 113, 9]))), .immediate(Immediate(dreg: 0, verdict: .drop))]),
            Rule(
                handle: 3,
                expressions: [
                    load(), .range(RangeExpr(sreg: 1, inverted: true, from: Bytes([198, 51, 100, 0]), to: Bytes([203, 0, 113, 9]))),
                    .immediate(Immediate(dreg: 0, verdict: .drop))
                ]),
            Rule(
                handle: 4,
                expressions: [
                    load(), .range(RangeExpr(sreg: 1, inverted: false, from: Bytes([200, 0, 0, 0]), to: Bytes([200, 255, 255, 255]))),
                    .immediate(Immediate(dreg: 0, verdict: .drop))
                ])
        ]
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 22)], t)
        let e = Evaluator(snapshot: snap)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].acceptedSources == ["198.51.100.0-199.255.255.255", "201.0.0.0-203.0.113.9"])
        try agreesWithTrace(e, x[0], ["198.51.99.255", "198.51.100.0", "200.1.2.3", "203.0.113.9", "203.0.113.10"], dst: "192.0.2.1", iif: "eth0")
    }

    @Test func loadOfALaterAddressByte() throws {
        // `ip saddr & 0.255.0.0 == 0.51.0.0` written as a 1-byte load at +13: the second byte, whatever the first
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, [])
        t.chains[0].rules = [
            Rule(
                handle: 1,
                expressions: [
                    .payload(Payload(base: .network, offset: 13, length: 1, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([51]))),
                    .immediate(Immediate(dreg: 0, verdict: .accept))
                ])
        ]
        let snap = snapshot(listeners: [tcpListener("0.0.0.0", 22)], t)
        let e = Evaluator(snapshot: snap)
        let x = e.exposure()
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        // x.51.0.0/16 for every first byte the kernel routes (not 0, 127, 224-239): 238 of them, listed up to 64
        #expect(x[0].acceptedSources.first == "1.51.0.0/16")
        #expect(!x[0].acceptedSources.contains("127.51.0.0/16"))
        let accepted = x[0].regions.filter { $0.verdict == .accept && $0.interface == "eth0" && $0.destination == "192.0.2.1" }
        #expect(accepted.map(\.sourceCount) == [238 * 65536])
        #expect(accepted.first?.omittedSources == 238 - ExposureRegion.maxListed)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.50.100.7", "192.0.2.1", 22, "eth0") == .drop)
        try agreesWithTrace(e, x[0], ["1.51.0.0", "1.50.255.255", "2.52.0.0"], dst: "192.0.2.1", iif: "eth0")
    }

    @Test func iptablesLegacyDestinationPrefix() throws {
        let t = table(.ip, "filter")
        try t.chain("INPUT", hook: .input, policy: .drop, ["-d 198.51.100.0/24 accept"])
        let x = exposure([tcpListener("0.0.0.0", 22)], t)
        #expect(x[0].summary == .public)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].regions.contains { $0.destination == "198.51.100.1" && $0.verdict == .accept && $0.interface == "eth0" })
        #expect(!x[0].regions.contains { $0.destination == "192.0.2.1" && $0.verdict == .accept && $0.interface == "eth0" })
    }
}
