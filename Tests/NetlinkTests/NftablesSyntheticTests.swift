import Foundation
import HostModel
@testable import Netlink
import Testing

/// Hand-built kernel replies and requests: the paths a quiet recorded capture cannot show (generation changes,
/// orphans, damaged bytes, attributes this version does not model) and the read-only request gate.
enum Wirefmt {
    static func attr(_ type: UInt16, _ value: [UInt8], nested: Bool = false) -> [UInt8] {
        let len = 4 + value.count
        let t = nested ? type | 0x8000 : type
        var out = [UInt8(len & 0xff), UInt8(len >> 8), UInt8(t & 0xff), UInt8(t >> 8)] + value
        while out.count % 4 != 0 { out.append(0) }
        return out
    }
    static func str(_ type: UInt16, _ s: String) -> [UInt8] { attr(type, Array(s.utf8) + [0]) }
    static func be32(_ type: UInt16, _ v: UInt32) -> [UInt8] { attr(type, withUnsafeBytes(of: v.bigEndian) { Array($0) }) }
    static func be64(_ type: UInt16, _ v: UInt64) -> [UInt8] { attr(type, withUnsafeBytes(of: v.bigEndian) { Array($0) }) }

    /// One nf_tables message: nlmsghdr + nfgenmsg(family, res_id) + attributes.
    static func message(_ nftType: UInt16, family: UInt8 = 1, resID: UInt16, _ attrs: [UInt8]) -> [UInt8] {
        var bytes = RequestBuilder(type: 10 << 8 | nftType, flags: 2, seq: 1, header: [family, 0, UInt8(resID >> 8), UInt8(resID & 0xff)]).bytes
        bytes += attrs
        let len = UInt32(bytes.count)
        for k in 0..<4 { bytes[k] = UInt8(len >> (8 * UInt32(k)) & 0xff) }
        return bytes
    }

    static func gen(_ id: UInt32) -> [UInt8] { message(15, family: 0, resID: UInt16(id & 0xffff), be32(1, id)) }
    static func table(_ name: String, resID: UInt16, flags: UInt32 = 0) -> [UInt8] {
        message(0, resID: resID, str(1, name) + be32(2, flags) + be64(4, 7))
    }
    static func chain(_ table: String, _ name: String, resID: UInt16) -> [UInt8] {
        message(3, resID: resID, str(1, table) + be64(2, 1) + str(3, name))
    }
    static func rule(_ table: String, _ chain: String, handle: UInt64, resID: UInt16, exprs: [[UInt8]]) -> [UInt8] {
        let list = exprs.map { attr(1, $0, nested: true) }.flatMap { $0 }
        return message(6, resID: resID, str(1, table) + str(2, chain) + be64(3, handle) + attr(4, list, nested: true))
    }
    static func expr(_ name: String, _ data: [UInt8]) -> [UInt8] { str(1, name) + attr(2, data, nested: true) }
}

