import Foundation
import HostModel
@testable import Netlink
import Testing

/// Pins the whole decoded ruleset of every recorded capture: `Captures/<capture>.tables.json` was recorded from the
/// hand-written decoder before libnftnl replaced it, so any difference in what the decoder produces (a field, an
/// expression falling back to `unknown`, an element order) fails here. RECORD_GOLDENS=1 rewrites the files.
@Suite struct RulesetGoldenTests {
    static let captures = ["varied-perChain", "varied-whole"]
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Captures")

    /// What the golden holds: the generation, the consistency flags and every table, as sorted pretty JSON.
    private struct Decoded: Encodable {
        var generation: UInt32?
        var generationChanged: Bool
        var sawOrphan: Bool
        var tables: [Table]
    }

    static func render(_ capture: String) throws -> String {
        let assembler = try RulesetAssembler.replay(Capture.datagrams("\(capture).nlcap"))
        let decoded = Decoded(
            generation: assembler.generation, generationChanged: assembler.generationChanged, sawOrphan: assembler.sawOrphan,
            tables: assembler.result)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(decoded), as: UTF8.self) + "\n"
    }

    @Test(arguments: captures)
    func captureDecodesToItsPinnedRuleset(_ capture: String) throws {
        let text = try Self.render(capture)
        let url = Self.directory.appendingPathComponent("\(capture).tables.json")
        if ProcessInfo.processInfo.environment["RECORD_GOLDENS"] == "1" {
            try Data(text.utf8).write(to: url)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(url.lastPathComponent) differs (RECORD_GOLDENS=1 swift test … rewrites it; review the diff)")
    }

    @Test func theGoldensAreNotVacuous() throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("varied-perChain.tables.json"), encoding: .utf8)
        #expect(text.contains("\"osf\""), "the unknown osf expression is pinned with its attributes")
        #expect(text.contains("\"multiport\""), "iptables-nft matches are pinned")
        #expect(text.count > 10_000)
    }
}
