import HostModel
import Testing
@testable import Evaluator

/// ufw's `limit` (xt `recent`): a source in none of the snapshot's lists is decided, a listed one is conditional.
@Suite struct XtRecentTests {
    /// xt_recent_mtinfo_v1 in host byte order: seconds, hit_count, check_set, invert, name[200], side, pad, mask[16].
    static func info(seconds: UInt32, hits: UInt32, flags: UInt8, name: String = "DEFAULT", invert: Bool = false) -> Xt {
        var b: [UInt8] = []
        for v in [seconds, hits] { b += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
        b += [flags, invert ? 1 : 0]
        b += Array(name.utf8) + [UInt8](repeating: 0, count: 200 - name.utf8.count)
        b += [0, 0] + [UInt8](repeating: 0xff, count: 16)
        return Xt(name: "recent", revision: 1, info: Bytes(b))
    }

    /// ufw's three rules for `ufw limit 22/tcp`, with `listed` in the list and `hits` as its --hitcount.
    static func evaluator(listed: [String]?, hits: UInt32 = 6) throws -> Evaluator {
        let t = table(.ip, "filter")
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 counter", "tcp dport 22 drop", "tcp dport 22 accept"])
        t.chains[0].rules[0].expressions.append(.match(info(seconds: 0, hits: 0, flags: 0x02)))
        let verdictAt = t.chains[0].rules[1].expressions.count - 1
        t.chains[0].rules[1].expressions.insert(.match(info(seconds: 30, hits: hits, flags: 0x04)), at: verdictAt)
        var snap = snapshot(t)
        snap.firewall.recentLists = listed.map { [RecentList(name: "DEFAULT", addresses: $0)] }
        return Evaluator(snapshot: snap)
    }

    @Test func aSourceInNoListGetsItsFirstConnectionThrough() throws {
        let e = try Self.evaluator(listed: ["198.51.100.7"])
        let r = try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept && r.delivered)
        let listed = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(listed.verdict == .conditional)
        #expect(listed.reasons.contains { $0.contains("xt recent list DEFAULT") })
    }

    /// Exposure splits the sources: every address but the listed one is decided, so the port is public.
    @Test func exposureIsPublicWithOnlyTheListedSourceConditional() throws {
        let e = try Self.evaluator(listed: ["198.51.100.7"])
        let x = try #require(e.exposure().first)
        #expect(x.summary == .public)
        let conditional = x.regions.filter { $0.verdict == .conditional }
        #expect(!conditional.isEmpty && conditional.allSatisfy { $0.sources == ["198.51.100.7"] })
    }

    /// With --hitcount 1 this path's own --set already counts: the update matches and drops, decided.
    @Test func thePathsOwnSetCounts() throws {
        let e = try Self.evaluator(listed: [], hits: 1)
        #expect(try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 22, "eth0")).verdict == .drop)
    }

    /// Lists not in the snapshot (older snapshots, unreadable /proc/net/xt_recent): conditional, as before.
    @Test func listsNotReadStayConditional() throws {
        let e = try Self.evaluator(listed: nil)
        #expect(try e.trace(probe(.tcp, "203.0.113.9", "192.0.2.1", 22, "eth0")).verdict == .conditional)
    }
}
