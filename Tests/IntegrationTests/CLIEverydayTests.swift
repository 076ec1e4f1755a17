import Foundation
import Testing

/// Everyday use of the built binary on the committed trace/exposure snapshot: `--output` on the host views,
/// enum values in any case, colour only on a terminal that wants it, and `--version`. No root needed.
@Suite struct CLIEverydayTests {
    static let fixture = CLITraceExposureTests.fixture
    static let probe = ["--proto", "tcp", "--src", "203.0.113.9", "--dst", "192.0.2.1", "--dport", "5432", "--iif", "eth0"]

    func portwarden(_ args: [String], environment: [String: String]? = nil) throws -> CommandResult {
        try run([portwardenBinary] + args, environment: environment, check: false)
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-everyday-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `explain` is for a terminal: no Markdown markup, no generated-file comment; `--format markdown` gives the document.
    @Test func explainRendersForATerminal() throws {
        let r = try portwarden(["explain", "PW1006"])
        #expect(r.status == 0, "\(r.stderr)")
        for markup in ["<!--", "|---", "| ", "```", "`"] {
            #expect(!r.stdout.contains(markup), "explain output still has \(markup)")
        }
        // Headings are underlined, not marked (a `#` comment inside an indented YAML example is fine).
        #expect(!r.stdout.split(separator: "\n").contains { $0.hasPrefix("#") })
        #expect(r.stdout.hasPrefix("PW1006 sensitive-service-exposed: "))
        #expect(r.stdout.contains("\nWhy it matters\n--------------\n"))
        #expect(r.stdout.contains("  default severity  high"))
        let md = try portwarden(["explain", "sensitive-service-exposed", "--format", "markdown"])
        #expect(md.status == 0)
        #expect(md.stdout.hasPrefix("# PW1006 ") && md.stdout.contains("## Why it matters") && !md.stdout.contains("<!--"))
    }

    /// `docs` writes only into the rules/ of a checkout; elsewhere it needs --output-dir and leaves nothing behind.
    @Test func docsWritesOnlyWhereItIsToldTo() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let refused = try run(["-C", dir.path, portwardenBinary, "docs"], check: false)
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("--output-dir"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let out = dir.appendingPathComponent("out")
        let written = try run(["-C", dir.path, portwardenBinary, "docs", "--output-dir", out.path], check: false)
        #expect(written.status == 0, "\(written.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(files.contains("PW1006.md") && files.contains("README.md"))
    }

    /// A bad probe line with --output FILE: exit 2, and the earlier file is kept whole (no partial results, no temp).
    @Test func badProbeLineKeepsThePreviousOutputFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("results.jsonl")
        try Data("previous\n".utf8).write(to: out)
        let good = #"{"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}"#
        let r = try run(
            [portwardenBinary, "trace", "--snapshot", Self.fixture, "--probes", "-", "--output", out.path],
            input: Data((good + "\nnot json\n").utf8), check: false)
        #expect(r.status == 2 && r.stderr.contains("<stdin>:2:1: expected '{'"), "\(r.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8) == "previous\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["results.jsonl"])
    }

    @Test func versionNamesVersionAndCommit() throws {
        let r = try portwarden(["--version"])
        #expect(r.status == 0)
        let line = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            line.range(
                of: #"^portwarden \d+\.\d+\.\d+ \((commit [0-9a-f]{7,}(-dirty)?|unknown commit)\)$"#,
                options: .regularExpression) != nil, "\(line)")
    }

    @Test(arguments: [["listeners"], ["exposure"], ["trace"] + probe])
    func outputWritesTheFileAndNothingToStdout(_ command: [String]) throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("out.txt").path
        let base = command + ["--snapshot", Self.fixture]
        let toStdout = try portwarden(base)
        #expect(toStdout.status == 0, "\(toStdout.stderr)")
        let toFile = try portwarden(base + ["--output", file])
        #expect(toFile.status == 0, "\(toFile.stderr)")
        #expect(toFile.stdout.isEmpty)
        let written = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!written.isEmpty)
        #expect(written == toStdout.stdout)
    }

    @Test func failedRunLeavesThePreviousOutputFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("out.txt").path
        try "previous\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try portwarden(["exposure", "--snapshot", dir.appendingPathComponent("missing.json").path, "--output", file])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "previous\n")
    }

    @Test func enumValuesAreAcceptedInAnyCase() throws {
        let upper = try portwarden(["listeners", "--snapshot", Self.fixture, "--format", "JSON"])
        #expect(upper.status == 0, "\(upper.stderr)")
        let lower = try portwarden(["listeners", "--snapshot", Self.fixture, "--format", "json"])
        #expect(upper.stdout == lower.stdout)
        #expect(upper.stdout.hasPrefix("["))
        let trace = try portwarden(["trace", "--snapshot", Self.fixture, "--format", "Json"] + Self.probe)
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.hasPrefix("{"))
        let bad = try portwarden(["listeners", "--snapshot", Self.fixture, "--format", "yaml"])
        #expect(bad.status == 64)
    }

    static let diffFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DiffingTests/Fixtures")

    /// Runs portwarden under a pseudo-terminal (util-linux `script`), so the colour decision sees a tty.
    func onTerminal(_ args: [String], _ extra: [String: String] = [:]) throws -> String {
        var env = Foundation.ProcessInfo.processInfo.environment
        env["NO_COLOR"] = nil
        env["TERM"] = "xterm"
        for (k, v) in extra { env[k] = v }
        let command = ([portwardenBinary] + args).map { "'\($0)'" }.joined(separator: " ")
        // `script -e` returns the command's status; diff exits 1 on findings, so the status is not checked here.
        return try run(["script", "-qec", command, "/dev/null"], environment: env, check: false).stdout
    }

    @Test func exposureIsColouredOnlyOnATerminalThatWantsIt() throws {
        let args = ["exposure", "--snapshot", Self.fixture]
        let coloured = try onTerminal(args)
        #expect(coloured.contains("\u{1B}[1;31mPUBLIC"), "\(coloured)")
        #expect(!(try onTerminal(args, ["NO_COLOR": "1"]).contains("\u{1B}[")))
        let dumb = try onTerminal(args, ["TERM": "dumb"])
        #expect(dumb.contains("PUBLIC"))
        #expect(!dumb.contains("\u{1B}["))
        let piped = try portwarden(args)
        #expect(piped.status == 0)
        #expect(!piped.stdout.contains("\u{1B}["))
    }

    @Test func diffIsColouredOnlyOnATerminalThatWantsIt() throws {
        let args = [
            "diff", Self.diffFixtures.appendingPathComponent("old.json").path,
            Self.diffFixtures.appendingPathComponent("new.json").path
        ]
        let coloured = try onTerminal(args)
        #expect(coloured.contains("\u{1B}[1mexposure:"), "\(coloured)")
        let plain = try onTerminal(args, ["NO_COLOR": "1"])
        #expect(plain.contains("exposure:"))
        #expect(!plain.contains("\u{1B}["))
        let piped = try portwarden(args)
        #expect(piped.stdout.contains("exposure:"))
        #expect(!piped.stdout.contains("\u{1B}["))
    }
}
