import ArgumentParser
import Foundation
import Glibc
import HostModel
import Netlink
import Policy
import RulesetSource

/// `--ruleset FILE`: evaluate an nft file that is not applied, in place of the host's (or snapshot's) ruleset.
///
/// The file is loaded by `nft -f` inside a private network namespace the tool creates for this alone (a child process
/// of portwarden under `unshare`, in a new user namespace unless running as root), read back over netlink with the
/// same reader `collect` uses, and substituted into the snapshot's `firewall`. The namespace exists only as long as
/// that child: nothing outside it changes, and nothing is left behind, even if portwarden is killed.
struct CandidateRuleset: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Evaluate this nft file (not applied; includes resolve relative to it) instead of the host's ruleset. Loaded in a private, throwaway network namespace.",
            valueName: "file"))
    var ruleset: String?

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp(
            "Let includes of the policy and of the --ruleset file reach into this directory too (by default they must stay inside the including file's directory tree); repeatable.",
            valueName: "dir"))
    var allowInclude: [String] = []

    /// The snapshot with its firewall replaced by the candidate ruleset (unchanged without `--ruleset`), and where each
    /// candidate rule comes from in the file.
    func apply(to snapshot: Snapshot) throws -> (Snapshot, RulesetSourceMap?) {
        guard let ruleset else { return (snapshot, nil) }
        let loaded = try RulesetSandbox.load(path: ruleset, interfaces: snapshot.interfaces, allowInclude: allowInclude)
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
}

/// Loads a ruleset file in a private network namespace by re-executing this binary (`__load-ruleset`).
enum RulesetSandbox {
    /// Set only by tests: makes the child act as if the kernel refused a user namespace.
    static let denyUsernsVariable = "PORTWARDEN_TEST_DENY_USERNS"

    struct Loaded: Decodable { var firewall: Firewall; var interfaces: [String: UInt32]; var path: String }

    /// Includes of the file must resolve inside its directory tree or `allowInclude` (checked before nft runs).
    static func load(path: String, interfaces: [Interface], allowInclude: [String] = []) throws -> Loaded {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let scope = IncludeScope(mainFile: absolute, allowed: allowInclude)
        try RulesetIncludes.check(absolute, shown: path, scope: scope)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var args = ["__load-ruleset", "--file", absolute]
        for i in interfaces where !i.isLoopback && i.name != "lo" { args += ["--interface", "\(i.name)=\(i.index)"] }
        let result: (status: Int32, out: Data, err: String)
        do { result = try runChild(exe, args) } catch {
            throw CommandFailure(status: .hostUnreadable, message: "cannot start the ruleset loader \(exe): \(error)")
        }
        switch result.status {
        case 0: break
        case ExitStatus.invalidInput.rawValue:
            let err = scope.filterNftErrors(result.err, dir: (absolute as NSString).deletingLastPathComponent)
            throw CommandFailure(
                status: .invalidInput, message: "the ruleset \(path) does not load:\n\(err.trimmingCharacters(in: .whitespacesAndNewlines))")
        default:
            var why = result.err.trimmingCharacters(in: .whitespacesAndNewlines)
            if why.hasPrefix("portwarden: ") { why = String(why.dropFirst("portwarden: ".count)) }
            throw CommandFailure(status: .hostUnreadable, message: why.isEmpty ? "the ruleset loader failed (status \(result.status))" : why)
        }
        var loaded: Loaded
        do { loaded = try JSONDecoder().decode(Loaded.self, from: result.out) } catch {
            throw CommandFailure(status: .hostUnreadable, message: "the ruleset loader wrote no usable result: \(error)")
        }
        // Dummy interfaces are created with the host's indexes; where the kernel gave another index, translate
        // `iif`/`oif` compares back to the host's numbering by name.
        var map: [UInt32: UInt32] = [:]
        for i in interfaces { if let p = loaded.interfaces[i.name], p != i.index { map[p] = i.index } }
        loaded.firewall = InterfaceIndexes.remap(loaded.firewall, map)
        return loaded
    }

