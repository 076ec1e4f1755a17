import Foundation
import HostModel
import Testing
@testable import RulesetSource

@Suite struct RulesetSourceMapTests {
    static let text = """
        #!/usr/sbin/nft -f
        flush ruleset
        define admins = { 198.51.100.0/24 }

        table inet filter {
        \tset blocked { type ipv4_addr; flags interval; elements = { 203.0.113.0/24 } }
        \tchain input {
        \t\ttype filter hook input priority filter; policy drop;
        \t\tct state established,related accept   # comment { with a brace
        \t\tiif "lo" accept
        \t\ttcp dport { 80, 443,
        \t\t            8080 } accept
        \t\tip saddr $admins tcp dport 22 \\
        \t\t    accept
        \t\tct state vmap { invalid : drop, new : continue }
        \t}
        \tchain fwd { type filter hook forward priority 0; policy drop; }
        }
        add rule inet filter input udp dport 53 accept
        table ip nat {
        \tchain pre { type nat hook prerouting priority dstnat; tcp dport 8443 redirect to :443; }
        }
        """

    static func firewall(_ counts: [String: Int]) -> Firewall {
        var handle: UInt64 = 1
        func rules(_ n: Int) -> [Rule] {
            (0..<n).map { _ in
                handle += 1; return Rule(handle: handle, expressions: [])
            }
        }
        return Firewall(
            status: .ok,
            tables: [
                Table(family: .inet, name: "filter", chains: [Chain(name: "input", rules: rules(counts["input"] ?? 0)), Chain(name: "fwd")]),
                Table(family: .ip, name: "nat", chains: [Chain(name: "pre", rules: rules(counts["pre"] ?? 0))])
            ])
    }

    @Test func rulesMapToTheirLinesInChainOrder() {
        var map = RulesetSourceMap(text: Self.text, file: "nftables.conf")
        let key = RulesetSourceMap.ChainKey(family: "inet", table: "filter", chain: "input")
        #expect(map.rules[key]?.map(\.line) == [9, 10, 11, 13, 15, 19])
        #expect(map.rules[key]?.first?.column == 3)
        #expect(map.chains[key]?.line == 7)
        #expect(map.rules[RulesetSourceMap.ChainKey(family: "ip", table: "nat", chain: "pre")]?.map(\.line) == [21])
        let fw = Self.firewall(["input": 6, "pre": 1])
        map.bind(to: fw)
        let input = fw.tables[0].chains[0].rules
        #expect(map.location(family: "inet", table: "filter", chain: "input", handle: input[3].handle)?.line == 13)
        #expect(map.location(family: "inet", table: "filter", chain: "input", handle: input[5].handle)?.line == 19)
    }

    @Test func aCountMismatchFallsBackToTheChainNeverToAWrongLine() {
        var map = RulesetSourceMap(text: Self.text, file: "nftables.conf")
        let fw = Self.firewall(["input": 7, "pre": 1])
        map.bind(to: fw)
        for r in fw.tables[0].chains[0].rules {
            #expect(map.location(family: "inet", table: "filter", chain: "input", handle: r.handle)?.line == 7)
        }
    }

    @Test func insertMakesAChainUnordered() {
        var map = RulesetSourceMap(text: "table ip t {\n chain c {\n  accept\n }\n}\ninsert rule ip t c drop\n", file: "f.nft")
        let fw = Firewall(
            status: .ok,
            tables: [
                Table(family: .ip, name: "t", chains: [Chain(name: "c", rules: [Rule(handle: 3, expressions: []), Rule(handle: 2, expressions: [])])])
            ])
        map.bind(to: fw)
        #expect(map.location(family: "ip", table: "t", chain: "c", handle: 3)?.line == 2)
    }

    @Test func flushRulesetForgetsEarlierRules() {
        let map = RulesetSourceMap(
            text: "table ip t {\n chain c {\n  accept\n }\n}\nflush ruleset\ntable ip t {\n chain c {\n  drop\n }\n}\n", file: "f.nft")
        #expect(map.rules[RulesetSourceMap.ChainKey(family: "ip", table: "t", chain: "c")]?.map(\.line) == [9])
    }

    @Test func includesResolveRelativeToTheIncludingFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pw-srcmap-\(getpid())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("inc"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "include \"inc/rules.nft\"\ntable ip t {\n chain c {\n  drop\n }\n}\n".write(
            to: dir.appendingPathComponent("main.nft"), atomically: true, encoding: .utf8)
        try "table ip t {\n chain c {\n  accept\n }\n}\n".write(to: dir.appendingPathComponent("inc/rules.nft"), atomically: true, encoding: .utf8)
        let map = RulesetSourceMap(path: dir.appendingPathComponent("main.nft").path)
        let locs = map.rules[RulesetSourceMap.ChainKey(family: "ip", table: "t", chain: "c")] ?? []
        #expect(locs.map(\.line) == [3, 4])
        #expect(locs.first?.file.hasSuffix("inc/rules.nft") == true)
    }
}
