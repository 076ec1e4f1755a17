import HostModel
import Testing
@testable import Evaluator

/// Concatenated interval (pipapo) sets keyed by the source address and fields the question fixes (port, interface):
/// exposure projects the set onto the source-address field for the known values. Element layout as the kernel
/// dumps it (checked with `portwarden collect`): every element carries an inclusive KEY_END.
@Suite struct ConcatIntervalExposureTests {
    func run(_ t: TableBuilder, _ listeners: [Listener]) -> (Evaluator, [ListenerExposure]) {
        let e = Evaluator(snapshot: snapshot(listeners: listeners, t))
        return (e, e.exposure())
    }

    func accepted(_ x: ListenerExposure, _ iface: String = "eth0", dst: String = "192.0.2.1") -> [String] {
        x.regions.filter { $0.verdict == .accept && $0.interface == iface && $0.destination == dst }.flatMap(\.sources).sorted()
    }

    @Test func compilerMatchesTheKernelDump() throws {
        let t = table(.inet)
        try t.set("cc", [.ipv4, .port], interval: true, elements: ["10.0.0.0/8 . 22", "203.0.113.7 . 22-25", "198.51.100.9 . 5432"])
        #expect(
            t.sets[0].elements.map { "\($0.key.description)-\($0.keyEnd?.description ?? "")" } == [
                "0a00000000160000-0affffff00160000", "cb00710700160000-cb00710700190000", "c633640915380000-c633640915380000"
            ])
        #expect(t.sets[0].flags & 0x84 == 0x84)
    }

    @Test func saddrDotPortProjectsOntoTheSource() throws {
        let t = table(.inet)
        try t.set(
            "cc", [.ipv4, .port], interval: true,
            elements: [
                "10.0.0.0/8 . 22", "203.0.113.7 . 22-25", "198.51.100.9 . 5432",
                "198.51.100.0/24 . 1000-2000"
            ])
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr . tcp dport @cc accept"])
        let (e, x) = run(t, [tcpListener("0.0.0.0", 22), tcpListener("0.0.0.0", 5432), tcpListener("0.0.0.0", 1500), tcpListener("0.0.0.0", 80)])
        let ssh = try #require(x.first { $0.listener.port == 22 })
        #expect(ssh.summary == .restricted)
        #expect(ssh.reasons.isEmpty)
        #expect(ssh.acceptedSources == ["10.0.0.0/8", "203.0.113.7"])
        let pg = try #require(x.first { $0.listener.port == 5432 })
        #expect(pg.acceptedSources == ["198.51.100.9"])
        let mid = try #require(x.first { $0.listener.port == 1500 })
        #expect(mid.acceptedSources == ["198.51.100.0/24"])
        let web = try #require(x.first { $0.listener.port == 80 })
        #expect(web.summary == .blocked)
        #expect(try e.verdict(.tcp, "203.0.113.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "203.0.113.8", "192.0.2.1", 22, "eth0") == .drop)
    }

    @Test func portDotSaddrWithTheSourceSecond() throws {
        let t = table(.inet)
        try t.set("dc", [.port, .ipv4], interval: true, elements: ["22 . 10.0.0.0/8", "5432 . 198.51.100.0-198.51.100.20", "20-30 . 203.0.113.0/28"])
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport . ip saddr @dc accept"])
        let (e, x) = run(t, [tcpListener("0.0.0.0", 22), tcpListener("0.0.0.0", 5432)])
        let ssh = try #require(x.first { $0.listener.port == 22 })
        #expect(ssh.summary == .restricted)
        #expect(ssh.reasons.isEmpty)
        #expect(ssh.acceptedSources == ["10.0.0.0/8", "203.0.113.0/28"])
        let pg = try #require(x.first { $0.listener.port == 5432 })
        #expect(pg.acceptedSources == ["198.51.100.0-198.51.100.20"])
        #expect(try e.verdict(.tcp, "198.51.100.20", "192.0.2.1", 5432, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.21", "192.0.2.1", 5432, "eth0") == .drop)
    }

    @Test func ifnameDotSaddrDotPort() throws {
        let t = table(.inet)
        try t.set("ic", [.ifname, .ipv4, .port], interval: true, elements: ["eth1 . 198.51.100.0/25 . 22", "eth0 . 192.0.2.128/25 . 22"])
        try t.chain("input", hook: .input, policy: .drop, ["iifname . ip saddr . tcp dport @ic accept"])
        let (_, x) = run(t, [tcpListener("0.0.0.0", 22)])
        #expect(x[0].summary == .restricted)
        #expect(x[0].reasons.isEmpty)
        #expect(x[0].interfaces == ["eth0", "eth1"])
        #expect(accepted(x[0], "eth0") == ["192.0.2.128/25"])
        #expect(accepted(x[0], "eth1", dst: "198.51.100.1") == ["198.51.100.0/25"])
    }

    @Test func concatIntervalVerdictMap() throws {
        let t = table(.inet)
        try t.chain(
            "input", hook: .input, policy: .accept,
            ["ip saddr . tcp dport vmap { 192.0.2.0/24 . 22 : accept, 203.0.113.0/24 . 22-80 : drop, 0.0.0.0/1 . 22 : drop }"])
        let (e, x) = run(t, [tcpListener("0.0.0.0", 22)])
        #expect(x[0].reasons.isEmpty)
        let dropped = x[0].regions.filter {
            $0.verdict == .drop && $0.interface == "eth0" && $0.destination == "192.0.2.1" && $0.path.last?.hook == .hook(.input)
        }
        #expect(dropped.flatMap(\.sources).sorted() == ["1.0.0.0-126.255.255.255", "203.0.113.0/24"])
        #expect(try e.verdict(.tcp, "203.0.113.5", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "192.0.2.5", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func ipv6SaddrDotPort() throws {
        let t = table(.inet)
        try t.set("c6", [.ipv6, .port], interval: true, elements: ["2001:db8:1::/48 . 22", "2001:db8:2::5 . 20-30"])
        try t.chain("input", hook: .input, policy: .drop, ["ip6 saddr . tcp dport @c6 accept"])
        let (_, x) = run(t, [tcpListener("::", 22, v6only: true)])
        #expect(x[0].summary == .restricted)
        #expect(x[0].acceptedSources == ["2001:db8:1::/48", "2001:db8:2::5"])
    }
}
