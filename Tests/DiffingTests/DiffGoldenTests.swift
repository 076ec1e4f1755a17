import Foundation
import HostModel
import Serialization
import Evaluator
import Policy
import Checks
import Testing
import TestSupport
@testable import Diffing

/// Golden tests over a pair of recorded snapshots (Fixtures/old.json, new.json: collected in a test namespace with
/// Fixtures/old.nft and new.nft loaded) that together cover every kind of exposure change, both ways round.
@Suite struct DiffGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let goldens = fixtures.appendingPathComponent("goldens")

    static func snapshot(_ name: String) throws -> Snapshot {
        try SnapshotCodec.load(path: fixtures.appendingPathComponent(name).path)
    }

    static func diff(_ a: String, _ b: String) throws -> SnapshotDiff {
        SnapshotDiffer.diff(
            old: try snapshot(a), new: try snapshot(b), policy: try PolicyLoader.builtInDefault(),
            today: PolicyDate(year: 2026, month: 11, day: 25))
    }

    /// Compares with goldens/<name>; RECORD_GOLDENS=1 rewrites it.
    func assertGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        try expectGolden(text, at: Self.goldens.appendingPathComponent(name), sourceLocation: sourceLocation)
    }

    @Test func textGolden() throws {
        try assertGolden(DiffReport.text(try Self.diff("old.json", "new.json"), oldLabel: "old.json", newLabel: "new.json"), "diff.txt")
    }

    @Test func reverseTextGolden() throws {
        try assertGolden(DiffReport.text(try Self.diff("new.json", "old.json"), oldLabel: "new.json", newLabel: "old.json"), "diff-reverse.txt")
    }

    @Test func jsonGolden() throws {
        try assertGolden(
            DiffReport.json(try Self.diff("old.json", "new.json"), oldLabel: "old.json", newLabel: "new.json", toolVersion: "9.9.9-test"),
            "diff.json")
    }

    @Test func everyKindOfChangeIsCovered() throws {
        let kinds = Set(
            (try Self.diff("old.json", "new.json").listeners + Self.diff("new.json", "old.json").listeners).flatMap { $0.changes.map(\.kind) })
        // `exposureChanged` only appears when nothing more specific applies; it has its own test below.
        for k in ChangeKind.allCases where k != .exposureChanged { #expect(kinds.contains(k), "no fixture change of kind \(k)") }
    }

    @Test func specificChanges() throws {
        let d = try Self.diff("old.json", "new.json")
        func changes(_ subject: String) -> [ChangeKind] { d.listeners.first { $0.subject == subject }?.changes.map(\.kind) ?? [] }
        #expect(changes("listener/tcp/0.0.0.0:5432") == [.newlyReachable])
        #expect(changes("listener/tcp/0.0.0.0:3306") == [.noLongerReachable])
        #expect(changes("listener/tcp/0.0.0.0:22") == [.widerSources])
        #expect(changes("listener/tcp/0.0.0.0:443") == [.narrowerSources])
        #expect(changes("listener/tcp/[::]:80") == [.narrowerSources, .familyRemoved])
        #expect(changes("listener/tcp/0.0.0.0:9100") == [.interfaceAdded, .interfaceRemoved])
        #expect(changes("listener/tcp/0.0.0.0:6379") == [.ownerChanged])
        #expect(changes("listener/tcp/0.0.0.0:9000") == [.listenerAdded])
        #expect(changes("listener/tcp/0.0.0.0:7000") == [.listenerRemoved])
        let widened = d.listeners.first { $0.subject == "listener/tcp/0.0.0.0:22" }?.changes.first?.items
        #expect(widened == ["203.0.113.0/24"])
    }

    @Test func findingsNewAndFixedByFingerprint() throws {
        let d = try Self.diff("old.json", "new.json")
        #expect(d.newFindings.map(\.subject).sorted() == ["listener/tcp/0.0.0.0:5432", "listener/tcp/0.0.0.0:9000"])
        #expect(d.fixedFindings.map(\.subject) == ["listener/tcp/0.0.0.0:3306"])
        // Redis is public on both sides: not new, although its owner changed.
        #expect(!d.newFindings.contains { $0.subject == "listener/tcp/0.0.0.0:6379" })
        // No finding of the fixture is on both sides and wider (WideningTests covers that).
        #expect(d.widenedFindings.isEmpty)
        #expect(d.newAudit.findings == d.newFindings)
        #expect(d.newAudit.failing(threshold: .high, includeConditional: false).count == 2)
        #expect(d.newAudit.failing(threshold: .critical, includeConditional: false).isEmpty)
    }

    @Test func identicalSnapshotsHaveNoChanges() throws {
        let d = try Self.diff("new.json", "new.json")
        #expect(d.listeners.isEmpty && d.newFindings.isEmpty && d.fixedFindings.isEmpty)
        #expect(DiffReport.text(d, oldLabel: "a", newLabel: "b").contains("exposure: no listener changed"))
    }

    @Test func summaryOnlyChangeIsReportedAsExposureChanged() throws {
        // 127.0.0.1:5432 is local-only with `iif "lo" accept` and blocked without it: neither side is remote.
        var old = try Self.snapshot("old.json")
        old.listeners = old.listeners.filter { $0.port == 5432 }.map {
            var l = $0; l.address = "127.0.0.1"; return l
        }
        var new = old
        new.firewall.tables[0].chains[0].rules.remove(at: 1)
        let changes = SnapshotDiffer.compare(Evaluator(snapshot: old).exposure(), Evaluator(snapshot: new).exposure())
        #expect(changes.map(\.subject) == ["listener/tcp/127.0.0.1:5432"])
        #expect(changes.first?.changes.map(\.kind) == [.exposureChanged])
        #expect(changes.first?.changes.first?.items == ["local-only", "blocked"])
    }

    @Test func sourceRangesParseBackIntoSets() {
        #expect(SourceCoverage.parse("0.0.0.0/0", .ipv4)?.isFull == true)
        #expect(SourceCoverage.parse("10.0.0.0/8", .ipv4)?.count == 1 << 24)
        #expect(SourceCoverage.parse("192.0.2.1-192.0.2.10", .ipv4)?.count == 10)
        #expect(SourceCoverage.parse("2001:db8::/32", .ipv6)?.count == UInt128(1) << 96)
        #expect(SourceCoverage.parse("::/0", .ipv6)?.isFull == true)
        #expect(SourceCoverage.parse("bogus", .ipv4) == nil)
    }
}
