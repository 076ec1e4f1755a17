import Foundation
import FuzzEntries
import Testing

/// Replays the committed fuzz inputs through the entries the fuzzer binaries call (Fuzz/README.md), so every change
/// is checked against them without building sanitizers: the seed corpus (real examples, which must be accepted) and
/// every input a fuzzer once crashed on or broke a contract with (Fuzz/Regressions, which must just be handled).
@Suite struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// The regular files in `Fuzz/<kind>/<target>/`, sorted; none when the directory does not exist.
    static func inputs(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static func run(_ target: FuzzTarget, _ url: URL) throws -> FuzzOutcome {
        let data = try Data(contentsOf: url)
        return try data.withUnsafeBytes { raw in try target.run(raw) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusIsAcceptedAsIs(_ target: FuzzTarget) throws {
        let seeds = Self.inputs("Corpus", target)
        #expect(seeds.count >= 2, "Fuzz/Corpus/\(target.rawValue) holds a few real examples")
        for url in seeds {
            #expect(try Self.run(target, url) == .accepted, "\(url.lastPathComponent) is a real example")
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionsAreHandled(_ target: FuzzTarget) throws {
        for url in Self.inputs("Regressions", target) {
            #expect(throws: Never.self, "\(url.lastPathComponent)") { _ = try Self.run(target, url) }
        }
    }

    /// The entries are not vacuous: each refuses garbage, so an accepted seed means the parser read it.
    @Test(arguments: FuzzTarget.allCases)
    func garbageIsRejected(_ target: FuzzTarget) throws {
        for garbage in [[UInt8](), Array("{\"schema\": 7".utf8), [0x30, 0x00, 0x00, 0x00] + [UInt8](repeating: 0xff, count: 12)] {
            let outcome = try garbage.withUnsafeBytes { try target.run($0) }
            // Fewer than 16 bytes hold no netlink message header, which the decoders skip (`forEachMessage`);
            // the third input claims a 48-byte message in 16 bytes.
            if garbage.count < 16, [.nftables, .sockdiag, .rtnetlink].contains(target) { continue }
            #expect(outcome == .rejected, "\(target.rawValue) on \(garbage)")
        }
    }
}