@Suite struct NftablesSyntheticTests {
    @Test func everyRequestIsAnNftablesGet() {
        let requests: [NftablesRequest] = [
            .generation, .tables, .chains, .sets, .allRules,
            .setElements(family: 2, table: "t", set: "s"), .chainRules(family: 10, table: "t", chain: "c")
        ]
        for r in requests {
            let bytes = r.bytes(seq: 42)
            #expect(NftablesRequest.isReadOnly(bytes), "\(r)")
            let type = UInt16(bytes[4]) | UInt16(bytes[5]) << 8
            let flags = UInt16(bytes[6]) | UInt16(bytes[7]) << 8
            #expect(type >> 8 == 10 && [1, 4, 7, 10, 13, 16].contains(type & 0xff))
            #expect(bytes[17] == 0 && bytes[18] == 0 && bytes[19] == 0, "nfgenmsg version 0, res_id 0")
            #expect(flags & 1 == 1, "NLM_F_REQUEST")
            if r == .generation { #expect(flags == 0x5, "GETGEN is not a dump: REQUEST|ACK") } else { #expect(flags == 0x301) }
            #expect(bytes.count == Int(bytes[0]) | Int(bytes[1]) << 8)
        }
        #expect(NftablesRequest.setElements(family: 2, table: "t", set: "s").bytes(seq: 1)[16] == 2, "the set's table family")
        let perChain = NftablesRequest.chainRules(family: 10, table: "tb", chain: "ch").bytes(seq: 1)
        #expect(Array(perChain[20...]) == Wirefmt.str(1, "tb") + Wirefmt.str(2, "ch"))
    }

    @Test func theGateRejectsChangesAndOtherSubsystems() {
        func raw(_ type: UInt16) -> [UInt8] { RequestBuilder(type: type, flags: 5, seq: 1, header: [0, 0, 0, 0]).bytes }
        for type: UInt16 in [10 << 8 | 0, 10 << 8 | 2, 10 << 8 | 6, 10 << 8 | 8, 10 << 8 | 12, 0x10, 0x11, 9 << 8 | 1] {
            #expect(!NftablesRequest.isReadOnly(raw(type)), "type \(String(type, radix: 16))")
        }
        #expect(NftablesRequest.isReadOnly(raw(10 << 8 | 1)))
        #expect(!NftablesRequest.isReadOnly([1, 2, 3]))
    }

    private func replay(_ messages: [[UInt8]]) throws -> RulesetAssembler {
        try RulesetAssembler.replay([messages.flatMap { $0 }])
    }

    @Test func resIDFromAnotherGenerationIsDetected() throws {
        let gen: UInt32 = 0x1_0005
        let ok = try replay([Wirefmt.gen(gen), Wirefmt.table("a", resID: 5), Wirefmt.gen(gen)])
        #expect(ok.isConsistent && ok.generation == gen && ok.result.map(\.name) == ["a"])
        let mixed = try replay([Wirefmt.gen(gen), Wirefmt.table("a", resID: 5), Wirefmt.table("b", resID: 6), Wirefmt.gen(gen)])
        #expect(mixed.generationChanged)
        let changed = try replay([Wirefmt.gen(gen), Wirefmt.table("a", resID: 5), Wirefmt.gen(gen + 1)])
        #expect(changed.generationChanged && !changed.isConsistent)
    }

    @Test func objectsOfUnseenParentsMarkThePassInconsistent() throws {
        let a = try replay([Wirefmt.gen(3), Wirefmt.table("t", resID: 3), Wirefmt.rule("t", "gone", handle: 4, resID: 3, exprs: [])])
        #expect(a.sawOrphan && !a.isConsistent)
        let b = try replay([
            Wirefmt.gen(3), Wirefmt.table("t", resID: 3), Wirefmt.chain("t", "c", resID: 3),
            Wirefmt.rule("t", "c", handle: 4, resID: 3, exprs: [])
        ])
        #expect(b.isConsistent)
        #expect(b.result.first?.chains.first?.rules == [Rule(handle: 4, expressions: [])])
    }

    @Test func expressionsWithUnmodelledOrDamagedAttributesBecomeUnknown() throws {
        let goodCmp = Wirefmt.be32(1, 1) + Wirefmt.be32(2, 0) + Wirefmt.attr(3, Wirefmt.attr(1, [0x00, 0x16]), nested: true)
        let extraAttr = goodCmp + Wirefmt.be32(9, 7)
        let shortReg = Wirefmt.attr(1, [1, 0]) + Wirefmt.be32(2, 0) + Wirefmt.attr(3, Wirefmt.attr(1, [0x16]), nested: true)
        let badOp = Wirefmt.be32(1, 1) + Wirefmt.be32(2, 99) + Wirefmt.attr(3, Wirefmt.attr(1, [0x16]), nested: true)
        let a = try replay([
            Wirefmt.gen(3), Wirefmt.table("t", resID: 3), Wirefmt.chain("t", "c", resID: 3),
            Wirefmt.rule(
                "t", "c", handle: 4, resID: 3,
                exprs: [
                    Wirefmt.expr("cmp", goodCmp), Wirefmt.expr("cmp", extraAttr), Wirefmt.expr("cmp", shortReg),
                    Wirefmt.expr("cmp", badOp), Wirefmt.expr("tunnel", Wirefmt.be32(1, 2)), Wirefmt.expr("notrack", [])
                ])
        ])
        let exprs = try #require(a.result.first?.chains.first?.rules.first?.expressions)
        #expect(exprs.count == 6)
        #expect(exprs[0] == .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([0x00, 0x16]))))
        for (i, e) in exprs.enumerated() where [1, 2, 3].contains(i) {
            guard case .unknown(let u) = e else { Issue.record("expression \(i) should be unknown: \(e)"); continue }
            #expect(u.name == "cmp")
            #expect(u.attributes.count == (i == 1 ? 4 : 3), "every raw attribute is kept")
        }
        #expect(exprs[4] == .unknown(Unknown(name: "tunnel", attributes: [RawAttribute(type: 1, value: Bytes([0, 0, 0, 2]))])))
        #expect(exprs[5] == .notrack)
    }

    @Test func truncatedBytesThrowInsteadOfCrashing() throws {
        var rule = Wirefmt.rule("t", "c", handle: 4, resID: 3, exprs: [Wirefmt.expr("cmp", Wirefmt.be32(1, 1))])
        // Claim a longer attribute than the message holds: the innermost length field of the last attribute.
        rule[rule.count - 8] = 0xff
        #expect(throws: NetlinkError.self) {
            _ = try replay([Wirefmt.gen(3), Wirefmt.table("t", resID: 3), Wirefmt.chain("t", "c", resID: 3), rule])
        }
        #expect(throws: NetlinkError.self) {
            _ = try RulesetAssembler.replay([[16, 0, 0, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]) /* nf_tables without nfgenmsg */
        }
        #expect(throws: NetlinkError.self) { _ = try NetlinkRecorder.datagrams(in: Data([9, 0, 0, 0, 1])) }
    }

    @Test func errorRepliesInACaptureSurfaceAsKernelErrors() throws {
        // NLMSG_ERROR with -EPERM, as the kernel answers a GETGEN without CAP_NET_ADMIN.
        var msg = RequestBuilder(type: 2, flags: 0, seq: 1, header: withUnsafeBytes(of: Int32(-1)) { Array($0) } + Array(repeating: 0, count: 16))
            .bytes
        msg[0] = UInt8(msg.count)
        #expect(throws: NetlinkError.kernel(request: "a recorded request", errno: 1)) { _ = try RulesetAssembler.replay([msg]) }
    }
}
