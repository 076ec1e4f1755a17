import Foundation
import HostModel
import Testing
@testable import Evaluator
@testable import Serialization

/// `exposure --format json` is written by a streaming writer that must produce exactly what `JSONEncoder` produces
/// for the same document (the format is the `Encodable` conformances; the writer only has to be faster).
@Suite struct ExposureJSONTests {
    static func encoderBytes(_ d: ExposureDocument) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(d)) + [0x0a]
    }

    static func writerBytes(_ d: ExposureDocument, chunkSize: Int) -> [UInt8] {
        var out: [UInt8] = []
        d.writeJSON(terminator: [0x0a], chunkSize: chunkSize) { out.append(contentsOf: $0) }
        return out
    }

    /// A host with every kind of region: accepted ranges cut from a deny list (with `omitted`), NAT and a forwarded
    /// port, conditional cells with reasons, rule handles and chain-level steps without one, IPv6, odd text.
    static func document() throws -> ExposureDocument {
        let deny = (0..<300).map { "10.\($0 / 200).\($0 % 200).0/25" }.joined(separator: ", ")
        let nat = table(.ip, "nat")
        try nat.chain(
            "pre", hook: .prerouting, type: "nat", priority: -100,
            ["tcp dport 2222 dnat to 192.0.2.1:22", "tcp dport 8081 redirect to :8080", "tcp dport 9000 dnat to 172.30.0.2:80"])
        let f = table(.inet, "filter")
        try f.chain(
            "input", hook: .input, policy: .drop,
            [
                "iif lo accept",
                "ip saddr { \(deny) } drop",
                "tcp dport 22 accept",
                "tcp dport 8080 ip saddr 198.51.100.0/24 accept",
                "tcp dport 443 unknown osf accept",
                "tcp dport 8080 limit rate 10/second accept",
                "ip6 saddr 2001:db8::/32 tcp dport 443 accept",
                "udp dport 53 counter accept",
                "tcp dport 5432 reject"
            ])
        let listeners = [
            Host.sshd, tcpListener("0.0.0.0", 8080, name: "web \"quoted\"\tname"), tcpListener("::", 443),
            udpListener("0.0.0.0", 53), tcpListener("127.0.0.1", 5432), tcpListener("0.0.0.0", 9000, name: "proxy")
        ]
        let snap = snapshot(listeners: listeners, nat, f)
        let e = Evaluator(snapshot: snap)
        let r = e.fullExposure()
        return ExposureDocument(
            host: HostInfo(hostname: "h/ost", kernel: "6.18", collectedAt: "2026-11-25T00:00:00Z", toolVersion: "t"),
            caveats: e.caveats + ["a caveat with \\ and \"quotes\""], listeners: r.listeners, forwarded: r.forwarded)
    }

    @Test func writerMatchesJSONEncoder() throws {
        let d = try Self.document()
        // The document exercises what it should: omitted ranges, a forwarded port, conditional cells, IPv6.
        #expect(d.listeners.contains { $0.acceptedRanges.contains { $0.set.ranges.count > AcceptedRanges.maxEncoded } })
        #expect(!d.forwarded.isEmpty)
        #expect(d.listeners.contains { $0.regions.contains { $0.verdict == .conditional && !$0.reasons.isEmpty } })
        #expect(d.listeners.contains { $0.regions.contains { $0.family == .ipv6 } })
        #expect(d.listeners.contains { $0.limits == ["limit rate 10/second"] && $0.regions.contains { $0.limits != nil } })
        #expect(d.listeners.contains { $0.interfaces.contains(where: InterfaceScope.isStandIn) })
        let expected = try Self.encoderBytes(d)
        for chunk in [1, 100, 64 * 1024] {
            let got = Self.writerBytes(d, chunkSize: chunk)
            let at = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, expected.count)
            #expect(
                got == expected,
                "chunk \(chunk): first difference at byte \(at): \(String(decoding: got[max(0, at - 80)..<min(got.count, at + 80)], as: UTF8.self))")
        }
    }

    @Test func emptyHost() throws {
        let d = ExposureDocument(
            host: HostInfo(hostname: "h", kernel: "k", collectedAt: "", toolVersion: "t"), caveats: [], listeners: [], forwarded: [])
        #expect(Self.writerBytes(d, chunkSize: 64) == (try Self.encoderBytes(d)))
    }

    /// Address counts are doubles in JSON; integral ones print without `.0`, huge ones in exponent form, as the
    /// encoder prints them.
    @Test(arguments: [
        0.0, 1.0, 256.0, 3_992_750_505.0, 4_294_967_296.0, 9_007_199_254_740_993.0, 1.8446744073709552e19,
        3.402823669209385e38, 1.5, 0.1, 123_456_789_012_345_680_000.0
    ])
    func doublesMatchTheEncoder(_ v: Double) throws {
        let region = ExposureRegion(
            family: .ipv4, interface: "eth0", interfaceExists: true, destination: "192.0.2.1", destinationPort: 22,
            sources: [], omittedSources: 0, sourceCount: v, verdict: .accept, path: [], reasons: [])
        let x = ListenerExposure(
            listener: Host.sshd, summary: .public, interfaces: [], acceptedSources: [], reasons: [],
            regions: [region], viaPorts: [2222], acceptedRanges: [])
        let d = ExposureDocument(
            host: HostInfo(hostname: "h", kernel: "k", collectedAt: "", toolVersion: "t"), caveats: [], listeners: [x], forwarded: [])
        #expect(Self.writerBytes(d, chunkSize: 64 * 1024) == (try Self.encoderBytes(d)))
    }
}
