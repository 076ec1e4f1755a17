import Foundation
import HostModel
import Policy
import RulesetSource

/// `--ruleset FILE`: an nft file that is not applied, evaluated in place of the host's (or snapshot's) ruleset.
///
/// The file is loaded by `nft -f` inside a private network namespace made for this alone: a child process (this
/// binary re-executed as `__load-ruleset`, see `PrivateNamespaceLoader`) under `unshare`, in a new user namespace
/// unless running as root. It reads the result back over netlink with the reader `collect` uses. The namespace lives
/// only as long as that child: nothing outside it changes, and nothing is left behind, even if portwarden is killed.
public enum RulesetSandbox {
    /// Set only by tests: makes the child act as if the kernel refused a user namespace.
    public static let denyUsernsVariable = "PORTWARDEN_TEST_DENY_USERNS"
    /// The hidden subcommand that runs `PrivateNamespaceLoader` in the child.
    public static let loaderCommand = "__load-ruleset"

    /// What the child reports: the kernel's reading of the file, the interface indexes it created, and the file.
    public struct Loaded: Codable, Sendable {
        public var firewall: Firewall
        public var interfaces: [String: UInt32]
        public var path: String
    }

    /// `snapshot` with its firewall replaced by the ruleset at `path`, and where each candidate rule comes from in
    /// the file. Host run-time state that a file cannot carry (legacy x_tables, xt recent lists) is kept.
    public static func substitute(
        into snapshot: Snapshot, path: String, allowInclude: [String] = [], executable: String? = nil
    ) throws(CandidateError) -> (Snapshot, RulesetSourceMap) {
        let loaded = try load(path: path, interfaces: snapshot.interfaces, allowInclude: allowInclude, executable: executable)
        var s = snapshot
        s.firewall = loaded.firewall
        // Legacy x_tables are not part of an nft file: loading it leaves them in place on the host.
        s.firewall.legacyTables = snapshot.firewall.legacyTables
        // xt recent lists are the host's run-time state: a candidate naming the same lists would see them.
        s.firewall.recentLists = snapshot.firewall.recentLists
        var map = RulesetSourceMap(path: loaded.path)
        map.bind(to: loaded.firewall)
        return (s, map)
    }

    /// Loads `path` in a private namespace whose dummy interfaces carry `interfaces`' names and indexes. Includes of
    /// the file must resolve inside its directory tree or `allowInclude` (checked before nft runs). `executable` is
    /// the portwarden binary to re-execute (this process's own by default).
    public static func load(
        path: String, interfaces: [Interface], allowInclude: [String] = [], executable: String? = nil
    ) throws(CandidateError) -> Loaded {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let scope = IncludeScope(mainFile: absolute, allowed: allowInclude)
        try RulesetIncludes.check(absolute, shown: path, scope: scope)
        let exe = executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var args = [loaderCommand, "--file", absolute]
        for i in interfaces where !i.isLoopback && i.name != "lo" { args += ["--interface", "\(i.name)=\(i.index)"] }
        let result: ChildProcess.Result
        do { result = try ChildProcess.run(exe, args) } catch {
            throw CandidateError(.hostUnreadable, "cannot start the ruleset loader \(exe): \(error)")
        }
        switch result.status {
        case 0: break
        case CandidateError.invalidInputStatus:
            let err = scope.filterNftErrors(result.err, dir: (absolute as NSString).deletingLastPathComponent)
            throw CandidateError(.invalidInput, "the ruleset \(path) does not load:\n\(err.trimmingCharacters(in: .whitespacesAndNewlines))")
        default:
            var why = result.err.trimmingCharacters(in: .whitespacesAndNewlines)
            if why.hasPrefix("portwarden: ") { why = String(why.dropFirst("portwarden: ".count)) }
            throw CandidateError(.hostUnreadable, why.isEmpty ? "the ruleset loader failed (status \(result.status))" : why)
        }
        var loaded: Loaded
        do { loaded = try JSONDecoder().decode(Loaded.self, from: result.out) } catch {
            throw CandidateError(.hostUnreadable, "the ruleset loader wrote no usable result: \(error)")
        }
        // Dummy interfaces are created with the host's indexes; where the kernel gave another index, translate
        // `iif`/`oif` compares back to the host's numbering by name.
        var map: [UInt32: UInt32] = [:]
        for i in interfaces { if let p = loaded.interfaces[i.name], p != i.index { map[p] = i.index } }
        loaded.firewall = InterfaceIndexes.remap(loaded.firewall, map)
        return loaded
    }
}
