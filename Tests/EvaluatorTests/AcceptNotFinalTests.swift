import HostModel
import Testing
@testable import Evaluator

/// `accept` ends only its own base chain: a later base chain (any table, any family) can still drop.
@Suite struct AcceptNotFinalTests {
    @Test func laterTableDropsAfterAccept() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, ["tcp dport 22 accept"])
        let b = table(.ip, "b")
        try b.chain("input", hook: .input, priority: 10, ["tcp dport 22 drop"])
        let ev = Evaluator(snapshot: snapshot(a, b))
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.delivered == false)
        #expect(r.path.map(\.table) == ["a", "b"])
        #expect(r.path.last?.action == .drop)
        #expect(r.path.last?.handle != nil)
    }

    @Test func orderFollowsSignedPriorityNotTableOrder() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 10, ["tcp dport 22 drop"])
        let b = table(.ip, "b")
        try b.chain("input", hook: .input, priority: -10, ["tcp dport 22 accept"])
        let ev = Evaluator(snapshot: snapshot(a, b))
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.path.map(\.table) == ["b", "a"])
    }

    @Test func acceptEverywhereDelivers() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, policy: .drop, ["tcp dport 22 accept"])
        let b = table(.ip6, "b")
        try b.chain("input", hook: .input, priority: 10, policy: .drop, [])
        let ev = Evaluator(snapshot: snapshot(a, b))
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        #expect(r.listener?.port == 22)
        #expect(r.listener?.processes.first?.name == "sshd")
        // the ip6 table does not see IPv4
        #expect(!r.path.contains { $0.table == "b" })
    }
}