    /// Runs a program to completion, capturing stdout and stderr. posix_spawn + poll + waitpid rather than
    /// Foundation's `Process`, whose child reaping did not survive `unshare` in the loader.
    static func runChild(_ exe: String, _ args: [String], cwd: String? = nil, input: Data? = nil) throws(SpawnError) -> (
        status: Int32, out: Data, err: String
    ) {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, pipe(&inPipe) == 0 else { throw SpawnError(reason: String(cString: strerror(errno))) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"
        // A relative cwd is not needed: callers pass absolute paths; the child changes directory through `env -C`.
        var argv = [exe] + args
        if let cwd { argv = ["/usr/bin/env", "-C", cwd] + (exe == "/usr/bin/env" ? args : [exe] + args) }
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgs + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SpawnError(reason: "\(argv[0]): \(String(cString: strerror(rc)))")
        }
        if let input {
            input.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var off = 0
                while off < raw.count {
                    let n = write(inPipe[1], base + off, raw.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
        close(inPipe[1])
        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 65536)
        var open = 2
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buf, buf.count)
                if n > 0 {
                    if i == 0 { out += buf[0..<n] } else { err += buf[0..<n] }
                } else if n == 0 || errno != EINTR {
                    close(fds[i].fd); fds[i].fd = -1; open -= 1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, spelled out (function-like macros do not import).
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, Data(out), String(decoding: err, as: UTF8.self))
    }

    struct SpawnError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}

/// The child side of `--ruleset` (not for direct use): enters a new network namespace (and user namespace unless
/// root), creates dummy interfaces named and numbered like the host's, runs `nft -f`, and prints what the kernel
/// holds as JSON. Exit 2 with nft's message when the file does not load; exit 3 when no namespace can be made.
struct LoadRuleset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__load-ruleset", abstract: "internal: load a ruleset in a private namespace",
        shouldDisplay: false)

    @Option(name: .long) var file: String
    @Option(name: .long, parsing: .singleValue) var interface: [String] = []

    func run() throws {
        try exitOnFailure {
            signal(SIGPIPE, SIG_IGN)
            Self.dieWithParent()
            try enterPrivateNamespace()
            var created: [String: UInt32] = [:]
            var wanted: [(String, UInt32)] = []
            for spec in interface {
                guard let eq = spec.lastIndex(of: "="), let idx = UInt32(spec[spec.index(after: eq)...]) else { continue }
                wanted.append((String(spec[..<eq]), idx))
            }
            _ = try? RulesetSandbox.runChild("/usr/bin/env", ["ip", "link", "set", "lo", "up"])
            // One `ip -batch` per attempt: keep the host's index where possible, then fall back to other link types
            // (some kernels have no dummy module) and finally to any index.
            let attempts: [(String, Bool)] = [("dummy", true), ("ifb", true), ("bridge", true), ("dummy", false), ("ifb", false), ("bridge", false)]
            for (kind, withIndex) in attempts {
                let missing = wanted.filter { if_nametoindex($0.0) == 0 }
                if missing.isEmpty { break }
                let batch = missing.map { "link add \($0.0)\(withIndex ? " index \($0.1)" : "") type \(kind)" }.joined(separator: "\n") + "\n"
                _ = try? RulesetSandbox.runChild("/usr/bin/env", ["ip", "-force", "-batch", "-"], input: Data(batch.utf8))
            }
            for (name, _) in wanted { let i = if_nametoindex(name); if i != 0 { created[name] = i } }
            let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
            let nft: (status: Int32, out: Data, err: String)
            do { nft = try RulesetSandbox.runChild("/usr/bin/env", ["nft", "-I", dir, "-f", file], cwd: dir) } catch {
                throw CommandFailure(status: .hostUnreadable, message: "cannot run nft: \(error)")
            }
            if nft.status == 127 {
                throw CommandFailure(
                    status: .hostUnreadable,
                    message: "--ruleset needs nft (nftables) on PATH: \(nft.err.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            if nft.status != 0 && nft.err.contains("Operation not permitted") {
                // The namespace exists but grants no CAP_NET_ADMIN (e.g. AppArmor's restriction of unprivileged user
                // namespaces): not the file's fault.
                throw CommandFailure(status: .hostUnreadable, message: Self.usernsUnavailable(EPERM, partial: true))
            }
            if nft.status != 0 {
                FileHandle.standardError.write(Data(nft.err.utf8))
                throw ExitCode(ExitStatus.invalidInput.rawValue)
            }
            let read: RulesetRead
            do { read = try NftablesReader.read() } catch {
                throw CommandFailure(status: .hostUnreadable, message: "cannot read the loaded ruleset back: \(error)")
            }
            struct Out: Encodable { var firewall: Firewall; var interfaces: [String: UInt32]; var path: String }
            let fw = Firewall(status: read.tables.isEmpty ? .absent : .ok, generation: read.generation, tables: read.tables)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            do { try emit(enc.encode(Out(firewall: fw, interfaces: created, path: file)), to: nil) } catch let e as CommandFailure { throw e } catch {
                throw CommandFailure(status: .hostUnreadable, message: "cannot encode the ruleset: \(error)")
            }
        }
    }

    static let cloneNewNet: Int32 = 0x4000_0000
    static let cloneNewUser: Int32 = 0x1000_0000

    /// unshare(2): Glibc's module map does not export it (it needs _GNU_SOURCE), so it is looked up by name.
    static func unshare(_ flags: Int32) -> Int32 {
        typealias Fn = @convention(c) (Int32) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { errno = ENOSYS; return -1 }
        return unsafeBitCast(sym, to: Fn.self)(flags)
    }

    /// PR_SET_PDEATHSIG(SIGKILL): if portwarden is killed, the loader dies too and the namespace goes with it.
    /// prctl is variadic in C, so it is called through a fixed-argument pointer (all arguments are integers).
    static func dieWithParent() {
        typealias Fn = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") {
            _ = unsafeBitCast(sym, to: Fn.self)(1 /* PR_SET_PDEATHSIG */, UInt(SIGKILL), 0, 0, 0)
        }
        if getppid() == 1 { Glibc.exit(ExitStatus.hostUnreadable.rawValue) }
    }

    /// A new network namespace; unprivileged, inside a new user namespace with our uid mapped to root.
    func enterPrivateNamespace() throws {
        if geteuid() == 0 && Foundation.ProcessInfo.processInfo.environment[RulesetSandbox.denyUsernsVariable] == nil {
            // Root without CAP_SYS_ADMIN (a container) falls through to a user namespace of its own.
            if Self.unshare(Self.cloneNewNet) == 0 { return }
        }
        let uid = getuid(), gid = getgid()
        let denied = Foundation.ProcessInfo.processInfo.environment[RulesetSandbox.denyUsernsVariable] != nil
        if denied || Self.unshare(Self.cloneNewUser | Self.cloneNewNet) != 0 {
            let code = denied ? EPERM : errno
            throw CommandFailure(status: .hostUnreadable, message: Self.usernsUnavailable(code))
        }
        func write(_ path: String, _ text: String) throws {
            do { try text.write(toFile: path, atomically: false, encoding: .utf8) } catch {
                throw CommandFailure(
                    status: .hostUnreadable, message: "cannot set up the private user namespace (\(path)): \(error.localizedDescription)")
            }
        }
        try write("/proc/self/setgroups", "deny")
        try write("/proc/self/uid_map", "0 \(uid) 1")
        try write("/proc/self/gid_map", "0 \(gid) 1")
    }

    /// What is missing, named by the setting that controls it.
    static func usernsUnavailable(_ code: Int32, partial: Bool = false) -> String {
        func sysctl(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var causes: [String] = []
        if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0" { causes.append("kernel.unprivileged_userns_clone = 0") }
        if sysctl("/proc/sys/user/max_user_namespaces") == "0" { causes.append("user.max_user_namespaces = 0") }
        if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" {
            causes.append("kernel.apparmor_restrict_unprivileged_userns = 1")
        }
        let refused = partial ? "the new namespace grants no CAP_NET_ADMIN" : "the kernel refused"
        let why =
            causes.isEmpty
            ? "\(refused) (\(String(cString: strerror(code))); user namespaces may be disabled or restricted by a security module, or the limit of user namespaces is reached)"
            : causes.joined(separator: ", ")
        return "--ruleset needs a private network namespace: unprivileged user namespaces are not available here (\(why)). "
            + "Run as root (CAP_SYS_ADMIN), or enable unprivileged user namespaces."
    }
}
