#if canImport(Glibc)
    import Glibc
#endif
import HostModel
import Netlink

/// Options for a live collection.
public struct CollectOptions: Sendable {
    /// Continue with `firewall.status = unreadable` instead of failing when the ruleset cannot be read.
    public var allowPartial: Bool
    /// Root of the proc filesystem (a test can point it elsewhere).
    public var procRoot: String
    public var toolVersion: String
    /// Read the nftables ruleset (and legacy tables). Views that only list sockets skip it: it needs CAP_NET_ADMIN
    /// and, on a large ruleset, costs far more than the sockets.
    public var readFirewall: Bool
    /// Read routes, policy rules and sysctls (interfaces are always read: listeners need device names).
    public var readRouting: Bool
    /// How rules are dumped: per chain (linear in the number of rules) or in one dump (as `nft` does; quadratic in the
    /// kernel). Both return the same ruleset; the choice exists so the benchmark can show the crossover.
    public var ruleDump: RuleDumpStrategy
    /// How many sockets answer the ruleset's element and rule dumps at once (`NftablesReader.read(workers:)`): two
    /// on a machine with more than one core, where decoding the dumps in parallel shortens the read; 1 otherwise.
    public var rulesetWorkers = sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 ? 2 : 1
    /// Which other network namespaces (containers, pods, named ones) are read besides the collector's own.
    public var namespaces: NamespaceSelection
    /// A pause between the socket dump and the /proc walk, so tests can make processes exit inside that window
    /// (`PORTWARDEN_TEST_OWNER_WALK_DELAY_MS` for `collect`; a line on stderr says when it starts); nil in every real run.
    public var ownerWalkDelayMilliseconds: UInt32? = nil

    public init(
        allowPartial: Bool = false, procRoot: String = "/proc", toolVersion: String = "0.0.0",
        readFirewall: Bool = true, readRouting: Bool = true, ruleDump: RuleDumpStrategy = .perChain,
        namespaces: NamespaceSelection = .all
    ) {
        self.allowPartial = allowPartial
        self.procRoot = procRoot
        self.toolVersion = toolVersion
        self.readFirewall = readFirewall
        self.readRouting = readRouting
        self.ruleDump = ruleDump
        self.namespaces = namespaces
    }
}

/// Why the host could not be read (exit code 3).
public enum CollectError: Error, CustomStringConvertible {
    /// nf_tables refused: the message names the missing capability.
    case firewallUnreadable(String)
    case kernel(String)

    public var description: String {
        switch self {
        case .firewallUnreadable(let m): m
        case .kernel(let m): m
        }
    }
}

/// Composes netlink, /proc and /proc/sys into one consistent `Snapshot`. Read-only.
public enum Collector {
    static let firewallNeedsNetAdmin = "cannot read the firewall: CAP_NET_ADMIN needed"
    static let ownersUnknownWarning = "owners unknown: reading other processes' sockets needs root with CAP_SYS_PTRACE"

    /// Collects this host's network namespace.
    /// - Throws: `CollectError.firewallUnreadable` without CAP_NET_ADMIN (unless `allowPartial`),
    ///   `CollectError.kernel` when sockets, links or the ruleset cannot be read.
    public static func collect(_ options: CollectOptions) throws(CollectError) -> Snapshot {
        // The ruleset dump, the largest read on a firewalled host, runs on a thread of its own meanwhile.
        let firewallRead = options.readFirewall ? FirewallRead(options) : nil
        let hostRead: Result<HostRead, CollectError>
        do { hostRead = .success(try readHost(options)) } catch { hostRead = .failure(error) }

        var warnings: [String] = []
        var privileges = Privileges()
        var firewall = Firewall(status: .unreadable, error: "not collected: this view does not read the firewall")
        if let read = firewallRead?.join() {
            // Without the privilege for the firewall, that is the error, whatever else failed.
            firewall = try read.result.get()
            privileges.netAdmin = read.netAdmin
            warnings = read.warnings
        }
        if !firewall.legacyTables.isEmpty {
            let names =
                (firewall.legacyTables.ipv4.map { "ip:\($0)" } + firewall.legacyTables.ipv6.map { "ip6:\($0)" }
                + firewall.legacyTables.arp.map { "arp:\($0)" }).joined(separator: ", ")
            warnings.append("ruleset incomplete: legacy iptables tables present (\(names)); their rules are not visible to portwarden")
        }
        let host = try hostRead.get()
        privileges.procFds = host.procFds
        warnings += host.warnings

        let info = HostInfo(
            hostname: HostFiles.hostname(), kernel: HostFiles.kernelRelease(),
            collectedAt: HostFiles.rfc3339Now(), toolVersion: options.toolVersion)
        return Snapshot(
            host: info, listeners: host.listeners, interfaces: host.net.interfaces, routes: host.net.routing,
            sysctls: options.readRouting ? SysctlReader.read(procRoot: options.procRoot) : Sysctls(), firewall: firewall,
            privileges: privileges, warnings: warnings, netns: host.own, namespaces: host.namespaces)
    }

