import Foundation
import Testing

/// `portwarden trace` and `portwarden exposure` run as a user runs them: the built binary on a committed snapshot.
///
/// The fixture was taken by `portwarden collect` in a throwaway namespace (documentation addresses): eth0
/// 192.0.2.1/24 + 2001:db8::1/64, eth1 198.51.100.1/24; input `policy drop` with `iif lo accept`, `tcp dport 22
/// accept`, `ip saddr 203.0.113.0/24 tcp dport 5432 accept`, `tcp dport 8080 accept`; prerouting `tcp dport 2222
/// redirect to :22` and `iifname "eth0" tcp dport 8000 dnat to 198.51.100.50:80`; listeners tcp 0.0.0.0:22,
/// 0.0.0.0:5432, 127.0.0.1:6379, [::]:8080 (dual stack), udp 0.0.0.0:5353. `ipForward` was edited to true afterwards
/// (a forwarding host), so the DNAT to 198.51.100.50 goes on through the forward hook. No root needed.
@Suite struct CLITraceExposureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/trace-exposure-snapshot.json").path

    func portwarden(_ args: [String], input: String? = nil) throws -> CommandResult {
        try run([portwardenBinary] + args, input: input.map { Data($0.utf8) }, check: false)
    }

    func jsonLines(_ s: String) throws -> [[String: Any]] {
        try s.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    // MARK: single probe

    @Test func singleProbeFromFlagsPrintsPathAndVerdict() throws {
        let r = try portwarden([
            "trace", "--snapshot", Self.fixture, "--proto", "tcp", "--src", "203.0.113.9", "--dst", "192.0.2.1",
            "--dport", "5432", "--iif", "eth0"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("verdict: accept"))
        #expect(r.stdout.contains("listener: tcp 0.0.0.0:5432"))
        #expect(r.stdout.contains("delivered: yes"))
        #expect(r.stdout.contains("path:"))
        #expect(r.stdout.contains("ip nat prerouting [prerouting -100]: policy accept"))
        #expect(r.stdout.contains("inet filter input #5 [input 0]: accept"))

        let d = try portwarden([
            "trace", "--snapshot", Self.fixture, "--proto", "tcp", "--src", "198.51.100.7", "--dst", "192.0.2.1",
            "--dport", "5432", "--iif", "eth0"
        ])
        #expect(d.status == 0)
        #expect(d.stdout.contains("verdict: drop"))
        #expect(d.stdout.contains("delivered: no"))
        #expect(d.stdout.contains("inet filter input [input 0]: policy drop"))
    }

    @Test func singleProbeAsJSON() throws {
        let r = try portwarden([
            "trace", "--snapshot", Self.fixture, "--proto", "tcp", "--src", "2001:db8::7", "--dst", "2001:db8::1",
            "--dport", "8080", "--iif", "eth0", "--format", "json"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try jsonLines(r.stdout).first)
        #expect(o["verdict"] as? String == "accept")
        #expect(o["delivered"] as? Bool == true)
        #expect((o["listener"] as? [String: Any])?["address"] as? String == "::")
    }

    // MARK: batch

    /// (probe line, verdict, delivered, listener "address:port" or nil)
    static let batch: [(String, String, Bool, String?)] = [
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#, "accept", true, "0.0.0.0:22"),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":5432,"iif":"eth0","sport":40000}"#, "drop", false, "0.0.0.0:5432"),
        (#"{"proto":"tcp","src":"203.0.113.200","dst":"198.51.100.1","dport":5432,"iif":"eth1"}"#, "accept", true, "0.0.0.0:5432"),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"198.51.100.1","dport":2222,"iif":"eth1"}"#, "accept", true, "0.0.0.0:22"),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":8080,"iif":"eth0"}"#, "accept", true, "[::]:8080"),
        (#"{"proto":"tcp","src":"2001:db8::7","dst":"2001:db8::1","dport":8080,"iif":"eth0"}"#, "accept", true, "[::]:8080"),
        (#"{"proto":"tcp","src":"2001:db8::7","dst":"2001:db8::1","dport":22,"iif":"eth0"}"#, "accept", false, nil),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":8000,"iif":"eth0"}"#, "accept", false, nil),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":9999,"iif":"eth0"}"#, "drop", false, nil),
        (#"{"proto":"tcp","src":"127.0.0.1","dst":"127.0.0.1","dport":6379,"iif":"lo"}"#, "accept", true, "127.0.0.1:6379"),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":6379,"iif":"eth0"}"#, "drop", false, nil),
        (#"{"proto":"udp","src":"198.51.100.7","dst":"192.0.2.1","dport":5353,"iif":"eth0"}"#, "drop", false, "0.0.0.0:5353")
    ]

    @Test func batchJSONLinesFollowTheContract() throws {
        let input = Self.batch.map(\.0).joined(separator: "\n") + "\n"
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "-"], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try jsonLines(r.stdout)
        #expect(out.count == Self.batch.count)
        for (o, (line, verdict, delivered, listener)) in zip(out, Self.batch) {
            let probe = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            // the input fields come back unchanged
            for key in ["proto", "src", "dst", "iif"] { #expect(o[key] as? String == probe[key] as? String, "\(line): \(key)") }
            for key in ["dport", "sport"] { #expect(o[key] as? Int == probe[key] as? Int, "\(line): \(key)") }
            #expect(o["verdict"] as? String == verdict, "\(line)")
            #expect(o["delivered"] as? Bool == delivered, "\(line)")
            // path: base chains and deciding rules with table, chain and handle
            let path = try #require(o["path"] as? [[String: Any]], "\(line)")
            #expect(!path.isEmpty)
            for step in path {
                #expect(step["table"] is String && step["chain"] is String && step["hook"] is String && step["action"] is String)
                #expect(step.keys.contains("handle"))
            }
            // listener: {proto,address,port,device,processes} or null
            let l = try #require(o.keys.contains("listener") ? o["listener"] : nil, "\(line): listener key")
            if let listener {
                let obj = try #require(l as? [String: Any], "\(line): listener")
                #expect(Set(obj.keys).isSuperset(of: ["proto", "address", "port", "device", "processes"]))
                let addr = obj["address"] as? String ?? ""
                #expect("\(addr.contains(":") ? "[\(addr)]" : addr):\(obj["port"] as? Int ?? -1)" == listener, "\(line)")
                #expect((obj["processes"] as? [[String: Any]])?.first?["name"] as? String == "python3")
            } else {
                #expect(l is NSNull, "\(line): listener should be null")
            }
        }
        // the deciding rule is named by handle
        #expect((out[0]["path"] as? [[String: Any]])?.last?["handle"] as? Int == 4)
        #expect((out[3]["path"] as? [[String: Any]])?.first?["action"] as? String == "redirect to 198.51.100.1:22")
        #expect((out[7]["path"] as? [[String: Any]])?.last?["action"] as? String == "forward to 198.51.100.50")
    }

    @Test func batchFromAFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-cli-probes-\(getpid()).jsonl")
        try (Self.batch.map(\.0).joined(separator: "\n")).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", file.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try jsonLines(r.stdout).count == Self.batch.count)
    }

    @Test(arguments: [
        ("not json at all", 2),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","iif":"eth0"}"#, 3),
        (#"{"proto":"tcp","src":"198.51.100.300","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#, 1),
        (#"{"proto":"sctp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#, 2),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"2001:db8::1","dport":22,"iif":"eth0"}"#, 3),
        (#"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":70000,"iif":"eth0"}"#, 1)
    ])
    func badProbeLineExitsTwoNamingTheLine(bad: String, line: Int) throws {
        let good = Self.batch[0].0
        var lines = [good, good, good]
        lines[line - 1] = bad
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "-"], input: lines.joined(separator: "\n") + "\n")
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("portwarden: <stdin>:\(line):"), "\(r.stderr)")
    }

    @Test func badProbeLineNumberCountsBlankLines() throws {
        let input = "\n" + Self.batch[0].0 + "\n\n" + #"{"proto":"tcp","src":"x","dst":"192.0.2.1","dport":22,"iif":"eth0"}"# + "\n"
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "-"], input: input)
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("portwarden: <stdin>:4:22: field 'src'"), "\(r.stderr)")
    }

    // MARK: exposure

    @Test func exposureJSONListsEveryListener() throws {
        let r = try portwarden(["exposure", "--snapshot", Self.fixture, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any])
        #expect(doc["schema"] as? String == "portwarden-exposure/3")
        #expect(!r.stdout.contains("(any other)"))
        let listeners = try #require(doc["listeners"] as? [[String: Any]])
        func key(_ x: [String: Any]) -> String? {
            guard let l = x["listener"] as? [String: Any] else { return nil }
            return "\(l["proto"] as? String ?? "") \(l["address"] as? String ?? ""):\(l["port"] as? Int ?? 0)"
        }
        let summaries = Dictionary(uniqueKeysWithValues: listeners.compactMap { x in key(x).map { ($0, x["summary"] as? String ?? "") } })
        #expect(listeners.count == 5)
        #expect(
            summaries == [
                "tcp 0.0.0.0:22": "public", "tcp :::8080": "public", "tcp 0.0.0.0:5432": "restricted",
                "tcp 127.0.0.1:6379": "localOnly", "udp 0.0.0.0:5353": "localOnly"
            ])
        let pg = try #require(listeners.first { key($0) == "tcp 0.0.0.0:5432" })
        #expect(pg["acceptedSources"] as? [String] == ["203.0.113.0/24"])
        // the exact accepted ranges per interface and family
        let ar = try #require(pg["acceptedRanges"] as? [[String: Any]])
        let eth0 = try #require(ar.first { $0["interface"] as? String == "eth0" && $0["family"] as? String == "ipv4" })
        #expect(eth0["ranges"] as? [String] == ["203.0.113.0/24"])
        #expect(eth0["allRoutable"] as? Bool == false)
        // regions are indices into the document's regions table; a cell without destinationPort is on the own port
        let cells = try #require(doc["regions"] as? [[String: Any]])
        let regions = try #require(pg["regions"] as? [Int]).map { cells[$0] }
        #expect(
            regions.contains {
                ($0["verdict"] as? String) == "accept" && ($0["sources"] as? [String]) == ["203.0.113.0/24"] && $0["destinationPort"] == nil
            })
        let ssh = try #require(listeners.first { key($0) == "tcp 0.0.0.0:22" })
        #expect(ssh["viaPorts"] as? [Int] == [2222])
        let forwarded = try #require(doc["forwarded"] as? [[String: Any]])
        #expect(forwarded.count == 1)
        #expect(forwarded.first?["port"] as? Int == 8000)
        #expect(forwarded.first?["target"] as? String == "198.51.100.50:80")
        #expect(forwarded.first?["interfaces"] as? [String] == ["eth0"])
    }

    @Test func exposureTextGroupsMostExposedFirst() throws {
        let r = try portwarden(["exposure", "--snapshot", Self.fixture])
        #expect(r.status == 0, "\(r.stderr)")
        let out = r.stdout
        for endpoint in ["0.0.0.0:22", "0.0.0.0:5432", "127.0.0.1:6379", "[::]:8080", "0.0.0.0:5353"] {
            #expect(out.contains(endpoint), "\(endpoint)")
        }
        let order = ["PUBLIC", "RESTRICTED", "LOCAL-ONLY", "PUBLISHED"].map { out.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil })
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
        #expect(out.contains("from 203.0.113.0/24"))
        #expect(out.contains("198.51.100.50:80"))
    }

    // MARK: bad snapshots

    @Test(arguments: ["exposure", "trace"])
    func wrongSchemaExitsTwo(command: String) throws {
        let text = try String(contentsOfFile: Self.fixture, encoding: .utf8)
        let bad = text.replacingOccurrences(of: "\"portwarden-snapshot/1\"", with: "\"portwarden-snapshot/99\"")
        #expect(bad != text)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-cli-badschema-\(getpid())-\(command).json")
        try bad.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var args = [command, "--snapshot", file.path]
        if command == "trace" { args += ["--proto", "tcp", "--src", "198.51.100.7", "--dst", "192.0.2.1", "--dport", "22", "--iif", "eth0"] }
        let r = try portwarden(args)
        #expect(r.status == 2)
        #expect(r.stderr.contains("schema"), "\(r.stderr)")
    }

    @Test func unreadableSnapshotExitsTwo() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-cli-notjson-\(getpid()).json")
        try "{ not json".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try portwarden(["exposure", "--snapshot", file.path, "--format", "json"])
        #expect(r.status == 2)
    }
}
