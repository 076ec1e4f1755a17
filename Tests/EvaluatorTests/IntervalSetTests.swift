import HostModel
import Testing
@testable import Evaluator

/// rbtree interval sets: exclusive END elements, descending dump order, leading 0 END; pipapo KEY_END is inclusive.
@Suite struct IntervalSetTests {
    func ev(_ rule: String) throws -> Evaluator {
        let t = table(.inet)
        try t.set("nets", [.ipv4], interval: true, elements: ["10.0.0.0/8", "192.168.1.1", "203.0.113.10-203.0.113.20"])
        try t.chain("input", hook: .input, policy: .drop, [rule])
        return Evaluator(snapshot: snapshot(t))
    }

    @Test func compilerEmitsKernelLayout() throws {
        let t = table(.inet)
        try t.set("nets", [.ipv4], interval: true, elements: ["10.0.0.0/8", "192.168.1.1"])
        let els = t.sets[0].elements
        #expect(els.map { $0.key.description } == ["c0a80102", "c0a80101", "0b000000", "0a000000", "00000000"])
        #expect(els.map(\.isIntervalEnd) == [true, false, true, false, true])
    }

    @Test func membershipAtTheEdges() throws {
        let e = try ev("ip saddr @nets accept")
        #expect(try e.verdict(.tcp, "10.255.255.255", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "11.0.0.0", "192.0.2.1", 22, "eth0") == .drop)  // exclusive END
        #expect(try e.verdict(.tcp, "9.255.255.255", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "192.168.1.1", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "192.168.1.2", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "203.0.113.20", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "203.0.113.21", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "0.0.0.0", "192.0.2.1", 22, "eth0") == .drop)  // leading 0 END opens nothing
    }

    @Test func invertedLookup() throws {
        let e = try ev("ip saddr != @nets accept")
        #expect(try e.verdict(.tcp, "10.1.2.3", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "11.0.0.0", "192.0.2.1", 22, "eth0") == .accept)
    }

    @Test func anonymousPortIntervals() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport { 1000-2000, 3000 } accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(t.sets[0].isInterval && t.sets[0].isAnonymous)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 2000, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 2001, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 3000, "eth0") == .accept)
        #expect(try e.verdict(.udp, "198.51.100.7", "192.0.2.1", 3000, "eth0") == .drop)
    }

    @Test func pipapoKeyEndIsInclusive() throws {
        let t = table(.inet)
        try t.set("cc", [.ipv4, .port], interval: true, elements: ["10.0.0.1 . 22-25", "198.51.100.0/24 . 80"])
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr . tcp dport @cc accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "10.0.0.1", "192.0.2.1", 25, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "10.0.0.1", "192.0.2.1", 26, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "198.51.100.255", "192.0.2.1", 80, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.255", "192.0.2.1", 22, "eth0") == .drop)
    }
}
