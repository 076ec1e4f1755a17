import Foundation
import HostModel
import Testing
@testable import Evaluator
@testable import Serialization

/// Exposure schema 3: large source sets written once in `addressSets` (in full, or as an earlier entry plus and
/// minus a few ranges) and paths once in `paths`, both referred to by index; a report reads back to the same results
/// with the exact sets, and reports of schema 2 still read.
@Suite struct ExposureSchema3Tests {
    static let host = HostInfo(hostname: "h", kernel: "k", collectedAt: "", toolVersion: "t")

    static func bytes(_ d: ExposureDocument) -> Data {
        var out = Data()
        d.writeJSON(terminator: [0x0a], chunkSize: 4096) { out.append(contentsOf: $0) }
        return out
    }

    /// Reads a report the way a consumer of the Swift types does: the head first, then the rest with its tables.
    static func read(_ data: Data) throws -> (listeners: [ListenerExposure], forwarded: [ForwardedPort]) {
        struct Body: Decodable {
            var listeners: [ListenerExposure]
            var forwarded: [ForwardedPort]
        }
        let head = try JSONDecoder().decode(ExposureDocument.Head.self, from: data)
        let decoder = JSONDecoder()
        decoder.userInfo = try ExposureDocument.userInfo(for: head)
        let body = try decoder.decode(Body.self, from: data)
        return (body.listeners, body.forwarded)
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func readsBackTheExactSetsOfTheDocument() throws {
        let d = try ExposureJSONTests.document()
        let data = Self.bytes(d)
        let back = try Self.read(data)
        #expect(back.listeners == d.listeners)
        #expect(back.forwarded == d.forwarded)
        // Nothing was cut: the accepted ranges of more than 256 ranges come back whole, and so do cut region sources.
        let wide = try #require(d.listeners.flatMap(\.acceptedRanges).first { $0.set.rangeCount > AcceptedRanges.maxEncoded })
        let wideBack = try #require(
            back.listeners.flatMap(\.acceptedRanges).first { $0.interface == wide.interface && $0.set.count == wide.set.count })
        #expect(wideBack.set == wide.set)
        let cut = try #require(d.listeners.flatMap(\.regions).first { $0.omittedSources > 0 })
        let cutBack = try #require(back.listeners.flatMap(\.regions).first { $0.sourceSet != nil && $0.sourceCount == cut.sourceCount })
        #expect(cutBack.sourceSet == cut.sourceSet)
        #expect(cutBack.sources == cut.sources && cutBack.omittedSources == cut.omittedSources)
        let doc = try Self.object(data)
        #expect(doc["schema"] as? String == "portwarden-exposure/3")
        // Listeners refer to cells of the `regions` table; the cells to the sets and paths.
        let regions = try #require(doc["regions"] as? [[String: Any]])
        let refs = try #require(doc["listeners"] as? [[String: Any]]).flatMap { $0["regions"] as? [Int] ?? [] }
        #expect(refs.count == d.listeners.flatMap(\.regions).count)
        let forwardedRefs = try #require(doc["forwarded"] as? [[String: Any]]).flatMap { $0["regions"] as? [Int] ?? [] }
        #expect(Set(refs + forwardedRefs) == Set(regions.indices))
        #expect(regions.count < refs.count)
        #expect(regions.allSatisfy { $0["omittedSources"] as? Int == 0 && $0["pathIndex"] is Int && $0["path"] == nil })
        #expect(regions.contains { $0["sourceSet"] is Int && $0["sources"] == nil })
    }

