import Foundation
import HostModel
@testable import Netlink
import Testing

/// What libnftnl must never see, and what must survive it: an expression it does not know (a newer kernel's) stays
/// `unknown` at its place with its raw attributes and the rule is kept; bytes libnftnl would end the process on
/// (`abi_breakage()`) are refused with `NetlinkError` or kept as `unknown` first.
@Suite struct NftnlDecodingTests {
    typealias W = Wirefmt

    private func replay(_ messages: [[UInt8]]) throws -> RulesetAssembler {
        try RulesetAssembler.replay([messages.flatMap { $0 }])
    }

    private func rules(_ exprs: [[UInt8]]) throws -> [HostModel.Expression] {
        let a = try replay([
            W.gen(3), W.table("t", resID: 3), W.chain("t", "c", resID: 3), W.rule("t", "c", handle: 9, resID: 3, exprs: exprs)
        ])
        let rule = try #require(a.result.first?.chains.first?.rules.first, "the rule is kept")
        #expect(rule.handle == 9)
        return rule.expressions
    }

    static let meta = W.expr("meta", W.be32(1, 1) + W.be32(2, 16))  // meta l4proto → reg 1
    static let cmp = W.expr("cmp", W.be32(1, 1) + W.be32(2, 0) + W.attr(3, W.attr(1, [6]), nested: true))
    static let accept = W.expr("immediate", W.be32(1, 0) + W.attr(2, W.attr(2, W.be32(1, 1), nested: true), nested: true))
    static let futurexData = W.be32(1, 7) + W.attr(2, W.str(1, "x"), nested: true) + W.attr(3, [1, 2, 3])
    static let futurex = W.expr("futurex", futurexData)

    static let futurexUnknown = HostModel.Expression.unknown(
        Unknown(
            name: "futurex",
            attributes: [
                RawAttribute(type: 1, value: Bytes([0, 0, 0, 7])), RawAttribute(type: 2, value: Bytes(W.str(1, "x"))),
                RawAttribute(type: 3, value: Bytes([1, 2, 3]))
            ]))

    @Test func anExpressionLibnftnlDoesNotKnowStaysUnknownInPlace() throws {
        let exprs = try rules([Self.meta, Self.cmp, Self.futurex, Self.accept])
        #expect(
            exprs == [
                .meta(Meta(key: 16, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))), Self.futurexUnknown,
                .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
    }

    @Test func unknownExpressionsFirstLastAndAlone() throws {
        #expect(try rules([Self.futurex, Self.meta, Self.futurex]) == [Self.futurexUnknown, .meta(Meta(key: 16, dreg: 1)), Self.futurexUnknown])
        #expect(try rules([Self.futurex]) == [Self.futurexUnknown])
        #expect(try rules([]) == [])
    }

    @Test func misSizedAttributesOfKnownExpressionsStayUnknownInsteadOfEndingTheProcess() throws {
        // libnftnl calls exit(1) on each of these; here they never reach it.
        let payload = W.expr("payload", W.be32(1, 1) + W.attr(2, [1, 0]) + W.be32(3, 0) + W.be32(4, 1))
        let limit = W.expr("limit", W.be32(1, 5) + W.be64(2, 1))
        let badVerdict = W.expr("immediate", W.be32(1, 0) + W.attr(2, W.attr(2, W.attr(1, [1]), nested: true), nested: true))
        let nestedFuturex = W.expr("dynset", W.str(1, "m") + W.be32(3, 0) + W.be32(4, 1) + W.attr(7, Self.futurex, nested: true))
        let shortData = W.str(1, "meta") + W.attr(2, [0, 0], nested: true)
        let exprs = try rules([payload, Self.meta, limit, badVerdict, nestedFuturex, shortData, Self.accept])
        #expect(exprs.map(\.name) == ["payload", "meta", "limit", "immediate", "dynset", "meta", "immediate"])
        #expect(exprs[5] == .unknown(Unknown(name: "meta", attributes: [])))
        for i in [0, 2, 3, 4] {
            guard case .unknown = exprs[i] else { Issue.record("expression \(i) should be unknown: \(exprs[i])"); continue }
        }
        #expect(exprs[1] == .meta(Meta(key: 16, dreg: 1)))
    }

