import Foundation
import HostModel
@testable import Netlink
import Testing

/// Every expression kind the decoder models, in the forms the recorded captures lack, plus near misses that must stay
/// `unknown` (an unmodelled attribute, a value out of range, a mis-sized or missing attribute). The decoded rules are
/// pinned in `Captures/crafted-expressions.json`, recorded from the hand-written decoder before libnftnl replaced it.
@Suite struct ExpressionGoldenTests {
    typealias W = Wirefmt
    static func u8(_ t: UInt16, _ v: UInt8) -> [UInt8] { W.attr(t, [v]) }
    static func be16(_ t: UInt16, _ v: UInt16) -> [UInt8] { W.attr(t, [UInt8(v >> 8), UInt8(v & 0xff)]) }
    static func value(_ t: UInt16, _ bytes: [UInt8]) -> [UInt8] { W.attr(t, W.attr(1, bytes), nested: true) }
    static func verdict(_ t: UInt16, _ code: Int32, chain: String? = nil) -> [UInt8] {
        let inner = W.be32(1, UInt32(bitPattern: code)) + (chain.map { W.str(2, $0) } ?? [])
        return W.attr(t, W.attr(2, inner, nested: true), nested: true)
    }
    static func nestedExpr(_ name: String, _ data: [UInt8]) -> [UInt8] { W.expr(name, data) }

