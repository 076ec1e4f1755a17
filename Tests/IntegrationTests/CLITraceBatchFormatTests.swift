import Foundation
import Testing

/// The exact bytes of batch `trace`: the probe-line parser and the JSON-lines writer are hand-written for speed, so
/// their output and error messages are pinned here (the goldens were produced by the earlier Foundation-free but
/// String-based implementation, and change only with the contract: `dnat` was added with forwarded paths). Uses the fixture of `CLITraceExposureTests`; no root needed.
@Suite struct CLITraceBatchFormatTests {
    func trace(_ input: String, snapshot: String = CLITraceExposureTests.fixture) throws -> CommandResult {
        try run([portwardenBinary, "trace", "--snapshot", snapshot, "--probes", "-"], input: Data(input.utf8), check: false)
    }

    /// The fixture plus an interface whose name needs every kind of JSON escape (probes must name an interface the
    /// host has, and this one exercises the writer's escaping).
    static let oddInterface = "t\tq\"b\\c\u{1}\u{fc}/\n"
    func fixtureWithOddInterface() throws -> (TempDir, String) {
        let dir = try TempDir("trace-odd-iface")
        let data = try Data(contentsOf: URL(fileURLWithPath: CLITraceExposureTests.fixture))
        guard var root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            var interfaces = root["interfaces"] as? [[String: Any]]
        else {
            throw CocoaError(.fileReadCorruptFile)
        }
        interfaces.append(["index": 99, "name": Self.oddInterface, "flags": [String](), "addresses": [[String: Any]]()])
        root["interfaces"] = interfaces
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir.file("snapshot.json")))
        return (dir, dir.file("snapshot.json"))
    }

    /// Escapes in keys and values, unknown keys, `null`/`true`, whitespace, CR and blank lines on the way in; escaped
    /// strings, negative priorities, null handles, NAT and v4-mapped addresses on the way out.
    @Test func batchOutputIsByteExact() throws {
        let input =
            [
                #"{"proto":"tcp","src":"198.51.100.7","dst":"198.51.100.1","dport":2222,"iif":"eth1","sport":40000}"#,
                "",
                #" { "pro\u0074o" : "udp", "src":"2001:db8::7", "dst":"2001:DB8:0::1", "dport":53, "iif":"t\tq\"b\\c\u0001\u00fc/\n", "sport":null, "note":"x", "n":-1, "b":true } "#,
                #"{"proto":"tcp","src":"127.0.0.1","dst":"127.0.0.1","dport":6379,"iif":"lo","sport":0}"# + "\r",
                #"{"iif":"eth0","dport":8080,"dst":"::ffff:192.0.2.1","src":"::ffff:198.51.100.7","proto":"tcp"}"#
            ].joined(separator: "\n") + "\n"
        let expected =
            [
                #"{"proto":"tcp","src":"198.51.100.7","dst":"198.51.100.1","sport":40000,"dport":2222,"iif":"eth1","verdict":"accept","path":[{"table":"nat","family":"ip","chain":"prerouting","hook":"prerouting","priority":-100,"handle":2,"action":"redirect to 198.51.100.1:22"},{"table":"filter","family":"inet","chain":"input","hook":"input","priority":0,"handle":4,"action":"accept"}],"listener":{"proto":"tcp","address":"0.0.0.0","port":22,"device":null,"processes":[{"pid":4242,"name":"python3"}]},"delivered":true,"forwarded":false,"translatedTo":"198.51.100.1:22","dnat":{"address":"198.51.100.1","port":22}}"#,
                #"{"proto":"udp","src":"2001:db8::7","dst":"2001:DB8:0::1","dport":53,"iif":"t\tq\"b\\c\u0001ü/\n","verdict":"drop","path":[{"table":"filter","family":"inet","chain":"input","hook":"input","priority":0,"handle":null,"action":"policy drop"}],"listener":null,"delivered":false,"forwarded":false}"#,
                #"{"proto":"tcp","src":"127.0.0.1","dst":"127.0.0.1","sport":0,"dport":6379,"iif":"lo","verdict":"accept","path":[{"table":"filter","family":"inet","chain":"input","hook":"input","priority":0,"handle":2,"action":"accept"}],"listener":{"proto":"tcp","address":"127.0.0.1","port":6379,"device":null,"processes":[{"pid":4242,"name":"python3"}]},"delivered":true,"forwarded":false}"#,
                #"{"proto":"tcp","src":"::ffff:198.51.100.7","dst":"::ffff:192.0.2.1","dport":8080,"iif":"eth0","verdict":"drop","path":[{"table":"","family":"ipv6","chain":"","hook":"routing","priority":0,"handle":null,"action":"drop (martian source)"}],"listener":{"proto":"tcp","address":"::","port":8080,"device":null,"processes":[{"pid":4242,"name":"python3"}]},"delivered":false,"forwarded":false}"#
            ].joined(separator: "\n") + "\n"
        let (dir, snapshot) = try fixtureWithOddInterface()
        defer { _ = dir }
        let r = try trace(input, snapshot: snapshot)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutData == Data(expected.utf8))
    }

    /// Many probes: output crosses the writer's flush size, every line is there, in order.
    @Test func largeBatchKeepsEveryLineInOrder() throws {
        let n = 8_000
        let input = (0..<n).map { #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":\#($0 % 65536),"iif":"eth0","sport":\#($0)}"# }
            .joined(separator: "\n")
        let r = try trace(input)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == n)
        #expect(r.stdoutData.count > 1 << 20)
        for (i, l) in lines.enumerated() where !l.hasPrefix(#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","sport":\#(i),"dport":\#(i),"#) {
            Issue.record("line \(i + 1): \(l.prefix(120))")
            break
        }
    }

    /// (bad second line, the column, the exact message); every one exits 2 after printing the first line's result.
    static let errors: [(String, Int, String)] = [
        ("not json", 1, "expected '{'"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0"} x"#, 73, "trailing data after the object"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0""#, 71, "unterminated object"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0"#, 65, "unterminated string"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0\"#, 65, "unterminated string"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth\ud800"}"#, 69, #"bad \u escape"#),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22 "iif":"eth0"}"#, 59, "expected ',' or '}'"),
        (#"{"proto" "tcp"}"#, 10, "expected ':'"),
        (#"{proto:"tcp"}"#, 2, "expected a string"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":,"iif":"eth0"}"#, 56, "unexpected character"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":1.5,"iif":"eth0"}"#, 56, "ports must be integers"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":1234567890123,"iif":"eth0"}"#, 56, "number too large"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":-1,"iif":"eth0"}"#, 56, "field 'dport' must be 0-65535, not -1"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":"22","iif":"eth0"}"#, 56, "field 'dport' must be an integer"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","iif":"eth0"}"#, 1, "missing field 'dport'"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0","sport":70000}"#, 80, "field 'sport' must be 0-65535, not 70000"),
        (#"{"proto":"TCP","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0"}"#, 10, "field 'proto' must be tcp or udp, not 'TCP'"),
        (#"{"proto":6,"src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0"}"#, 10, "field 'proto' must be a string"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":""}"#, 65, "field 'iif' must not be empty"),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22}"#, 1, "missing field 'iif'"),
        (#"{"proto":"tcp","dst":"1.2.3.4","dport":22,"iif":"eth0"}"#, 1, "missing field 'src'"),
        (
            #"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4.5","dport":22,"iif":"eth0"}"#, 38,
            "field 'dst': '1.2.3.4.5' is not an IPv4 or IPv6 address"
        ),
        (#"{"proto":"tcp","src":"1:2","dst":"1.2.3.4","dport":22,"iif":"eth0"}"#, 22, "field 'src': '1:2' is not an IPv4 or IPv6 address"),
        (#"{"proto":"tcp","src":"::1","dst":"1.2.3.4","dport":22,"iif":"eth0"}"#, 34, "src ::1 and dst 1.2.3.4 are of different address families"),
        (#"{"proto":"tcp","src":"1::2::3","dst":"::1","dport":22,"iif":"eth0"}"#, 22, "field 'src': '1::2::3' is not an IPv4 or IPv6 address"),
        (
            #"{"proto":"tcp","src":"::1.2.3.4:1","dst":"::1","dport":22,"iif":"eth0"}"#, 22,
            "field 'src': '::1.2.3.4:1' is not an IPv4 or IPv6 address"
        ),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0","sport":"nope"}"#, 80, "field 'sport' must be an integer"),
        (
            #"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth9"}"#, 65,
            "no interface 'eth9' in the snapshot (it has 'lo', 'eth0', 'eth1')"
        ),
        (#"{"proto":"tcp","src":"1.2.3.4","dst":"1.2.3.4","dport":22,"iif":"eth0","dport":23}"#, 72, "duplicate key 'dport'")
    ]

    @Test func badLinesGiveTheSameMessages() throws {
        let good = CLITraceExposureTests.batch[0].0
        for (bad, column, message) in Self.errors {
            let r = try trace(good + "\n" + bad + "\n" + good + "\n")
            #expect(r.status == 2, "\(bad)")
            #expect(r.stderr == "portwarden: <stdin>:2:\(column): \(message)\n", "\(bad)")
            #expect(r.stdout.split(separator: "\n").count == 1, "\(bad)")
        }
    }
}