    @Test func objectsLibnftnlWouldEndTheProcessOnAreMalformed() throws {
        let head = [W.gen(3), W.table("t", resID: 3)]
        // NFTA_TABLE_FLAGS of two bytes.
        #expect(throws: NetlinkError.self) { _ = try replay([W.gen(3), W.message(0, resID: 3, W.str(1, "t") + W.attr(2, [0, 0]))]) }
        // A chain hook whose device list holds a name without its NUL.
        let devs = W.attr(4, W.attr(1, Array("eth0".utf8)), nested: true)
        let hook = W.attr(4, W.be32(1, 0) + W.be32(2, 0) + devs, nested: true)
        #expect(throws: NetlinkError.self) { _ = try replay(head + [W.message(3, resID: 3, W.str(1, "t") + W.str(3, "c") + hook)]) }
        // A set description with 17 concatenated fields (libnftnl keeps 16 in a fixed array).
        let fields = (0..<17).map { _ in W.attr(1, W.be32(1, 4), nested: true) }.flatMap { $0 }
        let desc = W.attr(9, W.attr(2, fields, nested: true), nested: true)
        #expect(throws: NetlinkError.self) { _ = try replay(head + [W.message(9, resID: 3, W.str(1, "t") + W.str(2, "s") + desc)]) }
        // Nests of one to three bytes: chain counters, a set description, an element list, a rule's compat.
        #expect(throws: NetlinkError.self) {
            _ = try replay(head + [W.message(3, resID: 3, W.str(1, "t") + W.str(3, "c") + W.attr(8, [0, 0], nested: true))])
        }
        #expect(throws: NetlinkError.self) {
            _ = try replay(head + [W.message(9, resID: 3, W.str(1, "t") + W.str(2, "s") + W.attr(9, [0, 0], nested: true))])
        }
        #expect(throws: NetlinkError.self) {
            _ = try replay(head + [W.message(12, resID: 3, W.str(1, "t") + W.str(2, "s") + W.attr(3, [0, 0], nested: true))])
        }
        #expect(throws: NetlinkError.self) {
            let rule = W.str(1, "t") + W.str(2, "c") + W.be64(3, 1) + W.attr(5, [0, 0], nested: true)
            _ = try replay(head + [W.chain("t", "c", resID: 3), W.message(6, resID: 3, rule)])
        }
        // A rule handle of four bytes.
        #expect(throws: NetlinkError.self) {
            _ = try replay(head + [W.chain("t", "c", resID: 3), W.message(6, resID: 3, W.str(1, "t") + W.str(2, "c") + W.be32(3, 1))])
        }
    }

    @Test func setAndElementExpressionsLibnftnlDoesNotKnowAreLeftOut() throws {
        let set = W.message(9, resID: 3, W.str(1, "t") + W.str(2, "s") + W.be32(4, 13) + W.be32(5, 2) + W.attr(17, Self.futurex, nested: true))
        let key = W.attr(1, W.attr(1, [0, 22]), nested: true)
        let element = key + W.be32(3, 0) + W.attr(7, Self.futurex, nested: true) + W.attr(15, [9, 9, 9, 9])
        let elements = W.message(12, resID: 3, W.str(1, "t") + W.str(2, "s") + W.attr(3, W.attr(1, element, nested: true), nested: true))
        let a = try replay([W.gen(3), W.table("t", resID: 3), set, elements])
        let decoded = try #require(a.result.first?.set(named: "s"))
        #expect(decoded.keyType == 13 && decoded.keyLength == 2)
        #expect(decoded.elements == [SetElement(key: Bytes([0, 22]))])
    }

    /// libmnl reads top-level attributes up to the message length rounded up to 4: an attribute header that starts
    /// inside an unaligned message and ends past it (a zero-length NFTA_SET_FLAGS, on which libnftnl exits) is never
    /// handed over. Found by `make fuzz-nftables` (Fuzz/Regressions/nftables/unaligned-set-message-length).
    @Test func anUnalignedMessageLengthIsRefusedBeforeLibnftnlReadsPastIt() throws {
        var set = W.message(9, resID: 3, W.str(1, "t") + W.str(2, "s") + [4, 0, 3, 0])
        let length = UInt32(set.count - 2)
        for k in 0..<4 { set[k] = UInt8(length >> (8 * UInt32(k)) & 0xff) }
        #expect(throws: NetlinkError.self) { _ = try replay([W.gen(3), W.table("t", resID: 3), set]) }
        // The same set with its length aligned decodes.
        let whole = W.message(9, resID: 3, W.str(1, "t") + W.str(2, "s") + W.be32(3, 0) + W.be32(4, 13) + W.be32(5, 2))
        #expect(try replay([W.gen(3), W.table("t", resID: 3), whole]).result.first?.set(named: "s") != nil)
    }

    /// Random damage to the recorded captures: every outcome is a result or a `NetlinkError`, never a trap or an
    /// exit inside libnftnl (which would end this test process).
    @Test func damagedCapturesNeverEndTheProcess() throws {
        let datagrams = try Capture.datagrams("varied-perChain.nlcap")
        var rng = SplitMix(seed: 0x5eed)
        var decoded = 0, refused = 0
        for _ in 0..<3000 {
            let d = Int(rng.next() % UInt64(datagrams.count))
            var damaged = datagrams[d]
            for _ in 0...(rng.next() % 3) {
                let at = 16 + Int(rng.next() % UInt64(max(1, damaged.count - 16)))
                if at < damaged.count { damaged[at] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            do {
                _ = try RulesetAssembler.replay(Array(datagrams[..<d]) + [damaged])
                decoded += 1
            } catch is NetlinkError {
                refused += 1
            }
        }
        #expect(decoded > 0 && refused > 0, "the damage produced both outcomes (\(decoded) decoded, \(refused) refused)")
    }
}

/// A small seeded generator (SplitMix64), so the damage is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
