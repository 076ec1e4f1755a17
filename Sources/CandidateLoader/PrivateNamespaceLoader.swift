import Foundation
import Glibc
import HostModel
import Netlink

/// The child side of `--ruleset`: enters a new network namespace (and user namespace unless root), creates dummy
/// interfaces named and numbered like the host's, runs `nft -f`, and returns what the kernel holds. It must run in a
/// process of its own (`RulesetSandbox` starts one), since the namespace is entered for the whole process.
public enum PrivateNamespaceLoader {
    /// What went wrong in the child. `doesNotLoad` carries nft's own error output, which the parent filters before
    /// showing it (it may quote files outside the ruleset's tree).
    public enum Failure: Error {
        case doesNotLoad(nftErrors: String)
        case failed(CandidateError)
    }

    /// Loads `file` in a fresh private namespace; `interfaces` are `NAME=INDEX` pairs to recreate there. Returns the
    /// result as JSON for the parent (`RulesetSandbox.Loaded`).
    public static func run(file: String, interfaces: [String]) throws(Failure) -> Data {
        signal(SIGPIPE, SIG_IGN)
        dieWithParent()
        do { try enterPrivateNamespace() } catch { throw .failed(error) }
        let created = createInterfaces(interfaces)
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let nft: ChildProcess.Result
        do { nft = try ChildProcess.run("/usr/bin/env", ["nft", "-I", dir, "-f", file], cwd: dir) } catch {
            throw .failed(CandidateError(.hostUnreadable, "cannot run nft: \(error)"))
        }
        if nft.status == 127 {
            let why = nft.err.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .failed(CandidateError(.hostUnreadable, "--ruleset needs nft (nftables) on PATH: \(why)"))
        }
        if nft.status != 0 && nft.err.contains("Operation not permitted") {
            // The namespace exists but grants no CAP_NET_ADMIN (e.g. AppArmor's restriction of unprivileged user
            // namespaces): not the file's fault.
            throw .failed(CandidateError(.hostUnreadable, usernsUnavailable(EPERM, partial: true)))
        }
        if nft.status != 0 { throw .doesNotLoad(nftErrors: nft.err) }
        let read: RulesetRead
        do { read = try NftablesReader.read() } catch {
            throw .failed(CandidateError(.hostUnreadable, "cannot read the loaded ruleset back: \(error)"))
        }
        let fw = Firewall(status: read.tables.isEmpty ? .absent : .ok, generation: read.generation, tables: read.tables)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        do { return try enc.encode(RulesetSandbox.Loaded(firewall: fw, interfaces: created, path: file)) } catch {
            throw .failed(CandidateError(.hostUnreadable, "cannot encode the ruleset: \(error)"))
        }
    }

    /// Creates the host's interfaces (`NAME=INDEX`) in the namespace, keeping the host's index where possible, then
    /// falling back to other link types (some kernels have no dummy module) and finally to any index. Returns the
    /// index each one got.
    static func createInterfaces(_ specs: [String]) -> [String: UInt32] {
        var wanted: [(String, UInt32)] = []
        for spec in specs {
            guard let eq = spec.lastIndex(of: "="), let idx = UInt32(spec[spec.index(after: eq)...]) else { continue }
            wanted.append((String(spec[..<eq]), idx))
        }
        _ = try? ChildProcess.run("/usr/bin/env", ["ip", "link", "set", "lo", "up"])
        // One `ip -batch` per attempt.
        let attempts: [(String, Bool)] = [("dummy", true), ("ifb", true), ("bridge", true), ("dummy", false), ("ifb", false), ("bridge", false)]
        for (kind, withIndex) in attempts {
            let missing = wanted.filter { if_nametoindex($0.0) == 0 }
            if missing.isEmpty { break }
            let batch = missing.map { "link add \($0.0)\(withIndex ? " index \($0.1)" : "") type \(kind)" }.joined(separator: "\n") + "\n"
            _ = try? ChildProcess.run("/usr/bin/env", ["ip", "-force", "-batch", "-"], input: Data(batch.utf8))
        }
        var created: [String: UInt32] = [:]
        for (name, _) in wanted { let i = if_nametoindex(name); if i != 0 { created[name] = i } }
        return created
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
        if getppid() == 1 { Glibc.exit(CandidateError.hostUnreadableStatus) }
    }

    /// A new network namespace; unprivileged, inside a new user namespace with our uid mapped to root.
    static func enterPrivateNamespace() throws(CandidateError) {
        let denied = Foundation.ProcessInfo.processInfo.environment[RulesetSandbox.denyUsernsVariable] != nil
        // Root without CAP_SYS_ADMIN (a container) falls through to a user namespace of its own.
        if geteuid() == 0 && !denied && unshare(cloneNewNet) == 0 { return }
        let uid = getuid(), gid = getgid()
        if denied || unshare(cloneNewUser | cloneNewNet) != 0 {
            throw CandidateError(.hostUnreadable, usernsUnavailable(denied ? EPERM : errno))
        }
        func write(_ path: String, _ text: String) throws(CandidateError) {
            do { try text.write(toFile: path, atomically: false, encoding: .utf8) } catch {
                throw CandidateError(.hostUnreadable, "cannot set up the private user namespace (\(path)): \(error.localizedDescription)")
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