    /// Listeners whose sets are the same deny list share one entry; a set one range away is a delta of it.
    @Test func sameSetsOnceAndNearSetsAsDeltas() throws {
        var parts: [ClosedRange<UInt128>] = []
        for i in 0..<300 {
            let start = UInt128(0x0a00_0000 + i * 512)
            parts.append(start...(start + 255))
        }
        let deny = AddressSet(family: .ipv4, ranges: parts)
        let extra: ClosedRange<UInt128> = 0xcb00_7100...0xcb00_71ff
        let nearly = deny.union(AddressSet(family: .ipv4, ranges: [extra]))
        func listener(_ port: UInt16, _ set: AddressSet) -> ListenerExposure {
            let steps = [PathStep(table: "filter", family: .table(.inet), chain: "input", hook: .hook(.input), priority: 0, handle: 4, action: .drop)]
            let region = ExposureRegion(
                family: .ipv4, interface: "eth0", interfaceExists: true, destination: "192.0.2.1", destinationPort: port,
                sources: set.ranges.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, .ipv4) },
                omittedSources: set.rangeCount - ExposureRegion.maxListed, sourceCount: Double(set.count), verdict: .drop,
                path: steps, reasons: [], sourceSet: set)
            return ListenerExposure(
                listener: tcpListener("0.0.0.0", port), summary: .public, interfaces: ["eth0"], acceptedSources: ["0.0.0.0/0"],
                reasons: [], regions: [region], viaPorts: [],
                acceptedRanges: [AcceptedRanges(family: .ipv4, interface: "eth0", interfaceExists: true, set: set, allRoutable: false)])
        }
        let listeners = [listener(22, deny), listener(80, deny), listener(443, nearly)]
        let d = ExposureDocument(
            host: Self.host, caveats: [], listeners: listeners, forwarded: [], namedSets: [("inet filter deny", deny)])
        let data = Self.bytes(d)
        let doc = try Self.object(data)
        let sets = try #require(doc["addressSets"] as? [[String: Any]])
        #expect(sets.count == 2)
        #expect((sets[0]["ranges"] as? [String])?.count == 300)
        #expect(sets[0]["nftSet"] as? String == "inet filter deny")
        #expect(sets[1]["base"] as? Int == 0)
        #expect(sets[1]["added"] as? [String] == ["203.0.113.0/24"])
        #expect(sets[1]["removed"] as? [String] == [])
        #expect(sets[1]["ranges"] == nil)
        let paths = try #require(doc["paths"] as? [[[String: Any]]])
        #expect(paths.count == 1)
        let xs = try #require(doc["listeners"] as? [[String: Any]])
        let cells = try #require(doc["regions"] as? [[String: Any]])
        // Ports 22 and 80 share one cell (their own port, the same set and path); 443 has its own.
        let cellRefs = xs.compactMap { ($0["regions"] as? [Int])?.first }
        #expect(cellRefs == [0, 0, 1])
        #expect(cells.map { $0["sourceSet"] as? Int } == [0, 1])
        #expect(cells.allSatisfy { $0["destinationPort"] == nil && $0["pathIndex"] as? Int == 0 })
        #expect(xs.allSatisfy { (($0["acceptedRanges"] as? [[String: Any]])?.first?["ranges"]) == nil })
        let back = try Self.read(data)
        #expect(back.listeners == listeners)
        #expect(back.listeners[2].acceptedRanges[0].set == nearly)
        #expect(back.listeners[2].regions[0].sourceSet == nearly)
    }

    /// Each exposure worker builds its own copy of a large set: copies in separate storage are still one entry, a
    /// near copy is still a delta, and the table keeps them on one storage (so comparing them skips shared slices).
    @Test func copiesInSeparateStorageAreOneEntry() throws {
        let parts = (0..<300).map { i -> ClosedRange<UInt128> in
            let start = UInt128(0x0a00_0000 + i * 512)
            return start...(start + 255)
        }
        let first = AddressSet(family: .ipv4, ranges: parts)
        let second = AddressSet(family: .ipv4, ranges: parts)
        #expect(first.runs[0].store !== second.runs[0].store)
        let near = second.subtracting(AddressSet(family: .ipv4, ranges: [parts[7]]))
        func listener(_ port: UInt16, _ set: AddressSet) -> ListenerExposure {
            let region = ExposureRegion(
                family: .ipv4, interface: "eth0", interfaceExists: true, destination: "192.0.2.1", destinationPort: port,
                sources: set.ranges.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, .ipv4) },
                omittedSources: set.rangeCount - ExposureRegion.maxListed, sourceCount: Double(set.count), verdict: .drop,
                path: [], reasons: [], sourceSet: set)
            return ListenerExposure(
                listener: tcpListener("0.0.0.0", port), summary: .public, interfaces: ["eth0"], acceptedSources: [],
                reasons: [], regions: [region], viaPorts: [], acceptedRanges: [])
        }
        let listeners = [listener(22, first), listener(80, second), listener(443, near)]
        let table = ExposureSetTable(listeners: listeners, forwarded: [])
        #expect(table.sets.count == 2)
        #expect(table.index(of: first) == 0 && table.index(of: second) == 0 && table.index(of: near) == 1)
        #expect(table.sets[1] == near)
        #expect(table.sets[1].runs.allSatisfy { $0.store.ranges.count < 64 || $0.store === first.runs[0].store })
        guard case .delta(let base, let added, let removed) = table.forms[1] else {
            Issue.record("the near copy is not a delta: \(table.forms[1])")
            return
        }
        #expect(base == 0 && added.isEmpty && removed == AddressSet(family: .ipv4, ranges: [parts[7]]))
        let back = try Self.read(Self.bytes(ExposureDocument(host: Self.host, caveats: [], listeners: listeners, forwarded: [])))
        #expect(back.listeners.map { $0.regions[0].sourceSet } == [first, second, near])
    }

    /// The drop region of `ip saddr @deny drop` is the named set itself: its entry says so, and the evaluator lists
    /// the named address sets it knows (interval and plain, not maps).
    @Test func namedSetEntriesAreNamed() throws {
        let t = table(.inet, "filter")
        let deny = (0..<100).map { "10.\($0 * 2).0.0/16" }
        try t.set("deny", [.ipv4], interval: true, elements: deny)
        try t.set("hosts", [.ipv4], elements: ["198.51.100.7", "198.51.100.9"])
        try t.chain("input", hook: .input, policy: .accept, ["ip saddr @deny drop", "ip saddr @hosts tcp dport 22 drop"])
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 80)], t))
        let named = e.namedAddressSets()
        #expect(named.map(\.0) == ["inet filter deny", "inet filter hosts"])
        #expect(named.first?.1.rangeCount == 100 && named.first?.1.count == 100 * 65536)
        #expect(named.last?.1.descriptions == ["198.51.100.7", "198.51.100.9"])
        let r = e.fullExposure()
        let d = ExposureDocument(host: Self.host, caveats: [], listeners: r.listeners, forwarded: r.forwarded, namedSets: named)
        let sets = try #require(try Self.object(Self.bytes(d))["addressSets"] as? [[String: Any]])
        let entry = try #require(sets.first { $0["nftSet"] != nil })
        #expect(entry["nftSet"] as? String == "inet filter deny")
        #expect(entry["ranges"] as? [String] == deny)
    }

    /// A schema 2 report (sets cut inline, paths inline) still reads, as what it says.
    @Test func readsSchema2() throws {
        let d = try ExposureJSONTests.document()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        struct Old: Encodable {
            var schema = "portwarden-exposure/2"
            var caveats: [String]
            var listeners: [ListenerExposure]
            var forwarded: [ForwardedPort]
        }
        let data = try encoder.encode(Old(caveats: d.caveats, listeners: d.listeners, forwarded: d.forwarded))
        #expect(!String(decoding: data, as: UTF8.self).contains("pathIndex"))
        let back = try Self.read(data)
        #expect(back.listeners.count == d.listeners.count)
        #expect(back.listeners.map(\.summary) == d.listeners.map(\.summary))
        // Cut lists read as cut: the regions equal what schema 2 showed, with `omitted` saying what is missing.
        #expect(back.listeners.map(\.regions) == d.listeners.map(\.regions))
        #expect(back.listeners.flatMap(\.regions).allSatisfy { $0.sourceSet == nil })
        #expect(back.listeners.flatMap(\.acceptedRanges).contains { $0.set.rangeCount == AcceptedRanges.maxEncoded })
    }

    @Test func unknownSchemaAndBadTablesAreErrors() throws {
        let unknown = try JSONDecoder().decode(ExposureDocument.Head.self, from: Data(#"{"schema":"portwarden-exposure/9"}"#.utf8))
        #expect(throws: ExposureReportError.unsupportedSchema("portwarden-exposure/9")) { try ExposureDocument.userInfo(for: unknown) }
        let badBase = try JSONDecoder().decode(
            ExposureDocument.Head.self,
            from: Data(#"{"schema":"portwarden-exposure/3","addressSets":[{"family":"ipv4","count":1,"base":0,"added":[]}]}"#.utf8))
        #expect(throws: ExposureReportError.badBase(entry: 0)) { try ExposureDocument.userInfo(for: badBase) }
        let badRange = try JSONDecoder().decode(
            ExposureDocument.Head.self,
            from: Data(#"{"schema":"portwarden-exposure/3","addressSets":[{"family":"ipv4","count":1,"ranges":["10.0.0.300"]}]}"#.utf8))
        #expect(throws: ExposureReportError.badRange(entry: 0, text: "10.0.0.300")) { try ExposureDocument.userInfo(for: badRange) }
        // A reference outside the table is a decoding error, not a crash.
        let head = try JSONDecoder().decode(ExposureDocument.Head.self, from: Data(#"{"schema":"portwarden-exposure/3","addressSets":[]}"#.utf8))
        let decoder = JSONDecoder()
        decoder.userInfo = try ExposureDocument.userInfo(for: head)
        let ar =
            #"{"family":"ipv4","interface":"eth0","interfaceExists":true,"allRoutable":false,"count":1,"omitted":0,"otherInterfaces":false,"set":3}"#
        #expect(throws: DecodingError.self) { try decoder.decode(AcceptedRanges.self, from: Data(ar.utf8)) }
    }
}
