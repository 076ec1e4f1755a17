#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import HostModel

/// The result of one walk of `/proc/[0-9]*/fd/*`: which processes hold which of the wanted socket inodes.
public struct OwnerScan: Sendable, Equatable {
    /// Wanted inode → pids holding a descriptor for it, ascending, without duplicates.
    public var pidsByInode: [UInt64: [Int32]]
    /// Another user's descriptors could not be read (EACCES/EPERM): the collector lacks the privilege (root with
    /// CAP_SYS_PTRACE), so owners of unmatched sockets are unknown, not absent.
    public var denied: Bool
    /// Processes of the collector's own uid whose descriptors were still refused (they hold capabilities the
    /// collector lacks, e.g. a container's init): unmatched sockets may belong to them.
    public var uninspected: [Int32] = []
    /// How many processes were walked (for diagnostics and tests).
    public var processesScanned: Int
    /// The /proc walked belongs to the initial PID namespace, so it lists every process of the host. In a child PID
    /// namespace (a container) processes outside it may hold sockets of this network namespace unseen.
    public var seesAllProcesses: Bool
    /// Sockets without a holder could not be dumped again to rule out that they closed during the walk.
    public var unverified = false

    public init(
        pidsByInode: [UInt64: [Int32]] = [:], denied: Bool = false, uninspected: [Int32] = [], processesScanned: Int = 0,
        seesAllProcesses: Bool = true
    ) {
        self.pidsByInode = pidsByInode
        self.denied = denied
        self.uninspected = uninspected
        self.processesScanned = processesScanned
        self.seesAllProcesses = seesAllProcesses
    }

    /// Every process was visible and its descriptors readable: a socket no process holds is then proven kernel-owned.
    public var isComplete: Bool { !denied && uninspected.isEmpty && seesAllProcesses && !unverified }

    /// The owner state of a socket: known when a holder's details were read; kernel only when the scan was complete
    /// and no process held it; unknown otherwise (including a holder that exited before its details were read).
    public func ownerStatus(inode: UInt64, holdersFound: Bool) -> OwnerStatus {
        if holdersFound { return .known }
        if pidsByInode[inode] != nil { return .unknown }
        return isComplete ? .kernel : .unknown
    }
}

/// Maps socket inodes to processes through /proc, the way `ss -p` does, but reading only what is needed: one pass
/// over the fd links (with `readlinkat`, no path strings per descriptor), then comm/exe/cmdline/cgroup only for the
/// pids that hold a wanted socket. Every read tolerates processes vanishing (ENOENT/ESRCH) and refusals (EACCES).
public enum ProcOwners {
    /// Walks `<procRoot>/<pid>/fd/*` once and keeps the holders of `inodes`.
    ///
    /// Processes in the collector's own network namespace are walked first; the others (on a container host, or when
    /// auditing a namespace, most of them) only when some socket is still without a holder. A socket of this
    /// namespace that already has a holder here is therefore not looked up in other namespaces (a descriptor passed
    /// across namespaces is the only case that skips), which keeps a namespace's scan proportional to its processes.
    public static func scan(procRoot: String, inodes: Set<UInt64>) -> OwnerScan {
        var result = OwnerScan()
        guard !inodes.isEmpty, let proc = opendir(procRoot) else { return result }
        defer { closedir(proc) }
        let procFd = dirfd(proc)
        result.seesAllProcesses = isInitialPIDNamespace(procFd: procFd)
        let linkCapacity = 64
        let link = UnsafeMutablePointer<CChar>.allocate(capacity: linkCapacity)
        defer { link.deallocate() }
        var ownNS = stat()
        let knowOwnNS = fstatat(procFd, "self/ns/net", &ownNS, 0) == 0
        var elsewhere: [Int32] = []
        while let ent = readdir(proc) {
            guard let pid = pidName(ent) else { continue }
            if knowOwnNS {
                var ns = stat()
                if fstatat(procFd, "\(pid)/ns/net", &ns, 0) == 0, ns.st_ino != ownNS.st_ino || ns.st_dev != ownNS.st_dev {
                    elsewhere.append(pid)
                    continue
                }
            }
            walk(pid, procFd: procFd, inodes: inodes, link: link, linkCapacity: linkCapacity, &result)
        }
        if result.pidsByInode.count < inodes.count {
            for pid in elsewhere { walk(pid, procFd: procFd, inodes: inodes, link: link, linkCapacity: linkCapacity, &result) }
        }
        for (k, v) in result.pidsByInode where v.count > 1 { result.pidsByInode[k] = Array(Set(v)).sorted() }
        return result
    }

