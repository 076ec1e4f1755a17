import HostModel
import Testing
import RulesetSource

@Suite struct InterfaceIndexesTests {
    static func le(_ v: UInt32) -> Bytes { Bytes([UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]) }

    @Test func iifAndOifComparesAndIndexSetsAreTranslated() {
        let iif = Rule(
            handle: 2,
            expressions: [
                .meta(Meta(key: 4, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Self.le(7))), .immediate(Immediate(dreg: 0, verdict: .accept))
            ])
        let other = Rule(handle: 3, expressions: [.meta(Meta(key: 3, dreg: 1)), .cmp(Cmp(sreg: 1, op: .eq, data: Self.le(7)))])
        let set = NFTSet(name: "ifs", keyType: 20, keyLength: 4, elements: [SetElement(key: Self.le(7)), SetElement(key: Self.le(9))])
        let fw = Firewall(status: .ok, tables: [Table(family: .inet, name: "f", chains: [Chain(name: "input", rules: [iif, other])], sets: [set])])
        let out = InterfaceIndexes.remap(fw, [7: 3])
        #expect(out.tables[0].chains[0].rules[0].expressions[1] == .cmp(Cmp(sreg: 1, op: .eq, data: Self.le(3))))
        // A mark compare with the same bytes is not an interface index.
        #expect(out.tables[0].chains[0].rules[1] == other)
        #expect(out.tables[0].sets[0].elements.map(\.key) == [Self.le(3), Self.le(9)])
        #expect(InterfaceIndexes.remap(fw, [:]) == fw)
    }
}
