#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import Foundation
import HostModel
import Netlink

/// A network namespace found on the host, before it is read: how to enter it and who is in it.
struct NamespaceCandidate: Sendable, Equatable {
    var id: NamespaceID
    /// A file whose open descriptor `setns` accepts: `/run/netns/NAME` or `/proc/PID/ns/net`.
    var path: String
    var pids: [Int32]
}

/// What was read inside one namespace, before owners are matched (one /proc walk serves every namespace).
struct NamespaceRead: Sendable {
    var candidate: NamespaceCandidate
    var raw: [RawSocket] = []
    var net = RouteNetlink.Result(interfaces: [], routing: Routing())
    var sysctls = Sysctls()
    var firewall = Firewall(status: .unreadable, error: "not collected")
    var warnings: [String] = []
    var entered = false
    /// The namespace ended between discovery and reading (its last process exited, its /run/netns name was removed):
    /// it is no longer part of the host's state and is left out, with a warning.
    var vanished = false
}

/// Finds the host's other network namespaces and reads each from a thread of its own that joins it with `setns`
/// (the calling thread never changes namespace; the joining thread ends with its read). Only GET and dump requests
/// are sent inside, as in the host's own namespace.
enum NamespaceReader {
    /// The nsfs inode of a namespace file, following the magic link.
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// Whether `path` is a namespace (on nsfs, the device of every namespace file, as `nsfsDevice` is), not the
    /// placeholder file `ip netns add` creates before mounting one on it.
    static func isNamespaceFile(_ path: String, nsfsDevice: UInt64) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && UInt64(st.st_dev) == nsfsDevice
    }

    /// The collector's own namespace, then every other one: named ones (`/run/netns`), then those of running
    /// processes (`/proc/*/ns/net`), each once, with at most 8 of its pids.
    static func discover(procRoot: String, selection: NamespaceSelection, netnsDir: String = "/run/netns") -> (
        own: NamespaceID?, others: [NamespaceCandidate]
    ) {
        guard let ownInode = inode("\(procRoot)/thread-self/ns/net") ?? inode("\(procRoot)/self/ns/net") else { return (nil, []) }
        var own = NamespaceID(inode: ownInode)
        if case .hostOnly = selection { return (own, []) }
        var byInode: [UInt64: NamespaceCandidate] = [:]
        var order: [UInt64] = []
        var ownStat = stat()
        let nsfsDevice: UInt64? = stat("\(procRoot)/self/ns/net", &ownStat) == 0 ? UInt64(ownStat.st_dev) : nil
        let wanted: Set<String>?
        if case .named(let names) = selection { wanted = Set(names) } else { wanted = nil }
        for name in listDirectory(netnsDir).sorted() where wanted?.contains(name) ?? true {
            let path = "\(netnsDir)/\(name)"
            // A name being added or deleted is a plain file without the namespace mounted on it: not one (yet).
            guard let dev = nsfsDevice, isNamespaceFile(path, nsfsDevice: dev), let ino = inode(path) else { continue }
            if ino == ownInode { own.name = own.name ?? name; continue }
            if byInode[ino] == nil {
                order.append(ino); byInode[ino] = NamespaceCandidate(id: NamespaceID(inode: ino, name: name), path: path, pids: [])
            }
        }
        for entry in listDirectory(procRoot) {
            guard let pid = Int32(entry), pid > 0, let ino = inode("\(procRoot)/\(entry)/ns/net"), ino != ownInode else { continue }
            if var c = byInode[ino] {
                if c.pids.count < 8 { c.pids.append(pid); byInode[ino] = c }
            } else if wanted == nil {
                order.append(ino)
                byInode[ino] = NamespaceCandidate(id: NamespaceID(inode: ino), path: "\(procRoot)/\(entry)/ns/net", pids: [pid])
            }
        }
        return (
            own,
            order.compactMap { byInode[$0] }.map { c in
                var c = c; c.pids.sort(); return c
            }
        )
    }

    /// Whether a namespace that could not be opened or joined still exists: its file still is that namespace, or a
    /// process of it still runs (then the failure is real and reported, not taken for an ended namespace).
    static func exists(_ c: NamespaceCandidate, procRoot: String) -> Bool {
        inode(c.path) == c.id.inode || c.pids.contains { inode("\(procRoot)/\($0)/ns/net") == c.id.inode }
    }

    /// Reads every candidate, one thread each, at most `parallel` at once.
    static func readAll(_ candidates: [NamespaceCandidate], options: CollectOptions, parallel: Int = 4) -> [NamespaceRead] {
        let results = ResultBox(count: candidates.count)
        let gate = DispatchSemaphore(value: max(1, parallel))
        let done = DispatchGroup()
        for (i, c) in candidates.enumerated() {
            gate.wait()
            done.enter()
            let t = Thread {
                results.set(i, read(c, options: options))
                gate.signal()
                done.leave()
            }
            t.start()
        }
        done.wait()
        return results.values(candidates)
    }

    /// One namespace, read on the current thread after joining it. Must run on a thread that ends afterwards.
    static func read(_ c: NamespaceCandidate, options: CollectOptions) -> NamespaceRead {
        var out = NamespaceRead(candidate: c)
        let fd = open(c.path, O_RDONLY | O_CLOEXEC)
        func ended() -> NamespaceRead {
            out.vanished = true
            out.warnings = ["network namespace \(c.id.label) ended while the snapshot was taken; it is left out"]
            return out
        }
        if fd < 0 && !NamespaceReader.exists(c, procRoot: options.procRoot) { return ended() }
        guard fd >= 0 else {
            out.warnings.append(
                "cannot open network namespace \(c.id.label) (\(c.path)): \(String(cString: strerror(errno))); its sockets are not in this snapshot")
            out.firewall = Firewall(status: .unreadable, error: "namespace not entered")
            return out
        }
        defer { close(fd) }
        // Only the network namespace; the thread's mount and user namespaces stay the collector's.
        let err = NetnsJoin.joinOnThisThread(fd)
        // A /run/netns name being removed is a plain file once unmounted: setns refuses it (EINVAL).
        if err != 0 && !NamespaceReader.exists(c, procRoot: options.procRoot) { return ended() }
        guard err == 0 else {
            let why = err == EPERM ? "CAP_SYS_ADMIN needed" : String(cString: strerror(err))
            out.warnings.append("cannot enter network namespace \(c.id.label): \(why); its sockets are not in this snapshot")
            out.firewall = Firewall(status: .unreadable, error: "namespace not entered")
            return out
        }
        out.entered = true
        var unavailable: [String] = []
        do {
            out.raw = try SockDiag.listeners(unavailable: &unavailable)
        } catch {
            out.warnings.append("cannot list the sockets of network namespace \(c.id.label): \(error)")
        }
        do {
            out.net = try RouteNetlink.read(routing: true)
        } catch {
            out.warnings.append("cannot read the interfaces and routes of network namespace \(c.id.label): \(error)")
        }
        // /proc/sys/net resolves the namespace of the reading thread at open time.
        out.sysctls = SysctlReader.read(procRoot: options.procRoot)
        if options.readFirewall {
            var privileges = Privileges()
            var warnings: [String] = []
            var partial = options
            partial.allowPartial = true
            out.firewall =
                (try? Collector.readFirewall(partial, privileges: &privileges, warnings: &warnings))
                ?? Firewall(status: .unreadable, error: "cannot read the firewall")
            out.firewall.legacyTables = HostFiles.legacyTables(procRoot: "\(options.procRoot)/thread-self")
            out.firewall.recentLists = HostFiles.recentLists(procRoot: "\(options.procRoot)/thread-self")
            out.warnings += warnings.map { "network namespace \(c.id.label): \($0)" }
        } else {
            out.firewall = Firewall(status: .unreadable, error: "not collected: this view does not read the firewall")
        }
        return out
    }

    /// Results written by reader threads, each into its own slot.
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [NamespaceRead?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: NamespaceRead) { lock.lock(); slots[i] = r; lock.unlock() }
        func values(_ candidates: [NamespaceCandidate]) -> [NamespaceRead] {
            lock.lock(); defer { lock.unlock() }
            return slots.enumerated().map { i, r in
                r ?? NamespaceRead(candidate: candidates[i], warnings: ["network namespace \(candidates[i].id.label) was not read"])
            }
        }
    }
}