    /// Reads the fd links of one process and records the wanted socket inodes it holds.
    private static func walk(
        _ pid: Int32, procFd: Int32, inodes: Set<UInt64>, link: UnsafeMutablePointer<CChar>, linkCapacity: Int,
        _ result: inout OwnerScan
    ) {
        let fdDirFd = openat(procFd, "\(pid)/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fdDirFd < 0 {
            let e = errno
            if e == EACCES || e == EPERM { noteDenied(pid, procFd: procFd, &result) }
            return
        }
        guard let fdDir = fdopendir(fdDirFd) else { close(fdDirFd); return }
        defer { closedir(fdDir) }
        result.processesScanned += 1
        let dfd = dirfd(fdDir)
        var refused = false
        while let fdEnt = readdir(fdDir) {
            let n = withUnsafePointer(to: &fdEnt.pointee.d_name) { namePtr -> Int in
                namePtr.withMemoryRebound(to: CChar.self, capacity: 256) { name -> Int in
                    if name[0] == 46 { return -2 }  // "." and ".."
                    return readlinkat(dfd, name, link, linkCapacity)
                }
            }
            if n == -2 { continue }
            if n < 0 {
                let e = errno
                if (e == EACCES || e == EPERM) && !refused { refused = true; noteDenied(pid, procFd: procFd, &result) }
                continue
            }
            guard let inode = socketInode(UnsafeBufferPointer(start: link, count: n)), inodes.contains(inode) else { continue }
            if result.pidsByInode[inode, default: []].last != pid { result.pidsByInode[inode, default: []].append(pid) }
        }
    }

    /// The inode of the initial PID namespace (`PROC_PID_INIT_INO` in linux/proc_ns.h): fixed by the kernel.
    static let initialPIDNamespaceInode: UInt64 = 0xEFFF_FFFC

    /// Whether the /proc at `procFd` is the initial PID namespace's: its `self/ns/pid` names the fixed inode. A /proc
    /// without that entry (not mounted for our namespace, or not a procfs) does not prove it.
    static func isInitialPIDNamespace(procFd: Int32) -> Bool {
        var st = stat()
        guard fstatat(procFd, "self/ns/pid", &st, 0) == 0 else { return false }
        return UInt64(st.st_ino) == initialPIDNamespaceInode
    }

    /// Records a refusal: another user's process means missing privilege; our own uid means a process with more
    /// capabilities. A process that vanished meanwhile (stat fails) is neither.
    private static func noteDenied(_ pid: Int32, procFd: Int32, _ result: inout OwnerScan) {
        var st = stat()
        guard fstatat(procFd, "\(pid)", &st, 0) == 0 else { return }
        if st.st_uid != geteuid() { result.denied = true } else { result.uninspected.append(pid) }
    }

    /// A /proc entry name that is all digits, as a pid.
    private static func pidName(_ ent: UnsafeMutablePointer<dirent>) -> Int32? {
        withUnsafePointer(to: &ent.pointee.d_name) { p in
            p.withMemoryRebound(to: UInt8.self, capacity: 256) { name -> Int32? in
                var v: Int32 = 0
                var i = 0
                while name[i] != 0 {
                    let c = name[i]
                    guard c >= 48, c <= 57, i < 10 else { return nil }
                    v = v * 10 + Int32(c - 48)
                    i += 1
                }
                return i > 0 ? v : nil
            }
        }
    }

    /// Parses `socket:[12345]` from a link target (not NUL-terminated).
    static func socketInode(_ link: UnsafeBufferPointer<CChar>) -> UInt64? {
        // "socket:[" is 8 bytes, then at least one digit and "]".
        let count = link.count
        guard count >= 10, count <= 28 else { return nil }
        let prefix: [CChar] = [115, 111, 99, 107, 101, 116, 58, 91]
        for i in 0..<8 where link[i] != prefix[i] { return nil }
        guard link[count - 1] == 93 else { return nil }
        var v: UInt64 = 0
        for i in 8..<(count - 1) {
            let c = link[i]
            guard c >= 48, c <= 57 else { return nil }
            v = v &* 10 &+ UInt64(c - 48)
        }
        return v
    }

