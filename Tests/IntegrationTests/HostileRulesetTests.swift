import Foundation
import Testing

/// Secrets stay secret: candidate rulesets and policies from a "repository" directory try to include a decoy secret
/// that lies outside it (absolute path, `../`, symlinks, globs, nft's default include directory). Every output
/// stream and report of `diff --ruleset`, `audit --ruleset` and `audit --policy`, in every format, is searched for
/// the secret's bytes.
@Suite struct HostileRulesetTests {
    static let fixture = HostileInputTests.fixture

    func portwarden(_ args: [String], cwd: String) throws -> CommandResult {
        try run(["/usr/bin/env", "-C", cwd, portwardenBinary] + args, check: false)
    }

    /// `dir/secret` (the decoy, in nft syntax so that nft would happily quote it) and `dir/repo` with symlinks out.
    static func tree(_ dir: TempDir, token: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.file("repo/sub"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir.file("outside"), withIntermediateDirectories: true)
        let secret = "define \(token) = 1\ntable inet \(token) { chain \(token)x { tcp dport 99999 } }\n"
        try secret.write(toFile: dir.file("secret"), atomically: true, encoding: .utf8)
        try secret.write(toFile: dir.file("outside/secret.nft"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir.file("repo/link.nft"), withDestinationPath: dir.file("secret"))
        try fm.createSymbolicLink(atPath: dir.file("repo/sub/up"), withDestinationPath: "../../outside")
        try "table inet filter {\n  chain input { type filter hook input priority 0; policy accept; }\n}\n"
            .write(toFile: dir.file("repo/sub/ok.nft"), atomically: true, encoding: .utf8)
        return dir.file("repo")
    }

    /// (what, include line, line:column the refusal names)
    static let includes: [(String, String)] = [
        ("absolute", "include \"SECRET\""),
        ("dotdot", "include \"../secret\""),
        ("symlink", "include \"link.nft\""),
        ("directory symlink", "include \"./sub/up/secret.nft\""),
        ("glob through a symlink", "include \"sub/up/*.nft\""),
        ("directory", "include \"sub/up/\""),
        ("nested in an included file", "include \"sub/nested.nft\""),
        ("default include directory", "include \"passwd\"")
    ]

    @Test(arguments: includes)
    func hostileRulesetIncludesAreRefusedAndNothingLeaks(form: (String, String)) throws {
        let dir = try TempDir("hostile-rs")
        let token = "PWSECRET\(UUID().uuidString.prefix(12).replacingOccurrences(of: "-", with: ""))"
        let repo = try Self.tree(dir, token: token)
        let line = form.1.replacingOccurrences(of: "SECRET", with: dir.file("secret"))
        try "include \"../link.nft\"\n".write(toFile: "\(repo)/sub/nested.nft", atomically: true, encoding: .utf8)
        try "flush ruleset\n# a comment with include \"/etc/shadow\" in it\n  \(line)\n".write(
            toFile: "\(repo)/candidate.nft", atomically: true, encoding: .utf8)
        let passwdLine = ((try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? token
        let runs: [[String]] =
            ["text", "json", "sarif", "codequality"].flatMap { format in
                [
                    ["diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--format", format, "--output", dir.file("diff.\(format)")],
                    ["audit", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--format", format, "--output", dir.file("audit.\(format)")]
                ]
            } + [["audit", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--format", "prometheus", "--output", dir.file("audit.prom")]]
        for args in runs {
            let r = try portwarden(args, cwd: repo)
            #expect(r.status == 2, "\(form.0) \(args[0]): \(r.stderr)")
            // The refusal names the including file's line and column (the nested form: the included file's).
            let at = form.0.hasPrefix("nested") ? "sub/nested.nft:1:1" : "candidate.nft:3:3"
            #expect(r.stderr.contains(at) && r.stderr.contains("--allow-include"), "\(form.0): \(r.stderr)")
            let report = (try? String(contentsOfFile: args[args.count - 1], encoding: .utf8)) ?? ""
            for text in [r.stdout, r.stderr, report] {
                #expect(!text.contains(token), "\(form.0) \(args[0]) leaked the secret: \(r.stderr)")
                #expect(!text.contains(passwdLine), "\(form.0) \(args[0]) leaked /etc/passwd")
            }
        }
    }

    @Test func includeCommentsAndStringsAreNotIncludes() throws {
        let dir = try TempDir("hostile-rs-ok")
        let repo = try Self.tree(dir, token: "PWTOKEN")
        // Refused only by the pre-scan if it misread these; nft itself is not reached because of the syntax error.
        try "# include \"/etc/shadow\"\ndefine x = \"include \\\"/etc/shadow\\\"\"\nthis is not nft\n"
            .write(toFile: "\(repo)/candidate.nft", atomically: true, encoding: .utf8)
        let r = try portwarden(["diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft"], cwd: repo)
        #expect(!r.stderr.contains("--allow-include"), "\(r.stderr)")
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func includesInsideTheTreeAndAllowedDirectoriesLoad() throws {
        let dir = try TempDir("hostile-rs-load")
        let repo = try Self.tree(dir, token: "PWTOKEN")
        try "flush ruleset\ninclude \"sub/ok.nft\"\n".write(toFile: "\(repo)/candidate.nft", atomically: true, encoding: .utf8)
        let ok = try portwarden(["diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--fail-on", "none"], cwd: repo)
        #expect(ok.status == 0, "\(ok.stderr)")
        // A directory outside, named with --allow-include, may be included.
        try "table inet filter {\n  chain input { type filter hook input priority 0; policy drop; }\n}\n"
            .write(toFile: dir.file("outside/base.nft"), atomically: true, encoding: .utf8)
        try "flush ruleset\ninclude \"../outside/base.nft\"\n".write(toFile: "\(repo)/candidate.nft", atomically: true, encoding: .utf8)
        let refused = try portwarden(["diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--fail-on", "none"], cwd: repo)
        #expect(refused.status == 2, "\(refused.stderr)")
        let allowed = try portwarden(
            [
                "diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft", "--fail-on", "none",
                "--allow-include", dir.file("outside")
            ], cwd: repo)
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func aRulesetThatDoesNotLoadStillShowsNftsErrorForItsOwnLines() throws {
        let dir = try TempDir("hostile-rs-bad")
        let repo = try Self.tree(dir, token: "PWTOKEN")
        try "flush ruleset\ntable inet filter { chain input { tcp dport 99999 accept } }\n".write(
            toFile: "\(repo)/candidate.nft", atomically: true, encoding: .utf8)
        let r = try portwarden(["diff", "--snapshot", Self.fixture, "--ruleset", "candidate.nft"], cwd: repo)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("candidate.nft:2:"), "\(r.stderr)")
        #expect(r.stderr.contains("99999"), "the offending line of the user's own file is quoted: \(r.stderr)")
    }
}
