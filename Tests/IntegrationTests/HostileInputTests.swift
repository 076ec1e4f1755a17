import Foundation
import Testing

/// Hostile input files and hostile process names, run through the built binary as a CI job or an administrator
/// would: includes stay inside the reviewed tree, errors never echo a file the user did not name, snapshots that are
/// FIFOs or devices are refused by name, process names cannot drive the terminal, duplicate probe keys are refused.
@Suite struct HostileInputTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/trace-exposure-snapshot.json").path

    func portwarden(_ args: [String], input: String? = nil, cwd: String? = nil) throws -> CommandResult {
        let command = cwd.map { ["/usr/bin/env", "-C", $0, portwardenBinary] } ?? [portwardenBinary]
        return try run(command + args, input: input.map { Data($0.utf8) }, check: false)
    }

    // MARK: policy includes

    /// A repository checkout `repo/` beside a secret it must not reach.
    static func hostileTree(_ dir: TempDir, token: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.file("repo/sub"), withIntermediateDirectories: true)
        try "\(token):secret-line-1\n\(token):secret-line-2\n".write(toFile: dir.file("secret"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir.file("repo/link.yaml"), withDestinationPath: dir.file("secret"))
        try fm.createSymbolicLink(atPath: dir.file("repo/sub/up"), withDestinationPath: "../..")
        return dir.file("repo")
    }

    static let includeForms: [(String, String)] = [
        ("absolute", "ABS"), ("dotdot", "../secret"), ("symlink", "link.yaml"), ("via a directory symlink", "sub/up/secret"),
        ("nested dotdot", "sub/../../secret")
    ]

    @Test(arguments: includeForms)
    func policyIncludeOutsideTheTreeIsRefusedWithoutEchoingIt(form: (String, String)) throws {
        let dir = try TempDir("hostile-pol")
        let token = "PWSECRET\(UUID().uuidString.prefix(12))"
        let repo = try Self.hostileTree(dir, token: token)
        let target = form.1 == "ABS" ? dir.file("secret") : form.1
        try "version: 1\ninclude:\n  - \(target)\n".write(toFile: "\(repo)/policy.yaml", atomically: true, encoding: .utf8)
        for format in ["text", "json", "sarif", "codequality", "prometheus"] {
            let out = dir.file("report-\(format)")
            let r = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", "\(repo)/policy.yaml", "--format", format, "--output", out])
            #expect(r.status == 2, "\(form.0): \(r.stderr)")
            #expect(r.stderr.contains("\(repo)/policy.yaml:3:5"), "\(form.0): \(r.stderr)")
            #expect(r.stderr.contains("--allow-include"), "\(r.stderr)")
            #expect(!r.stderr.contains(token) && !r.stdout.contains(token), "\(form.0) leaked: \(r.stderr)")
            let report = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            #expect(!report.contains(token))
        }
    }

    @Test func allowIncludeWidensThePolicyTree() throws {
        let dir = try TempDir("hostile-allow")
        try FileManager.default.createDirectory(atPath: dir.file("repo"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("shared"), withIntermediateDirectories: true)
        try "version: 1\nforbidden: [{port: 23, reason: telnet}]\n".write(toFile: dir.file("shared/base.yaml"), atomically: true, encoding: .utf8)
        try "version: 1\ninclude: [../shared/base.yaml]\n".write(toFile: dir.file("repo/policy.yaml"), atomically: true, encoding: .utf8)
        let refused = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", dir.file("repo/policy.yaml"), "--fail-on", "none"])
        #expect(refused.status == 2, "\(refused.stderr)")
        let allowed = try portwarden([
            "audit", "--snapshot", Self.fixture, "--policy", dir.file("repo/policy.yaml"), "--fail-on", "none",
            "--allow-include", dir.file("shared")
        ])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // Relative to the working directory, like every other path argument.
        let relative = try portwarden(
            [
                "audit", "--snapshot", Self.fixture, "--policy", "repo/policy.yaml", "--fail-on", "none",
                "--allow-include", "shared"
            ], cwd: dir.path)
        #expect(relative.status == 0, "\(relative.stderr)")
    }

    @Test func policyWithByteOrderMarkIsAccepted() throws {
        let dir = try TempDir("hostile-bom")
        try Data([0xEF, 0xBB, 0xBF] + Array("version: 1\nforbidden:\n  - {port: 23, reason: telnet}\n".utf8))
            .write(to: URL(fileURLWithPath: dir.file("policy.yaml")))
        let r = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", dir.file("policy.yaml"), "--fail-on", "none"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    // MARK: snapshots

    @Test func snapshotThatIsAFIFOOrADeviceIsRefusedByName() throws {
        let dir = try TempDir("hostile-snap")
        try #require(mkfifo(dir.file("fifo"), 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: dir.file("zero.json"), withDestinationPath: "/dev/zero")
        try FileManager.default.createDirectory(atPath: dir.file("dir.json"), withIntermediateDirectories: true)
        for (name, kind) in [("fifo", "a FIFO"), ("zero.json", "a character device"), ("dir.json", "a directory")] {
            let r = try portwarden(["listeners", "--snapshot", dir.file(name)])
            #expect(r.status == 2, "\(name): \(r.stderr)")
            #expect(r.stderr.contains(dir.file(name)) && r.stderr.contains("not a regular file (it is \(kind))"), "\(r.stderr)")
            #expect(!r.stderr.contains("permission"), "\(r.stderr)")
        }
    }

    @Test func truncatedSnapshotIsInvalidInput() throws {
        let dir = try TempDir("hostile-trunc")
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixture))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir.file("half.json")))
        let r = try portwarden(["listeners", "--snapshot", dir.file("half.json")])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("invalid snapshot"), "\(r.stderr)")
    }

    // MARK: probe lines

    @Test(arguments: [
        #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0","dport":23}"#,
        #"{"proto":"tcp","proto":"udp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#,
        #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0","iif":"eth1"}"#
    ])
    func duplicateProbeKeyIsRefused(line: String) throws {
        let good = #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "-"], input: good + "\n" + line + "\n")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("portwarden: <stdin>:2:") && r.stderr.contains("duplicate key"), "\(r.stderr)")
    }

    /// Probes from a FIFO (`--probes <(command)`) are read to their end; a device never ending is refused as too
    /// large instead of filling memory; a directory is not a probe file.
    @Test func probeFilesThatAreStreamsAreBounded() throws {
        let dir = try TempDir("hostile-probes")
        let fifo = dir.file("probes.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", #"printf '%s\n' '{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}' > "$0""#, fifo]
        try writer.run()
        let viaFifo = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", fifo])
        writer.waitUntilExit()
        #expect(viaFifo.status == 0 && viaFifo.stdout.contains(#""delivered":true"#), "\(viaFifo.stderr)")
        let zero = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "/dev/zero"])
        #expect(zero.status == 2 && zero.stderr.contains("more than the limit"), "\(zero.stderr)")
        let directory = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", dir.path])
        #expect(directory.status == 2 && directory.stderr.contains("not a regular file"), "\(directory.stderr)")
    }

    // MARK: already right, kept right

    @Test(arguments: ["70000", "-1", "0", "0x16", "22.5", "1e3"])
    func badPolicyPortIsRefusedWithItsLocation(port: String) throws {
        let dir = try TempDir("hostile-port")
        try "version: 1\nforbidden:\n  - {port: \(port), reason: x}\n".write(toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
        let r = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", dir.file("policy.yaml")])
        #expect(r.status == 2, "\(port): \(r.stderr)")
        #expect(r.stderr.contains("\(dir.file("policy.yaml")):3:"), "\(r.stderr)")
    }

    @Test(arguments: ["70000", "-1", "0x16", "22.5", "1e3", "\"22\""])
    func badProbePortIsRefused(port: String) throws {
        let line = #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","iif":"eth0","dport":"# + port + "}"
        let r = try portwarden(["trace", "--snapshot", Self.fixture, "--probes", "-"], input: line + "\n")
        #expect(r.status == 2, "\(port): \(r.stderr)")
        // The value starts right after `"dport":`, at the column the error names.
        // (In 0x16 the 0 is a number: the error is the `x` after it.)
        let column = line.utf8.count - port.utf8.count + (port == "0x16" ? 1 : 0)
        #expect(r.stderr.hasPrefix("portwarden: <stdin>:1:\(column): "), "\(r.stderr)")
    }

    @Test func outputIntoADirectoryOrAMissingDirectoryFailsAndKeepsThePreviousReport() throws {
        let dir = try TempDir("hostile-out")
        try FileManager.default.createDirectory(atPath: dir.file("adir"), withIntermediateDirectories: true)
        let intoDir = try portwarden(["audit", "--snapshot", Self.fixture, "--fail-on", "none", "--output", dir.file("adir")])
        #expect(intoDir.status != 0 && intoDir.stderr.contains(dir.file("adir")), "\(intoDir.stderr)")
        let missing = try portwarden(["audit", "--snapshot", Self.fixture, "--fail-on", "none", "--output", dir.file("nope/report.txt")])
        #expect(missing.status != 0 && missing.stderr.contains(dir.file("nope")), "\(missing.stderr)")
        // A run that fails (bad policy) leaves the earlier report as it was.
        try "previous report\n".write(toFile: dir.file("report.txt"), atomically: true, encoding: .utf8)
        try "version: 2\n".write(toFile: dir.file("bad.yaml"), atomically: true, encoding: .utf8)
        let failed = try portwarden(["audit", "--snapshot", Self.fixture, "--policy", dir.file("bad.yaml"), "--output", dir.file("report.txt")])
        #expect(failed.status == 2)
        #expect(try String(contentsOfFile: dir.file("report.txt"), encoding: .utf8) == "previous report\n")
    }

    @Test func outputSymlinkIsReplacedNotFollowed() throws {
        let dir = try TempDir("hostile-outlink")
        try "keep me\n".write(toFile: dir.file("victim"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir.file("report.txt"), withDestinationPath: dir.file("victim"))
        let r = try portwarden(["audit", "--snapshot", Self.fixture, "--fail-on", "none", "--output", dir.file("report.txt")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: dir.file("victim"), encoding: .utf8) == "keep me\n")
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.file("report.txt"))
        #expect(attrs[.type] as? FileAttributeType == .typeRegular)
        #expect(try String(contentsOfFile: dir.file("report.txt"), encoding: .utf8).contains("Summary:"))
    }

    // MARK: process names

    /// The fixture with its first process renamed to escape sequences, a BEL and a newline that forges a row.
    static let hostileName = "\u{1B}[31mEVIL\u{07}\ntcp   0.0.0.0:1  FORGED\\"

    static func hostileSnapshot(_ dir: TempDir) throws -> String {
        var text = try String(contentsOfFile: fixture, encoding: .utf8)
        let encoded = String(decoding: try JSONEncoder().encode(hostileName), as: UTF8.self)
        let range = try #require(text.range(of: "\"name\": \"python3\""))
        text.replaceSubrange(range, with: "\"name\": \(encoded)")
        try text.write(toFile: dir.file("hostile.json"), atomically: true, encoding: .utf8)
        return dir.file("hostile.json")
    }

    static let escapedName = #"\x1B[31mEVIL\x07\x0Atcp   0.0.0.0:1  FORGED\\"#

    @Test func hostileProcessNameIsEscapedInTextAndExactInJSON() throws {
        let dir = try TempDir("hostile-name")
        let snap = try Self.hostileSnapshot(dir)
        try "version: 1\nlisteners:\n  - {proto: tcp, port: 22, owner: {process: sshd}}\n".write(
            toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
        let runs: [[String]] = [
            ["listeners", "--snapshot", snap],
            ["exposure", "--snapshot", snap],
            ["audit", "--snapshot", snap, "--policy", dir.file("policy.yaml"), "--fail-on", "none"]
        ]
        for args in runs {
            let r = try portwarden(args)
            #expect(r.status == 0, "\(args[0]): \(r.stderr)")
            #expect(r.stdout.contains(Self.escapedName), "\(args[0]): \(r.stdout)")
            #expect(!r.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "\(args[0]) printed a control character")
            #expect(!r.stdout.split(separator: "\n").contains { $0.hasPrefix("tcp   0.0.0.0:1") }, "\(args[0]) printed a forged row")
        }
        let trace = try portwarden([
            "trace", "--snapshot", snap, "--proto", "tcp", "--src", "203.0.113.9", "--dst", "192.0.2.1",
            "--dport", "22", "--iif", "eth0"
        ])
        #expect(trace.stdout.contains(Self.escapedName) && !trace.stdout.contains("\u{1B}"), "trace: \(trace.stdout)")
        // `policy init` writes the name into a YAML comment: a newline there must not add lines to the policy.
        let template = try portwarden(["policy", "init", "--snapshot", snap])
        #expect(template.status == 0, "\(template.stderr)")
        #expect(!template.stdout.split(separator: "\n").contains { $0.hasPrefix("tcp   0.0.0.0:1") }, "policy init: \(template.stdout)")
        try template.stdout.write(toFile: dir.file("init.yaml"), atomically: true, encoding: .utf8)
        let reload = try portwarden(["audit", "--snapshot", snap, "--policy", dir.file("init.yaml"), "--fail-on", "none"])
        #expect(reload.status == 0, "the generated policy loads: \(reload.stderr)")
        let json = try portwarden(["listeners", "--snapshot", snap, "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(Self.containsString(try JSONSerialization.jsonObject(with: json.stdoutData), Self.hostileName), "JSON must keep the exact name")
        let exposure = try portwarden(["exposure", "--snapshot", snap, "--format", "json"])
        #expect(Self.containsString(try JSONSerialization.jsonObject(with: exposure.stdoutData), Self.hostileName), "JSON must keep the exact name")
        let sarif = try portwarden(["audit", "--snapshot", snap, "--policy", dir.file("policy.yaml"), "--fail-on", "none", "--format", "sarif"])
        #expect(sarif.status == 0, "\(sarif.stderr)")
        #expect(!sarif.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "SARIF must be escaped JSON")
        #expect(
            Self.containsString(try JSONSerialization.jsonObject(with: sarif.stdoutData), Self.hostileName, substring: true),
            "SARIF keeps the exact name")
    }

    /// A process that renames itself with prctl(PR_SET_NAME) (as any local user can) to an escape sequence, a BEL and
    /// a newline, then listens on tcp 0.0.0.0:4444 and writes argv[1] when ready.
    static let renamingScript = #"""
        import ctypes, socket, sys, time
        libc = ctypes.CDLL(None)
        libc.prctl(15, ctypes.c_char_p(b"\x1b[31mE\x07\nFAKE\\"), 0, 0, 0)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 4444)); s.listen(1)
        open(sys.argv[1], "w").close()
        time.sleep(60)
        """#

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func processRenamedWithPrctlIsEscapedOnTheLiveHost() throws {
        let dir = try TempDir("hostile-prctl")
        let ns = try TestNamespace("prctl")
        defer { ns.cleanup() }
        try Self.renamingScript.write(toFile: dir.file("rename.py"), atomically: true, encoding: .utf8)
        try ns.spawn(["python3", dir.file("rename.py"), dir.file("ready")])
        try waitForFile(dir.file("ready"))
        let name = "\u{1B}[31mE\u{07}\nFAKE\\"
        try "version: 1\nlisteners:\n  - {proto: tcp, port: 4444, owner: {process: sshd}}\n".write(
            toFile: dir.file("policy.yaml"), atomically: true, encoding: .utf8)
        for args in [["listeners"], ["exposure"], ["audit", "--policy", dir.file("policy.yaml"), "--fail-on", "none"]] {
            let r = try ns.exec([portwardenBinary] + args + ["--netns", "host"], check: false)
            #expect(r.status == 0, "\(args[0]): \(r.stderr)")
            #expect(r.stdout.contains(#"\x1B[31mE\x07\x0AFAKE\\"#), "\(args[0]): \(r.stdout)")
            #expect(!r.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "\(args[0]) printed a control character")
        }
        let json = try ns.exec([portwardenBinary, "listeners", "--netns", "host", "--format", "json"])
        #expect(Self.containsString(try JSONSerialization.jsonObject(with: json.stdoutData), name), "JSON keeps the exact name")
    }

    /// Whether a string value in decoded JSON equals (or, with `substring`, contains) `s`.
    static func containsString(_ v: Any, _ s: String, substring: Bool = false) -> Bool {
        if let t = v as? String { return substring ? t.contains(s) : t == s }
        if let d = v as? [String: Any] { return d.values.contains { containsString($0, s, substring: substring) } }
        if let a = v as? [Any] { return a.contains { containsString($0, s, substring: substring) } }
        return false
    }
}
