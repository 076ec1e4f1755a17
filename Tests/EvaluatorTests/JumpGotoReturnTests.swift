import HostModel
import Testing
@testable import Evaluator

/// jump pushes a return point, goto does not; `return` in a base chain (or its end) applies the policy.
@Suite struct JumpGotoReturnTests {
    @Test func jumpToEmptyChainComesBack() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["jump sub", "accept"])
        try t.chain("sub", [])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
        #expect(r.path.map(\.action) == [.jump("sub"), .accept])
    }

    @Test func gotoToEmptyChainAppliesPolicy() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["goto sub", "accept"])
        try t.chain("sub", [])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .drop)
        #expect(r.path.last?.action == .policy(.drop))
    }

    @Test func gotoInsideJumpReturnsToJumpSite() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["jump sub3", "accept"])
        try t.chain("sub3", ["goto sub"])
        try t.chain("sub", ["counter"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .accept)
    }

    @Test func returnInBaseChainAppliesPolicy() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 return", "accept"])
        let ev = Evaluator(snapshot: snapshot(t))
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .drop)
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0") == .accept)
    }

    @Test func returnInRegularChainResumesAfterJump() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["jump sub", "tcp dport 22 accept"])
        try t.chain("sub", ["tcp dport 22 return", "drop"])
        let ev = Evaluator(snapshot: snapshot(t))
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .drop)
    }

    @Test func acceptInRegularChainEndsTheBaseChain() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, priority: 0, ["jump sub", "drop"])
        try t.chain("sub", ["tcp dport 22 accept"])
        let ev = Evaluator(snapshot: snapshot(t))
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try ev.verdict(.tcp, "198.51.100.7", "192.0.2.1", 23, "eth0") == .drop)
    }

    @Test func continueFallsThrough() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["tcp dport 22 continue", "tcp dport 22 accept"])
        #expect(try Evaluator(snapshot: snapshot(t)).verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
    }
}

/// Malformed input (a goto loop the kernel would have refused) ends as undecidable instead of hanging.
@Suite struct MalformedRulesetTests {
    @Test func gotoLoopIsBounded() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["goto a"])
        try t.chain("a", ["goto b"])
        try t.chain("b", ["goto a"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
    }

    @Test func jumpToMissingChainIsUndecidable() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .accept, ["jump nowhere"])
        let r = try Evaluator(snapshot: snapshot(t)).trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0"))
        #expect(r.verdict == .conditional)
        #expect(r.reasons == ["jump to missing chain nowhere"])
    }

    @Test func badProbeAddresses() throws {
        let e = Evaluator(snapshot: snapshot())
        #expect(throws: ProbeError.badAddress(field: "src", value: "nope")) { try e.trace(probe(.tcp, "nope", "192.0.2.1", 22, "eth0")) }
        #expect(throws: ProbeError.familyMismatch(src: "2001:db8::7", dst: "192.0.2.1")) {
            try e.trace(probe(.tcp, "2001:db8::7", "192.0.2.1", 22, "eth0"))
        }
    }
}
