import HostModel
import Testing
@testable import Evaluator

/// `drop`/`reject` are final whatever later chains say; a base chain's policy applies when its rules decide nothing.
@Suite struct VerdictFinalityTests {
    @Test func dropIsFinalEvenWithLaterAccept() throws {
        let a = table(.ip, "a")
        try a.chain("input", hook: .input, priority: -10, ["tcp dport 22 drop"])
        let b = table(.inet, "b")
        try b.chain("input", hook: .input, priority: 0, ["tcp dport 22 accept"])
        let ev = Evaluator(snapshot: snapshot(a, b))
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(!r.path.contains { $0.table == "b" })
        #expect(r.listener?.port == 22)  // the socket it was meant for
        #expect(!r.delivered)
    }

    @Test func rejectIsFinalAndLabelled() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, ["tcp dport 22 reject", "tcp dport 22 accept"])
        let ev = Evaluator(snapshot: snapshot(a))
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .reject)
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .accept)
    }

    @Test func policyDropInAnyTableBlocks() throws {
        let a = table(.inet, "a")
        try a.chain("input", hook: .input, priority: 0, ["tcp dport 22 accept"])
        let b = table(.ip, "b")
        try b.chain("input", hook: .input, priority: 5, policy: .drop, ["tcp dport 80 accept"])
        let ev = Evaluator(snapshot: snapshot(a, b))
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.path.last?.action == .policy(.drop))
        #expect(r.path.last?.handle == nil)
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0") == .accept)
    }

    @Test func noFirewallDeliversToListener() throws {
        let ev = Evaluator(snapshot: snapshot())
        let r = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.delivered)
        let closed = try ev.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0"))
        #expect(closed.verdict == .accept)
        #expect(closed.listener == nil)
        #expect(!closed.delivered)
    }

    @Test func dormantTableFiltersNothing() throws {
        let a = table(.inet, "a")
        a.flags = 1
        try a.chain("input", hook: .input, policy: .drop, [])
        let ev = Evaluator(snapshot: snapshot(a))
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        a.flags = 0
        let ev2 = Evaluator(snapshot: snapshot(a))
        #expect(try ev2.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
    }
}