    /// Everything but the firewall: sockets with their owners, links and routes, and the other namespaces.
    struct HostRead {
        var listeners: [Listener]
        var net: RouteNetlink.Result
        var own: NamespaceID?
        var namespaces: [NetworkNamespace]
        var procFds = true
        var warnings: [String] = []
    }

    static func readHost(_ options: CollectOptions) throws(CollectError) -> HostRead {
        var warnings: [String] = []
        var raw: [RawSocket]
        let net: RouteNetlink.Result
        var unavailable: [String] = []
        do {
            raw = try SockDiag.listeners(unavailable: &unavailable)
        } catch {
            throw .kernel("cannot list sockets: \(error)")
        }
        for u in unavailable { warnings.append("some sockets cannot be listed on this kernel, they are missing from the snapshot: \(u)") }
        do {
            net = try RouteNetlink.read(routing: options.readRouting)
        } catch {
            throw .kernel("cannot read interfaces and routes: \(error)")
        }

        // The other namespaces, each read from a thread that joins it; their sockets' owners come from the same walk.
        let found = NamespaceReader.discover(procRoot: options.procRoot, selection: options.namespaces)
        let others = NamespaceReader.readAll(found.others, options: options)

        // Inodes first, then one /proc walk, then details only for the pids that matched.
        var inodes = Set<UInt64>()
        inodes.reserveCapacity(raw.count)
        for s in raw where s.inode != 0 { inodes.insert(UInt64(s.inode)) }
        for n in others { for s in n.raw where s.inode != 0 { inodes.insert(UInt64(s.inode)) } }
        // Test seam: widen the window between the socket dump and the /proc walk (CollectFaultTests).
        if let ms = options.ownerWalkDelayMilliseconds {
            let line = Array("portwarden: test seam: sockets dumped, owner walk in \(ms) ms\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            usleep(UInt32(min(ms, 10_000)) * 1000)
        }
        var scan = ProcOwners.scan(procRoot: options.procRoot, inodes: inodes)
        recheckUnheld(&raw, scan: &scan, procRoot: options.procRoot, warnings: &warnings)
        var processes: [Int32: HostModel.ProcessInfo] = [:]
        for pids in scan.pidsByInode.values {
            for pid in pids where processes[pid] == nil {
                if let p = ProcOwners.process(pid: pid, procRoot: options.procRoot) { processes[pid] = p }
            }
        }
        var read = HostRead(listeners: [], net: net, own: found.own, namespaces: [])
        if scan.denied {
            read.procFds = false
            warnings.append(ownersUnknownWarning)
        }
        read.listeners = assembleListeners(raw, scan: scan, processes: processes, interfaces: net.interfaces)
        warnings += incompleteScanWarnings(scan, unknownOwners: read.listeners.lazy.filter { $0.owner == .unknown }.count)
        read.namespaces = assembleNamespaces(others, scan: scan, processes: processes, procRoot: options.procRoot, warnings: &warnings)
        read.warnings = warnings
        return read
    }

    /// The other namespaces' listeners with owners from the host's one /proc walk, and the container that owns each.
    private static func assembleNamespaces(
        _ others: [NamespaceRead], scan: OwnerScan, processes: [Int32: HostModel.ProcessInfo], procRoot: String,
        warnings: inout [String]
    ) -> [NetworkNamespace] {
        var namespaces: [NetworkNamespace] = []
        for n in others {
            warnings += n.warnings
            // An ended namespace is no longer part of the host: only its warning says it was there.
            if n.vanished { continue }
            let ls = assembleListeners(n.raw, scan: scan, processes: processes, interfaces: n.net.interfaces)
            let pids = n.candidate.pids.isEmpty ? Array(Set(ls.flatMap { $0.processes.map(\.pid) })).sorted().prefix(8).map { $0 } : n.candidate.pids
            namespaces.append(
                NetworkNamespace(
                    id: n.candidate.id, owner: ContainerOwners.owner(pids: pids, roots: .init(procRoot: procRoot)),
                    entered: n.entered, pids: pids, listeners: ls, interfaces: n.net.interfaces,
                    routes: n.net.routing, sysctls: n.sysctls, firewall: n.firewall, warnings: n.warnings))
        }
        return namespaces
    }

    /// A socket no process was found holding may have closed between the socket dump and the /proc walk (its process
    /// exited): that socket would be reported as kernel-owned, and it no longer exists. The sockets are dumped again;
    /// those gone are left out (with a warning saying how many), and the holders of those still there are looked for
    /// once more, so a socket handed to another process meanwhile is not called kernel-owned either.
    static func recheckUnheld(_ raw: inout [RawSocket], scan: inout OwnerScan, procRoot: String, warnings: inout [String]) {
        let unheld = raw.filter { $0.inode != 0 && (scan.pidsByInode[UInt64($0.inode)] ?? []).isEmpty }
        guard !unheld.isEmpty else { return }
        var unavailable: [String] = []
        guard let again = try? SockDiag.listeners(unavailable: &unavailable) else {
            // Cannot tell closed from kernel-owned: unknown owners, not a guess.
            scan.unverified = true
            return
        }
        let live = Set(again.map(\.cookie))
        let gone = Set(unheld.filter { !live.contains($0.cookie) }.map(\.cookie))
        if !gone.isEmpty {
            raw.removeAll { gone.contains($0.cookie) }
            warnings.append("\(gone.count) listening socket(s) closed while the snapshot was taken (their processes exited); they are left out")
        }
        let remaining = Set(unheld.filter { !gone.contains($0.cookie) }.map { UInt64($0.inode) })
        guard !remaining.isEmpty else { return }
        let second = ProcOwners.scan(procRoot: procRoot, inodes: remaining)
        for (inode, pids) in second.pidsByInode where !pids.isEmpty { scan.pidsByInode[inode] = pids }
        scan.denied = scan.denied || second.denied
        scan.uninspected = Array(Set(scan.uninspected + second.uninspected)).sorted()
    }

    /// What the user should know when some sockets' owners are unknown for a reason other than missing privilege
    /// (that one is `ownersUnknownWarning`).
    static func incompleteScanWarnings(_ scan: OwnerScan, unknownOwners: Int) -> [String] {
        guard !scan.denied, unknownOwners > 0 else { return [] }
        var out: [String] = []
        if !scan.uninspected.isEmpty {
            let pids = scan.uninspected.prefix(5).map(String.init).joined(separator: ", ") + (scan.uninspected.count > 5 ? ", …" : "")
            out.append(
                "owners unknown for \(unknownOwners) socket(s): the descriptors of \(scan.uninspected.count) process(es) holding capabilities portwarden lacks could not be read (pid \(pids)); run as root with CAP_SYS_PTRACE"
            )
        }
        if !scan.seesAllProcesses {
            out.append(
                "owners unknown for \(unknownOwners) socket(s): portwarden runs in a child PID namespace (or /proc is not this namespace's), so processes outside it cannot be seen; run it in the host's PID namespace"
            )
        }
        if out.isEmpty {
            out.append("owners unknown for \(unknownOwners) socket(s): their holders exited while the descriptors were read")
        }
        return out
    }

    /// Maps the nftables reader's outcome to the snapshot's firewall, or to the failure the user has to act on.
    static func readFirewall(_ options: CollectOptions, privileges: inout Privileges, warnings: inout [String]) throws(CollectError) -> Firewall {
        do {
            let read = try NftablesReader.read(rules: options.ruleDump, workers: options.rulesetWorkers)
            privileges.netAdmin = true
            return Firewall(status: read.tables.isEmpty ? .absent : .ok, generation: read.generation, tables: read.tables)
        } catch {
            return try firewallFailure(error, options, privileges: &privileges, warnings: &warnings)
        }
    }

    /// The decision table for a failed ruleset read (split out so it is testable without a kernel).
    static func firewallFailure(
        _ error: any Error, _ options: CollectOptions, privileges: inout Privileges,
        warnings: inout [String]
    ) throws(CollectError) -> Firewall {
        if let e = error as? NetlinkError {
            if case .kernel(_, let errno) = e, errno == 1 || errno == 13 {
                privileges.netAdmin = false
                guard options.allowPartial else {
                    throw .firewallUnreadable(firewallNeedsNetAdmin + " (run as root, or pass --allow-partial to continue without the firewall)")
                }
                warnings.append(firewallNeedsNetAdmin + "; the firewall is reported as unreadable and no reachability can be concluded")
                return Firewall(status: .unreadable, error: firewallNeedsNetAdmin)
            }
            if case .inconsistent = e { throw .kernel(e.description) }
        }
        let message = "cannot read the firewall: \(error)"
        guard options.allowPartial else { throw .kernel(message) }
        warnings.append(message + "; the firewall is reported as unreadable")
        return Firewall(status: .unreadable, error: message)
    }

    /// Turns raw sockets into listeners: formatted addresses, device names, holders; sorted by
    /// (proto, family, address, port, cookie) so two collections of the same host compare equal.
    public static func assembleListeners(
        _ raw: [RawSocket], scan: OwnerScan, processes: [Int32: HostModel.ProcessInfo],
        interfaces: [Interface]
    ) -> [Listener] {
        var names: [UInt32: String] = [:]
        for i in interfaces { names[i.index] = i.name }
        let sorted = raw.sorted { a, b in
            if a.proto != b.proto { return a.proto < b.proto }
            if a.family != b.family { return a.family < b.family }
            if a.address != b.address { return a.address.lexicographicallyPrecedes(b.address) }
            if a.port != b.port { return a.port < b.port }
            return a.cookie < b.cookie
        }
        var out: [Listener] = []
        out.reserveCapacity(sorted.count)
        // Few distinct bind addresses, many sockets: format each address once (the input is sorted by address).
        var lastBytes: [UInt8] = []
        var lastText = ""
        for s in sorted {
            let isV6 = s.address.count == 16
            if s.address != lastBytes {
                lastBytes = s.address
                lastText = isV6 ? IPv6Address(bytes: s.address).description : IPv4Address(bytes: s.address).description
            }
            let address = lastText
            let holders = (scan.pidsByInode[UInt64(s.inode)] ?? []).compactMap { processes[$0] }
            let owner = scan.ownerStatus(inode: UInt64(s.inode), holdersFound: !holders.isEmpty)
            out.append(
                Listener(
                    proto: s.proto == 6 ? .tcp : .udp,
                    family: isV6 ? .ipv6 : .ipv4,
                    address: address,
                    port: s.port,
                    v6only: isV6 ? (s.v6only ?? false) : false,
                    device: s.interfaceIndex == 0 ? nil : (names[s.interfaceIndex] ?? "if\(s.interfaceIndex)"),
                    deviceIndex: s.interfaceIndex,
                    uid: s.uid,
                    inode: UInt64(s.inode),
                    cookie: s.cookie,
                    processes: holders,
                    owner: owner
                ))
        }
        return out
    }
}