    /// Name, executable, command line, systemd unit and container hint of `pid`; nil when the process is gone.
    public static func process(pid: Int32, procRoot: String) -> HostModel.ProcessInfo? {
        let dir = open("\(procRoot)/\(pid)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return nil }
        defer { close(dir) }
        guard let comm = readSmallFile(dir, "comm") else { return nil }
        var name = String(decoding: comm, as: UTF8.self)
        if name.hasSuffix("\n") { name.removeLast() }
        let exe = readLink(dir, "exe")
        let cmdline = readSmallFile(dir, "cmdline").map(splitNUL) ?? []
        let cgroup = readSmallFile(dir, "cgroup").map { parseCgroup(String(decoding: $0, as: UTF8.self)) }
        return HostModel.ProcessInfo(pid: pid, name: name, exe: exe, cmdline: cmdline, unit: cgroup?.unit, container: cgroup?.container)
    }

    /// Splits `/proc/<pid>/cmdline` at NULs (the trailing NUL does not make an empty argument).
    public static func splitNUL(_ bytes: [UInt8]) -> [String] {
        var out = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if out.last == "" { out.removeLast() }
        return out
    }

    /// Reads a whole (small, possibly procfs) file relative to `dir`; nil on any error.
    static func readSmallFile(_ dir: Int32, _ name: String) -> [UInt8]? {
        let fd = openat(dir, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAll(fd)
    }

    /// Reads `fd` to its end (at most 1 MiB); nil when nothing could be read.
    static func readAll(_ fd: Int32) -> [UInt8]? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return out.isEmpty ? nil : out
            }
            if n == 0 { break }
            out += chunk[0..<n]
            if out.count > 1 << 20 { break }  // a command line is never this long; stop anyway
        }
        return out
    }

    static func readLink(_ dir: Int32, _ name: String) -> String? {
        let capacity = Int(PATH_MAX)
        let buf = UnsafeMutablePointer<CChar>.allocate(capacity: capacity)
        defer { buf.deallocate() }
        let n = readlinkat(dir, name, buf, capacity)
        guard n > 0 else { return nil }
        return UnsafeRawBufferPointer(start: buf, count: n).withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
    }

    /// The systemd unit and a container hint from `/proc/<pid>/cgroup` (cgroup v2 `0::/path`, or the v1
    /// `name=systemd` hierarchy, or the first line).
    public static func parseCgroup(_ text: String) -> (unit: String?, container: String?) {
        var path: Substring?
        var fallback: Substring?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty { path = parts[2]; break }
            if parts[1] == "name=systemd" { path = parts[2] } else if fallback == nil { fallback = parts[2] }
        }
        guard let p = path ?? fallback else { return (nil, nil) }
        let comps = p.split(separator: "/").map(String.init)
        return (unit(comps), container(comps, path: p))
    }

    static func unit(_ comps: [String]) -> String? {
        for c in comps.reversed() {
            guard c.hasSuffix(".service") || c.hasSuffix(".socket") || c.hasSuffix(".scope") else { continue }
            if c.hasPrefix("session-") || c.hasPrefix("user@") { return nil }  // a login session, not a unit of interest
            return c
        }
        return nil
    }

    static func container(_ comps: [String], path: Substring) -> String? {
        if path.contains("kubepods") { return "kubernetes" }
        for (i, c) in comps.enumerated() {
            if c.hasPrefix("docker-"), c.hasSuffix(".scope") {
                return "docker:" + String(c.dropFirst(7).dropLast(6).prefix(12))
            }
            if c == "docker", i + 1 < comps.count, comps[i + 1].count >= 12, comps[i + 1].allSatisfy(\.isHexDigit) {
                return "docker:" + String(comps[i + 1].prefix(12))
            }
            if c.hasPrefix("libpod-"), !c.hasPrefix("libpod-conmon-") {
                var id = Substring(c.dropFirst(7))
                if id.hasSuffix(".scope") { id = id.dropLast(6) }
                if !id.isEmpty, id.allSatisfy(\.isHexDigit) { return "podman:" + String(id.prefix(12)) }
            }
            if c.hasPrefix("lxc.payload.") { return "lxc:" + String(c.dropFirst(12)) }
            if c == "lxc", i + 1 < comps.count { return "lxc:" + comps[i + 1] }
        }
        return nil
    }
}
