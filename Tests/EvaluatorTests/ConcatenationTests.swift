import HostModel
import Testing
@testable import Evaluator

/// Concatenations load each component into consecutive 4-byte slots, padding every component to 4 bytes.
@Suite struct ConcatenationTests {
    @Test func saddrDotDportUsesPaddedSlots() throws {
        let t = table(.inet)
        try t.set("cc", [.ipv4, .port], elements: ["198.51.100.7 . 22", "203.0.113.9 . 5432"])
        try t.chain("input", hook: .input, policy: .drop, ["ip saddr . tcp dport @cc accept"])
        // the compiled rule loads the port into reg 9 (slot 5), the key is 8 bytes
        let rule = t.chains[0].rules[0]
        #expect(
            rule.expressions.contains {
                if case .payload(let p) = $0 { return p.dreg == 9 && p.offset == 2 }; return false
            })
        #expect(t.sets[0].keyLength == 8)
        #expect(t.sets[0].elements[0].key.description == "c6336407" + "00160000")
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 22, "eth0") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "192.0.2.1", 5432, "eth0") == .drop)
        #expect(try e.verdict(.tcp, "203.0.113.9", "192.0.2.1", 5432, "eth0") == .accept)
    }

    @Test func ifnameDotPort() throws {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, ["iifname . tcp dport { eth1 . 22 } accept"])
        let e = Evaluator(snapshot: snapshot(t))
        #expect(try e.verdict(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth1") == .accept)
        #expect(try e.verdict(.tcp, "198.51.100.7", "198.51.100.1", 22, "eth0") == .drop)
    }
}
