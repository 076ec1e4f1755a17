import Foundation
import HostModel
import Serialization
import Testing

/// Python holder for the listener tests: opens every kind of socket the collector must report, forks once so one
/// socket is shared by two processes, and writes "ready" to argv[1] when all are open.
let listenerHolderScript = #"""
    import ctypes, os, socket, sys, time
    ready, hold = sys.argv[1], float(sys.argv[2])
    A4, A6 = socket.AF_INET, socket.AF_INET6
    keep = []
    def tcp(fam, addr, port, v6only=None, dev=None):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev)
        s.bind((addr, port)); s.listen(); keep.append(s)
    def udp(fam, addr, port, v6only=None, dev=None):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        if dev: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev)
        s.bind((addr, port)); keep.append(s)
    tcp(A4, "0.0.0.0", 8080)              # shared with the child (opened before fork)
    rfd, wfd = os.pipe()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"pw-child", 0, 0, 0)   # PR_SET_NAME
        os.setgid(65534); os.setuid(65534)
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)              # PR_SET_DUMPABLE: setuid cleared it; uid 65534 may read its fds
        udp(A4, "0.0.0.0", 5000)
        tcp(A4, "192.0.2.10", 7000)
        os.write(wfd, b"r")
        time.sleep(hold); sys.exit(0)
    tcp(A4, "192.0.2.10", 8443)           # specific address on the veth
    tcp(A4, "127.0.0.1", 631)             # loopback, below 1024
    tcp(A4, "0.0.0.0", 22)                # below 1024
    tcp(A4, "0.0.0.0", 40000)             # inside the default ephemeral range
    tcp(A6, "::", 9090, v6only=0)         # dual stack
    tcp(A6, "::", 9091, v6only=1)         # v6only
    tcp(A6, "2001:db8::10", 443)          # specific IPv6 (v6only forced)
    tcp(A6, "::1", 9092)                  # IPv6 loopback
    tcp(A4, "0.0.0.0", 7070, dev=b"d0")   # device bound
    udp(A4, "192.0.2.10", 53, dev=b"d0")  # device bound UDP below 1024
    udp(A6, "::", 5353, v6only=0)
    udp(A4, "127.0.0.1", 6000)
    os.read(rfd, 1)                       # the child's sockets are open
    open(ready, "w").write("ready\n")
    time.sleep(hold)
    """#

/// One line of `ss -tulpneH`, reduced to what the snapshot must agree with.
struct SSListener: Hashable, CustomStringConvertible {
    var proto: String
    var address: String
    var port: UInt16
    /// nil for IPv4.
    var v6only: Bool?
    var device: String?
    var uid: UInt32
    var inode: UInt64
    var description: String { "\(proto) \(address)%\(device ?? "-"):\(port) v6only=\(v6only.map(String.init) ?? "-") uid=\(uid) ino=\(inode)" }

    /// Parses one `ss -tulpneH` line; `owners` receives the (pid, name) pairs of `users:((…))`.
    static func parse(_ line: String, owners: inout [UInt64: Set<String>]) -> SSListener? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count >= 6 else { return nil }
        var local = fields[4]
        guard let colon = local.lastIndex(of: ":"), let port = UInt16(local[local.index(after: colon)...]) else { return nil }
        local = String(local[..<colon])
        var device: String?
        if let pct = local.lastIndex(of: "%") {
            device = String(local[local.index(after: pct)...])
            local = String(local[..<pct])
        }
        var isV6 = false
        if local == "*" { local = "::"; isV6 = true }
        if local.hasPrefix("[") { local = String(local.dropFirst().dropLast()); isV6 = true }
        var uid: UInt32 = 0, inode: UInt64 = 0, v6only: Bool?
        var users: Set<String> = []
        for f in fields.dropFirst(6) {
            if f.hasPrefix("uid:") { uid = UInt32(f.dropFirst(4)) ?? 0 }
            if f.hasPrefix("ino:") { inode = UInt64(f.dropFirst(4)) ?? 0 }
            if f.hasPrefix("v6only:") { v6only = f.hasSuffix(":1") }
            if f.hasPrefix("users:") {
                // users:(("python3",pid=12,fd=3),("pw-child",pid=13,fd=3))
                for entry in f.components(separatedBy: "(\"").dropFirst() {
                    let name = entry.prefix { $0 != "\"" }
                    if let r = entry.range(of: "pid="), let pid = Int(entry[r.upperBound...].prefix { $0.isNumber }) {
                        users.insert("\(name)[\(pid)]")
                    }
                }
            }
        }
        if isV6, v6only == nil { v6only = false }
        owners[inode] = users
        return SSListener(proto: fields[0], address: local, port: port, v6only: isV6 ? v6only : nil, device: device, uid: uid, inode: inode)
    }
}

/// Waits until `path` exists (the holder's readiness file).
func waitForFile(_ path: String, timeout: TimeInterval = 10) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !FileManager.default.fileExists(atPath: path) {
        if Date() > deadline { throw ShellError.cannotStart(command: ["holder"], reason: "not ready after \(timeout)s") }
        usleep(20_000)
    }
}

/// A temporary directory removed at deinit.
final class TempDir {
    let path: String
    init(_ tag: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { "\(path)/\(name)" }
}

/// Builds the namespace of the listener tests: a veth pair (d0 with 192.0.2.10/24 and 2001:db8::10/64) and the holder.
func listenerNamespace(_ tag: String, dir: TempDir) throws -> TestNamespace {
    let ns = try TestNamespace(tag)
    try ns.veth("d0", "d1", peer: nil)
    try ns.exec(["ip", "addr", "add", "192.0.2.10/24", "dev", "d0"])
    try ns.exec(["ip", "addr", "add", "2001:db8::10/64", "dev", "d0", "nodad"])
    try Data(listenerHolderScript.utf8).write(to: URL(fileURLWithPath: dir.file("holder.py")))
    try ns.spawn(["python3", dir.file("holder.py"), dir.file("ready"), "60"])
    try waitForFile(dir.file("ready"))
    return ns
}

@Suite(.serialized) struct ListenerIntegrationTests {
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func snapshotAgreesWithSs() throws {
        let dir = try TempDir("lst")
        let ns = try listenerNamespace("lst", dir: dir)
        defer { ns.cleanup() }

        let collected = try ns.exec([portwardenBinary, "collect", "--netns", "host"], check: false)
        try #require(collected.status == 0, "collect failed: \(collected.stderr)")
        let snapshot = try SnapshotCodec.decode(collected.stdoutData)
        let ss = try ns.exec(["ss", "-tulpneH"])
        var ssOwners: [UInt64: Set<String>] = [:]
        let expected = ss.stdout.split(separator: "\n").compactMap { SSListener.parse(String($0), owners: &ssOwners) }
        try #require(expected.count == 15, "the holder's 15 sockets: \(ss.stdout)")

        let got = snapshot.listeners.map { l in
            SSListener(
                proto: l.proto.rawValue, address: l.address, port: l.port, v6only: l.family == .ipv6 ? l.v6only : nil,
                device: l.device, uid: l.uid, inode: l.inode)
        }
        #expect(got.count == expected.count)
        #expect(Set(got) == Set(expected), "only in snapshot: \(Set(got).subtracting(expected)); only in ss: \(Set(expected).subtracting(got))")
        for l in snapshot.listeners {
            let owners = Set(l.processes.map { "\($0.name)[\($0.pid)]" })
            #expect(owners == ssOwners[l.inode], "owners of \(l.endpoint)")
            #expect(l.owner == .known)
        }

        // Spot checks on the meaning, not just agreement with ss.
        func listener(_ proto: L4Proto, _ port: UInt16) throws -> Listener {
            try #require(snapshot.listeners.first { $0.proto == proto && $0.port == port }, "\(proto) \(port)")
        }
        let shared = try listener(.tcp, 8080)
        #expect(shared.processes.count == 2 && Set(shared.processes.map(\.name)) == ["python3", "pw-child"])
        #expect(shared.processes.map(\.pid) == shared.processes.map(\.pid).sorted())
        let dual = try listener(.tcp, 9090), v6only = try listener(.tcp, 9091)
        #expect(dual.family == .ipv6 && !dual.v6only && dual.receivesFamilies == [.ipv4, .ipv6])
        #expect(v6only.v6only && v6only.receivesFamilies == [.ipv6])
        let bound = try listener(.tcp, 7070)
        #expect(bound.device == "d0" && bound.bindScope == .wildcard)
        let dns = try listener(.udp, 53)
        #expect(dns.device == "d0" && dns.address == "192.0.2.10" && dns.bindScope == .specific)
        let child = try listener(.udp, 5000)
        #expect(child.uid == 65534 && child.processes.map(\.name) == ["pw-child"])
        #expect(try listener(.tcp, 631).bindScope == .loopback)
        #expect(try listener(.tcp, 9092).bindScope == .loopback)
        let python = try #require(shared.processes.first { $0.name == "python3" })
        #expect(python.cmdline.contains(dir.file("holder.py")))
        #expect(python.exe?.contains("python") == true)

        // The rest of the snapshot.
        let d0 = try #require(snapshot.interfaces.first { $0.name == "d0" })
        #expect(d0.kind == "veth" && d0.addresses.contains { $0.address == "192.0.2.10" && $0.prefixLength == 24 })
        #expect(snapshot.routes.routes.contains { $0.table == 255 && $0.type == "local" && $0.destination == "192.0.2.10" })
        #expect(snapshot.sysctls.ipLocalPortRange != nil && snapshot.sysctls.routeLocalnet["all"] != nil)
        #expect(snapshot.privileges.netAdmin && snapshot.privileges.procFds)
        #expect(snapshot.firewall.status == .absent, "no nft table in a fresh namespace")
        #expect(snapshot.firewall.generation != nil)
        #expect(snapshot.schema == Snapshot.currentSchema)

        // A second collection of the unchanged namespace lists the same listeners in the same order.
        let again = try SnapshotCodec.decode(try ns.exec([portwardenBinary, "collect", "--netns", "host"]).stdoutData)
        #expect(again.listeners == snapshot.listeners)
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func kernelSocketHasNoOwner() throws {
        let ns = try TestNamespace("kso")
        defer { ns.cleanup() }
        // A VXLAN device opens a UDP socket held by the kernel, not by any process.
        let added = try ns.exec(["ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", "127.0.0.1"], check: false)
        try #require(added.status == 0, "vxlan not available here: \(added.stderr)")
        try ns.exec(["ip", "link", "set", "vx0", "up"])
        let snapshot = try SnapshotCodec.decode(try ns.exec([portwardenBinary, "collect", "--netns", "host"]).stdoutData)
        let vxlan = try #require(snapshot.listeners.first { $0.proto == .udp && $0.port == 4789 })
        // Kernel-owned only when proven: every process's descriptors were read. Where some could not be (pid 1 of
        // a sandbox that holds capabilities we lack), the socket's holders are unknown and the snapshot says why.
        let incomplete = snapshot.warnings.contains { $0.hasPrefix("owners unknown for 1 socket(s)") }
        #expect(vxlan.owner == (incomplete ? OwnerStatus.unknown : .kernel) && vxlan.processes.isEmpty && vxlan.inode != 0)
        #expect(snapshot.privileges.procFds)
        #expect(snapshot.interfaces.first { $0.name == "vx0" }?.kind == "vxlan")
        let text = try ns.exec([portwardenBinary, "listeners", "--netns", "host"])
        let row = text.stdout.split(separator: "\n").first { $0.contains(":4789") }?.split(separator: " ", omittingEmptySubsequences: true)
        #expect(row.map { Array($0[4...]) } == [incomplete ? "?" : "(kernel)", "-"])
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func listenersCommandTextAndJSON() throws {
        let dir = try TempDir("lsv")
        let ns = try listenerNamespace("lsv", dir: dir)
        defer { ns.cleanup() }
        try ns.nft(
            """
            table inet pwtest {
                chain input {
                    type filter hook input priority 0; policy accept;
                    tcp dport 22 accept
                }
            }
            """)

        let snapshotFile = dir.file("snap.json")
        let collected = try ns.exec([portwardenBinary, "collect", "--netns", "host", "--output", snapshotFile], check: false)
        try #require(collected.status == 0, "\(collected.stderr)")
        let snapshot = try SnapshotCodec.load(path: snapshotFile)
        #expect(snapshot.firewall.status == .ok)
        #expect(snapshot.firewall.tables.contains { $0.name == "pwtest" && $0.family == .inet })

        // Text, offline from the file (no namespace needed).
        let text = try run([portwardenBinary, "listeners", "--snapshot", snapshotFile])
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["PROTO", "ADDRESS:PORT", "SCOPE", "UID", "OWNER", "UNIT"])
        #expect(lines.count == 1 + 15)
        func row(_ endpoint: String) -> [String]? {
            lines.first { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) == endpoint }?
                .split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(row("[::]:9090")?[2] == "wildcard/dual-stack")
        #expect(row("[::]:9091")?[2] == "wildcard/v6only")
        #expect(row("192.0.2.10%d0:53")?[2] == "specific")
        #expect(row("0.0.0.0%d0:7070")?[2] == "wildcard")
        #expect(row("127.0.0.1:631")?[2] == "loopback")
        #expect(row("0.0.0.0:5000")?[3] == "65534")
        #expect(row("0.0.0.0:5000")?[4].hasPrefix("pw-child[") == true)
        let sharedOwners = row("0.0.0.0:8080")?[4] ?? ""
        #expect(sharedOwners.split(separator: ",").count == 2 && sharedOwners.contains("pw-child[") && sharedOwners.contains("python3["))
        // Sorted by protocol, then port.
        let keys = lines.dropFirst().map { l -> String in
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            let port = f[1].split(separator: ":").last.flatMap { Int($0) } ?? -1
            return "\(f[0]) \(String(format: "%05d", port))"
        }
        #expect(keys == keys.sorted())
        // Columns are aligned: every row starts its second column where the header does.
        let column = lines[0].range(of: "ADDRESS:PORT")?.lowerBound.utf16Offset(in: lines[0])
        for l in lines.dropFirst() {
            let idx = l.firstIndex(of: " ").map { l[$0...].firstIndex { $0 != " " } ?? $0 }
            #expect(idx?.utf16Offset(in: l) == column, "\(l)")
        }

        // JSON: exactly the snapshot's listeners array.
        let json = try run([portwardenBinary, "listeners", "--snapshot", snapshotFile, "--format", "json"])
        let decoded = try JSONDecoder().decode([Listener].self, from: json.stdoutData)
        #expect(decoded == snapshot.listeners)

        // Live, inside the namespace: the same rows (owners and all).
        let live = try ns.exec([portwardenBinary, "listeners", "--netns", "host"])
        #expect(Set(live.stdout.split(separator: "\n")) == Set(text.stdout.split(separator: "\n")))
    }
}
