import Foundation
import HostModel
import Testing

@testable import CandidateLoader

/// The parent side of `--ruleset` without root: include checks, the child protocol (a stand-in loader script plays
/// the child) and process spawning. The real loader in a namespace is covered by IntegrationTests.
@Suite struct RulesetSandboxTests {
    /// A fresh directory holding `files` (name → content); removed by the caller.
    static func directory(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pw-cand-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            let path = dir + "/" + name
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // O_CLOEXEC: a child spawned meanwhile by a concurrent test must not inherit the write descriptor, or
            // executing the script fails with ETXTBSY.
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, name.hasSuffix(".sh") ? 0o755 : 0o644)
            guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == bytes.count else { throw CocoaError(.fileWriteUnknown) }
        }
        return dir
    }

    @Test func anIncludeOutsideTheTreeIsRefusedAtItsPositionBeforeAnythingRuns() throws {
        let dir = try Self.directory(["rules.nft": "table inet t {\n}\n  include \"/etc/hostname\"\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = dir + "/ran"
        let loader = try Self.directory(["loader.sh": "#!/bin/sh\ntouch \(marker)\n"])
        defer { try? FileManager.default.removeItem(atPath: loader) }
        #expect(
            throws: CandidateError(
                .invalidInput,
                "\(dir)/rules.nft:3:3: include \"/etc/hostname\" resolves outside it (/etc/hostname); includes must stay inside the ruleset's directory tree (--allow-include DIR widens it)"
            )
        ) {
            _ = try RulesetSandbox.load(path: dir + "/rules.nft", interfaces: [], executable: loader + "/loader.sh")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func includesInsideTheTreeOrAnAllowedDirectoryPassTheCheck() throws {
        let dir = try Self.directory([
            "rules.nft": "include \"./part/a.nft\"\ninclude \"\(NSTemporaryDirectory())pw-cand-allowed-*.nft\"\n", "part/a.nft": ""
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let main = dir + "/rules.nft"
        try RulesetIncludes.check(main, shown: main, scope: .init(mainFile: main, allowed: [NSTemporaryDirectory()]))
        #expect(throws: CandidateError.self) {
            try RulesetIncludes.check(main, shown: main, scope: .init(mainFile: main, allowed: []))
        }
    }

    @Test func aLoaderThatCannotStartIsHostUnreadable() throws {
        let dir = try Self.directory(["rules.nft": "table inet t {\n}\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try RulesetSandbox.load(path: dir + "/rules.nft", interfaces: [], executable: dir + "/no-such-loader")
            Issue.record("loaded without a loader")
        } catch {
            #expect(error.kind == .hostUnreadable)
            #expect(error.message.hasPrefix("cannot start the ruleset loader \(dir)/no-such-loader"))
        }
    }

    /// Exit 2 from the child is the file's fault; nft's quotes of files outside the tree are withheld, its own kept.
    @Test func aFileThatDoesNotLoadShowsOnlyItsOwnLines() throws {
        let dir = try Self.directory(["rules.nft": "table inet t {\n}\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = """
            #!/bin/sh
            echo "\(dir)/rules.nft:2:1-1: Error: syntax error" >&2
            echo "own line" >&2
            echo "/etc/secret.nft:1:1-4: Error: x" >&2
            echo "SECRET-CONTENT" >&2
            exit 2
            """
        let loader = try Self.directory(["loader.sh": script + "\n"])
        defer { try? FileManager.default.removeItem(atPath: loader) }
        do {
            _ = try RulesetSandbox.load(path: dir + "/rules.nft", interfaces: [], executable: loader + "/loader.sh")
            Issue.record("a failing loader was accepted")
        } catch {
            #expect(error.kind == .invalidInput)
            #expect(error.message.contains("\(dir)/rules.nft:2:1-1: Error: syntax error\nown line"))
            #expect(!error.message.contains("SECRET-CONTENT"))
        }
    }

    /// The child gets the host's interfaces as NAME=INDEX and its JSON result is read back, with indexes the
    /// namespace gave differently mapped back to the host's.
    @Test func theChildsResultIsReadBackWithTheHostsInterfaceIndexes() throws {
        let dir = try Self.directory(["rules.nft": "table inet t {\n}\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fw = Firewall(status: .ok, generation: 1, tables: [Table(family: .inet, name: "t", chains: [])])
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let result = String(decoding: try enc.encode(RulesetSandbox.Loaded(firewall: fw, interfaces: ["eth0": 7], path: "X")), as: UTF8.self)
        let loader = try Self.directory(["loader.sh": "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\necho '\(result)'\n"])
        defer { try? FileManager.default.removeItem(atPath: loader) }
        let eth0 = Interface(index: 2, name: "eth0")
        let loaded = try RulesetSandbox.load(path: dir + "/rules.nft", interfaces: [eth0], executable: loader + "/loader.sh")
        #expect(loaded.interfaces == ["eth0": 7])
        #expect(loaded.path == "X")
        #expect(loaded.firewall.tables.map(\.name) == ["t"])
        let args = try String(contentsOfFile: loader + "/args", encoding: .utf8)
        #expect(args == "__load-ruleset --file \(dir)/rules.nft --interface eth0=2\n")
    }

    /// Both pipes are drained together: a child writing a lot to stderr before stdout does not block.
    @Test func childOutputOnBothStreamsIsCapturedWithoutDeadlock() throws {
        let r = try ChildProcess.run("/bin/sh", ["-c", "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero; exit 5"])
        #expect(r.status == 5)
        #expect(r.out.count == 200_000)
        #expect(r.err.utf8.count == 300_000)
        let echoed = try ChildProcess.run("/bin/cat", [], input: Data("in".utf8))
        #expect(echoed.out == Data("in".utf8))
        #expect(throws: ChildProcess.SpawnError.self) { _ = try ChildProcess.run("/nonexistent/x", []) }
    }
}
