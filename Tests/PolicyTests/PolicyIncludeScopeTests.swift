import Foundation
import Glibc
@testable import Policy
import Testing

/// Includes stay inside the main policy's directory tree; files that could block or never end are refused.
@Suite struct PolicyIncludeScopeTests {
    final class Dir {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-scope-\(getpid())-\(UUID().uuidString.prefix(8))").path
        init() throws { try FileManager.default.createDirectory(atPath: path + "/repo/sub", withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
    }

    @Test func includeInsideTheTreeLoads() throws {
        let d = try Dir()
        try d.write("repo/sub/base.yaml", "version: 1\nforbidden: [{port: 23, reason: telnet}]\n")
        try d.write("repo/policy.yaml", "version: 1\ninclude: [sub/base.yaml, ./sub/../sub/base.yaml]\n")
        let p = try PolicyLoader.load(path: d.path + "/repo/policy.yaml", hostname: nil)
        #expect(p.forbidden.count == 2)
    }

    @Test(arguments: ["../secret.yaml", "/etc/passwd", "sub/../../secret.yaml", "link.yaml", "missing/../../nothing.yaml"])
    func includeOutsideIsRefusedAtItsLocation(include: String) throws {
        let d = try Dir()
        try d.write("secret.yaml", "version: 1\n")
        try FileManager.default.createSymbolicLink(atPath: d.path + "/repo/link.yaml", withDestinationPath: d.path + "/secret.yaml")
        try d.write("repo/policy.yaml", "version: 1\ninclude:\n  - \(include)\n")
        #expect {
            _ = try PolicyLoader.load(path: d.path + "/repo/policy.yaml", hostname: nil)
        } throws: { e in
            guard let e = e as? PolicyError, case .invalid(let at, let expected) = e else { return false }
            return at.line == 3 && at.column == 5 && expected.contains("outside") && expected.contains("--allow-include")
        }
        // Allowed explicitly, the same include loads (the symlink and ../ forms point at secret.yaml).
        if include != "/etc/passwd" && !include.hasPrefix("missing") {
            _ = try PolicyLoader.load(path: d.path + "/repo/policy.yaml", hostname: nil, allowInclude: [d.path])
        }
    }

    @Test func includedFIFOIsRefusedWithoutBlocking() throws {
        let d = try Dir()
        try #require(mkfifo(d.path + "/repo/fifo.yaml", 0o600) == 0)
        try d.write("repo/policy.yaml", "version: 1\ninclude: [fifo.yaml]\n")
        #expect {
            _ = try PolicyLoader.load(path: d.path + "/repo/policy.yaml", hostname: nil)
        } throws: { e in "\(e)".contains("not a regular file (it is a FIFO)") && "\(e)".contains("policy.yaml:2:")
        }
    }

    @Test func byteOrderMarkIsAccepted() throws {
        let p = try PolicyLoader.parse("\u{FEFF}version: 1\nforbidden: [{port: 23, reason: telnet}]\n", file: "bom.yaml")
        #expect(p.forbidden.count == 1)
        // Columns after the mark count from the first character a user sees.
        #expect {
            try PolicyLoader.parse("\u{FEFF}version: 2\n", file: "bom.yaml")
        } throws: { e in (e as? PolicyError)?.location == SourceLocation(file: "bom.yaml", line: 1, column: 10) }
    }

    @Test func nftErrorsQuoteNoLineOfAFileOutsideTheScope() throws {
        let d = try Dir()
        let repo = d.path + "/repo"
        let scope = IncludeScope(mainFile: repo + "/main.nft")
        let err = """
            In file included from \(repo)/main.nft:2:1-20:
            \(d.path)/secret:1:1-4: Error: syntax error, unexpected string
            root:$6$HASH:19000:0:99999:7:::
            ^^^^
            \(repo)/main.nft:3:9-13: Error: syntax error
            table inet filter { bad }
                    ^^^^^
            """
        let out = scope.filterNftErrors(err, dir: repo)
        #expect(!out.contains("root:$6$HASH"))
        #expect(!out.contains("\(d.path)/secret:1:1"))
        #expect(out.contains("\(repo)/main.nft:3:9-13: Error: syntax error\ntable inet filter { bad }"))
        #expect(out.contains("In file included from \(repo)/main.nft:2:1-20:"))
        // Relative names are relative to the ruleset's directory.
        #expect(!scope.filterNftErrors("../secret:1:1-4: Error: x\nroot:HASH\n", dir: repo).contains("root:HASH"))
        #expect(scope.filterNftErrors("sub/a.nft:1:1-4: Error: x\nmine\n", dir: repo).contains("mine"))
    }
}
