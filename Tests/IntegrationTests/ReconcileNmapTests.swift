import Foundation
import Testing

/// `portwarden reconcile` against real nmap scans: a target namespace with a ruleset and listeners, a scanner namespace
/// on a veth link (documentation addresses), `collect` inside the target, and nmap's XML from the scanner.
enum ReconcileLab {
    /// nmap on PATH (or in the sbin directories the test runner adds).
    static var nmapAvailable: Bool {
        let path = (Foundation.ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/nmap") }
    }

    /// Runs only where namespaces can be made; with `PORTWARDEN_REQUIRE_NETNS=1` it also runs without nmap, and fails.
    static let enabled = NetnsGate.enabled && (nmapAvailable || NetnsGate.required)

    /// 22 accepted with a listener, 23 accepted without one, 24 dropped (by the policy; a listener is there),
    /// 25 rejected with a TCP reset, 26 rejected with the default ICMP port unreachable; UDP 53 accepted with a
    /// listener that never answers, 54 accepted without one, 55 dropped.
    static let ruleset = """
        table inet filter {
            chain input {
                type filter hook input priority 0; policy drop;
                iif lo accept
                tcp dport { 22, 23 } accept
                tcp dport 25 reject with tcp reset
                tcp dport 26 reject
                udp dport { 53, 54 } accept
            }
        }
        """

    /// Binds tcp 0.0.0.0:22 and :24 (listening) and udp 0.0.0.0:53, then writes "ready" to argv[1].
    static let holder = #"""
        import socket, sys, time
        keep = []
        for proto, port in (("tcp", 22), ("tcp", 24), ("udp", 53)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            if proto == "tcp": s.listen()
            keep.append(s)
        open(sys.argv[1], "w").write("ready\n")
        time.sleep(300)
        """#
}

@Suite(.serialized) struct ReconcileNmapTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-reconcile-\(getpid())-\(UUID().uuidString.prefix(8))")

    func file(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Runs nmap in the scanner namespace and keeps its XML report in `name`.
    func scan(_ scanner: TestNamespace, _ args: [String], into name: String) throws -> String {
        let r = try scanner.exec(["nmap", "-Pn", "-n", "-oX", "-"] + args + ["192.0.2.1"])
        try r.stdoutData.write(to: URL(fileURLWithPath: file(name)))
        return file(name)
    }

    func reconcile(_ args: [String]) throws -> CommandResult {
        try run([portwardenBinary, "reconcile", "--snapshot", file("snapshot.json"), "--from", "192.0.2.2"] + args, check: false)
    }

    @Test(.enabled(if: ReconcileLab.enabled, "needs root for network namespaces, and nmap (apt-get install nmap)"))
    func realScansAgreeUntilTheRulesetChanges() throws {
        try #require(ReconcileLab.nmapAvailable, "nmap is not installed (apt-get install nmap; scripts/test installs it)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = try TestNamespace("rct")
        defer { target.cleanup() }
        let scanner = try TestNamespace("rcs")
        defer { scanner.cleanup() }
        try target.veth("eth0", "eth0s", peer: scanner)
        try target.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", "eth0"])
        try scanner.exec(["ip", "addr", "add", "192.0.2.2/24", "dev", "eth0s"])
        try target.nft(ReconcileLab.ruleset)
        try target.spawn(["python3", "-c", ReconcileLab.holder, file("ready")])
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: file("ready")) { usleep(50_000) }
        try #require(FileManager.default.fileExists(atPath: file("ready")), "the listeners did not start")

        try target.exec([portwardenBinary, "collect", "--netns", "host", "--output", file("snapshot.json")])
        let tcp = try scan(scanner, ["-sT", "-p", "22-26"], into: "tcp.xml")
        let udp = try scan(scanner, ["-sU", "-p", "53-55"], into: "udp.xml")
        let syn = try scan(scanner, ["-sS", "-p", "22-26"], into: "syn.xml")

        let agreed = try reconcile(["--nmap", tcp])
        #expect(agreed.status == 0, "\(agreed.stdout)\(agreed.stderr)")
        #expect(agreed.stdout.contains("scanner 192.0.2.2 on eth0 (to 192.0.2.1)"), "\(agreed.stdout)")
        #expect(agreed.stdout.contains("Summary: 5 port(s) compared, 5 agree, 0 mismatch(es), 0 either."), "\(agreed.stdout)")
        // a SYN scan sees the ICMP port unreachable of 26 as filtered, a connect scan as closed: both agree
        let agreedSYN = try reconcile(["--nmap", syn])
        #expect(agreedSYN.status == 0, "\(agreedSYN.stdout)\(agreedSYN.stderr)")
        #expect(try String(contentsOfFile: syn, encoding: .utf8).contains(#"portid="26"><state state="filtered" reason="port-unreach""#))
        #expect(try String(contentsOfFile: tcp, encoding: .utf8).contains(#"portid="26"><state state="closed" reason="conn-refused""#))
        let agreedUDP = try reconcile(["--nmap", udp, "--iif", "eth0", "--format", "json"])
        #expect(agreedUDP.status == 0, "\(agreedUDP.stdout)\(agreedUDP.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: agreedUDP.stdoutData) as? [String: Any])
        #expect((json["summary"] as? [String: Int]) == ["compared": 3, "agree": 3, "mismatches": 0, "either": 0], "\(json)")

        // After the snapshot, port 24 is opened: the scan sees it open, the (old) snapshot predicts filtered.
        try target.exec(["nft", "insert", "rule", "inet", "filter", "input", "tcp", "dport", "24", "accept"])
        let rescan = try scan(scanner, ["-sT", "-p", "22-26"], into: "tcp-after.xml")
        let differs = try reconcile(["--nmap", rescan])
        #expect(differs.status == 1, "\(differs.stdout)\(differs.stderr)")
        #expect(
            differs.stdout.contains(
                """
                  open in the scan, predicted blocked (a model gap or a middlebox):
                    192.0.2.1:24  scan open (syn-ack), predicted filtered: inet filter input [input 0]: policy drop
                """), "\(differs.stdout)")
        #expect(differs.stdout.contains("Summary: 5 port(s) compared, 4 agree, 1 mismatch(es), 0 either."), "\(differs.stdout)")
        let differsJSON = try reconcile(["--nmap", rescan, "--format", "json"])
        #expect(differsJSON.status == 1)
        let mismatches = try #require(
            (try JSONSerialization.jsonObject(with: differsJSON.stdoutData) as? [String: Any])?["mismatches"] as? [[String: Any]])
        #expect(
            mismatches.map { "\($0["proto"] ?? "") \($0["port"] ?? "") \($0["scan"] ?? "") \($0["predicted"] ?? "")" } == ["tcp 24 open filtered"])
    }
}

/// The command's input errors and usage errors, on the committed trace snapshot (eth0 192.0.2.1 + 2001:db8::1, eth1
/// 198.51.100.1; no root needed).
@Suite struct ReconcileCLITests {
    static let snapshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/trace-exposure-snapshot.json").path

    /// A hand-written report in nmap's format: a connect scan of 192.0.2.1, ports 22 and 5432.
    static func report(address: String = "192.0.2.1", state22: String = "open") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <nmaprun scanner="nmap" args="nmap -sT -p 22,5432 \(address)" version="7.93" xmloutputversion="1.05">
        <scaninfo type="connect" protocol="tcp" numservices="2" services="22,5432"/>
        <host><status state="up" reason="user-set" reason_ttl="0"/>
        <address addr="\(address)" addrtype="\(address.contains(":") ? "ipv6" : "ipv4")"/>
        <ports><port protocol="tcp" portid="22"><state state="\(state22)" reason="syn-ack" reason_ttl="0"/></port>
        <port protocol="tcp" portid="5432"><state state="filtered" reason="no-response" reason_ttl="0"/></port>
        </ports></host></nmaprun>
        """
    }

    func reconcile(_ xml: String, _ args: [String]) throws -> CommandResult {
        try run([portwardenBinary, "reconcile", "--snapshot", Self.snapshot, "--nmap", "-"] + args, input: Data(xml.utf8), check: false)
    }

    @Test func agreementAndMismatchSetTheExitCode() throws {
        let ok = try reconcile(Self.report(), ["--from", "198.51.100.7"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("scanner 198.51.100.7 on eth0 (to 192.0.2.1)"))
        // from 203.0.113.0/24 PostgreSQL is accepted: the prediction is open, the scan says filtered
        let bad = try reconcile(Self.report(), ["--from", "203.0.113.9"])
        #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
        #expect(
            bad.stdout.contains("  predicted open, not open in the scan:\n    192.0.2.1:5432  scan filtered (no-response), predicted open"),
            "\(bad.stdout)")
    }

    @Test func brokenXMLIsExit2WithItsPosition() throws {
        let r = try reconcile(Self.report().replacingOccurrences(of: "</ports>", with: "</port>"), ["--from", "198.51.100.7"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("portwarden: <stdin>:8:"), "\(r.stderr)")
        let scanOfAnotherHost = try reconcile(Self.report(address: "203.0.113.5"), ["--from", "198.51.100.7"])
        #expect(scanOfAnotherHost.status == 2)
        #expect(scanOfAnotherHost.stderr.contains("203.0.113.5 is not an address of this host's interfaces"), "\(scanOfAnotherHost.stderr)")
    }

    @Test func missingOrMismatchedArgumentsAreRefused() throws {
        #expect(try reconcile(Self.report(), []).status == 64)
        let stdin = try run([portwardenBinary, "reconcile", "--snapshot", "-", "--nmap", "-", "--from", "198.51.100.7"], check: false)
        #expect(stdin.status == 64)
        #expect(stdin.stderr.contains("cannot both read standard input"))
        let family = try reconcile(Self.report(address: "2001:db8::1"), ["--from", "198.51.100.7"])
        #expect(family.status == 64)
        #expect(family.stderr.contains("--from 198.51.100.7 is ipv4, the scanned address 2001:db8::1 is ipv6"), "\(family.stderr)")
        // an interface the host does not have is refused as trace refuses it (invalid input, the interfaces named)
        let iif = try reconcile(Self.report(), ["--from", "198.51.100.7", "--iif", "eth7"])
        #expect(iif.status == 2)
        #expect(iif.stderr.contains("--iif: no interface 'eth7' in the snapshot (it has 'lo', 'eth0', 'eth1')"), "\(iif.stderr)")
    }
}