    /// (name, data) of each crafted expression, one rule each.
    static let cases: [(String, [UInt8])] = [
        ("payload", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 12) + W.be32(4, 4)),
        ("payload", W.be32(5, 1) + W.be32(2, 2) + W.be32(3, 2) + W.be32(4, 2) + W.be32(6, 1) + W.be32(7, 16) + W.be32(8, 1)),
        ("payload", W.be32(1, 1) + W.be32(2, 9) + W.be32(3, 0) + W.be32(4, 1)),
        ("payload", W.be32(1, 1) + W.be32(5, 1) + W.be32(2, 1) + W.be32(3, 0) + W.be32(4, 1)),
        ("meta", W.be32(2, 7) + W.be32(3, 1)),
        ("meta", W.be32(2, 7)),
        ("cmp", W.be32(1, 1) + W.be32(2, 5) + value(3, [1, 2])),
        ("cmp", W.be32(1, 1) + W.be32(2, 0) + verdict(3, 1)),
        ("bitwise", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 2) + W.be32(6, 1) + value(7, [4, 0, 0, 0])),
        ("bitwise", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 4) + W.be32(6, 3)),
        ("bitwise", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 4) + W.be32(8, 2)),
        ("byteorder", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 0) + W.be32(4, 2) + W.be32(5, 2)),
        ("byteorder", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 0) + W.be32(4, 2)),
        ("range", W.be32(1, 1) + W.be32(2, 1) + value(3, [0]) + value(4, [9])),
        ("range", W.be32(1, 1) + W.be32(2, 2) + value(3, [0]) + value(4, [9])),
        ("lookup", W.str(1, "s") + W.be32(2, 1) + W.be32(3, 0) + W.be32(4, 3) + W.be32(5, 1)),
        ("lookup", W.str(1, "s") + W.be32(2, 1) + W.be32(5, 2)),
        ("immediate", W.be32(1, 0) + verdict(2, -3, chain: "next")),
        ("immediate", W.be32(1, 0) + verdict(2, -4, chain: "other")),
        ("immediate", W.be32(1, 0) + verdict(2, 0)),
        ("immediate", W.be32(1, 0) + verdict(2, -1)),
        ("immediate", W.be32(1, 0) + verdict(2, -2)),
        ("immediate", W.be32(1, 0) + verdict(2, 3)),
        ("immediate", W.be32(1, 2) + value(2, [0xc0, 0, 2, 1, 0, 0x50])),
        ("ct", W.be32(2, 3) + W.be32(4, 1)),
        ("ct", W.be32(1, 1) + W.be32(2, 2) + u8(3, 1)),
        ("ct", W.be32(2, 3)),
        ("fib", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 5)),
        ("nat", W.be32(1, 0) + W.be32(2, 10) + W.be32(3, 1)),
        ("nat", W.be32(1, 0)),
        ("masq", W.be32(1, 4) + W.be32(2, 1) + W.be32(3, 1)),
        ("masq", []),
        ("redir", W.be32(3, 4)),
        ("reject", W.be32(1, 0) + u8(2, 1)),
        ("reject", W.be32(1, 0) + W.be32(2, 1)),
        ("counter", W.be64(1, 10) + W.be64(2, 1000)),
        ("counter", W.be64(1, 10) + W.be64(4, 1)),
        ("notrack", []),
        ("notrack", W.be32(1, 1)),
        ("log", be16(1, 5) + W.str(2, "drop: ") + W.be32(3, 64) + be16(4, 2) + W.be32(6, 3)),
        ("log", []),
        ("log", W.be32(7, 1)),
        ("limit", W.be64(1, 100) + W.be64(2, 60) + W.be32(3, 0) + W.be32(4, 1) + W.be32(5, 1)),
        ("limit", W.be64(1, 100) + W.be64(2, 60) + W.be32(5, 2)),
        ("quota", W.be64(1, 1_000_000) + W.be32(2, 1) + W.be64(4, 5000)),
        ("quota", W.be64(1, 1_000_000) + W.be32(2, 2)),
        ("quota", W.be32(2, 0)),
        ("connlimit", W.be32(1, 10) + W.be32(2, 1)),
        ("connlimit", W.be32(1, 10) + W.be32(2, 4)),
        ("numgen", W.be32(1, 1) + W.be32(2, 2) + W.be32(3, 0) + W.be32(4, 100)),
        ("numgen", W.be32(1, 1) + W.be32(2, 2) + W.be32(3, 1)),
        ("hash", W.be32(1, 1) + W.be32(2, 1) + W.be32(3, 4) + W.be32(4, 10) + W.be32(5, 7) + W.be32(6, 0) + W.be32(7, 0)),
        ("hash", W.be32(2, 1) + W.be32(4, 2) + W.be32(7, 1)),
        ("hash", W.be32(2, 1) + W.be32(4, 2) + W.str(8, "s")),
        ("socket", W.be32(1, 1) + W.be32(2, 1)),
        ("socket", W.be32(1, 3) + W.be32(2, 1) + W.be32(3, 1)),
        (
            "dynset",
            W.str(1, "meter") + W.be32(3, 1) + W.be32(4, 1) + W.be64(6, 60000)
                + W.attr(7, nestedExpr("limit", W.be64(1, 5) + W.be64(2, 1)), nested: true)
        ),
        (
            "dynset",
            W.str(1, "m2") + W.be32(3, 0) + W.be32(4, 1) + W.be32(5, 2) + W.be32(9, 1)
                + W.attr(
                    10, W.attr(1, nestedExpr("counter", []), nested: true) + W.attr(1, nestedExpr("quota", W.be64(1, 9)), nested: true), nested: true)
        ),
        ("dynset", W.str(1, "m3") + W.be32(3, 0)),
        ("objref", W.be32(1, 1) + W.str(2, "cnt")),
        ("objref", W.be32(3, 1) + W.str(4, "omap") + W.be32(5, 3)),
        ("objref", W.be32(1, 1)),
        ("queue", be16(1, 3) + be16(2, 2) + be16(3, 1)),
        ("queue", []),
        ("queue", W.be32(4, 1)),
        ("exthdr", W.be32(1, 1) + u8(2, 2) + W.be32(3, 2) + W.be32(4, 2) + W.be32(5, 1) + W.be32(6, 1)),
        ("exthdr", u8(2, 2) + W.be32(3, 2) + W.be32(4, 2) + W.be32(7, 1)),
        ("match", W.str(1, "conntrack") + W.be32(2, 3) + W.attr(3, [1, 2, 3, 4, 5, 6, 7, 8])),
        ("match", W.str(1, "udp") + W.be32(2, 0)),
        ("target", W.str(1, "LOG") + W.be32(2, 0) + W.attr(3, Array(repeating: 0, count: 12))),
        ("target", W.str(1, "LOG")),
        ("osf", W.be32(1, 1)),
        ("cmp", W.be32(1, 1) + W.be32(2, 0) + W.attr(3, W.attr(1, [0x16]) + W.attr(5, [1]), nested: true)),
        ("cmp", W.be32(1, 1) + W.be32(2, 0) + W.attr(3, [], nested: true))
    ]

    static func decode() throws -> [Rule] {
        var messages = [W.gen(3), W.table("t", resID: 3), W.chain("t", "c", resID: 3)]
        for (i, (name, data)) in cases.enumerated() {
            messages.append(W.rule("t", "c", handle: UInt64(i + 1), resID: 3, exprs: [W.expr(name, data)]))
        }
        let assembler = try RulesetAssembler.replay([messages.flatMap { $0 }])
        return try #require(assembler.result.first?.chains.first?.rules)
    }

    @Test func everyCraftedExpressionDecodesAsPinned() throws {
        let rules = try Self.decode()
        #expect(rules.count == Self.cases.count)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text = String(decoding: try encoder.encode(rules), as: UTF8.self) + "\n"
        let url = RulesetGoldenTests.directory.appendingPathComponent("crafted-expressions.json")
        if ProcessInfo.processInfo.environment["RECORD_GOLDENS"] == "1" {
            try Data(text.utf8).write(to: url)
            return
        }
        #expect(text == (try String(contentsOf: url, encoding: .utf8)), "crafted-expressions.json differs (RECORD_GOLDENS=1 rewrites it)")
    }

    @Test func typedAndUnknownAreBothCovered() throws {
        let kinds = try Self.decode().compactMap(\.expressions.first)
        let unknown = kinds.filter { if case .unknown = $0 { true } else { false } }
        #expect(unknown.count >= 15, "the near misses stay unknown")
        let typed = kinds.filter { if case .unknown = $0 { false } else { true } }
        #expect(Set(typed.map(\.name)).count == 29, "every modelled kind appears typed")
    }
}
