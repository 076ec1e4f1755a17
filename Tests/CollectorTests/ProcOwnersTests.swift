import Foundation
import HostModel
import Netlink
@testable import Collector
import Testing

/// A fake /proc in a temporary directory: pid dirs with `fd/N` symlinks, comm, cmdline, cgroup and exe.
final class FakeProc {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pw-fakeproc-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func process(
        _ pid: Int32, comm: String?, fds: [Int: String] = [:], cmdline: [String]? = nil, cgroup: String? = nil, exe: String? = nil,
        withFdDir: Bool = true
    ) throws {
        let dir = "\(root)/\(pid)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if withFdDir { try FileManager.default.createDirectory(atPath: "\(dir)/fd", withIntermediateDirectories: true) }
        for (fd, target) in fds { try FileManager.default.createSymbolicLink(atPath: "\(dir)/fd/\(fd)", withDestinationPath: target) }
        if let comm { try write("\(pid)/comm", comm + "\n") }
        if let cmdline { try write("\(pid)/cmdline", cmdline.map { $0 + "\0" }.joined()) }
        if let cgroup { try write("\(pid)/cgroup", cgroup) }
        if let exe { try FileManager.default.createSymbolicLink(atPath: "\(dir)/exe", withDestinationPath: exe) }
    }

    func write(_ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: "\(root)/\(relative)")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}

@Suite struct ProcOwnersTests {
    func populated() throws -> FakeProc {
        let proc = try FakeProc()
        // nginx master and a forked worker share socket 12345; the master also has an unrelated socket and files.
        try proc.process(
            100, comm: "nginx", fds: [0: "/dev/null", 3: "socket:[12345]", 4: "socket:[999]", 6: "socket:[12345]", 7: "pipe:[12345]"],
            cmdline: ["nginx: master process", "-g", "daemon off;"], cgroup: "0::/system.slice/nginx.service\n", exe: "/usr/sbin/nginx")
        try proc.process(
            200, comm: "nginx", fds: [3: "socket:[12345]"], cmdline: ["nginx: worker process"],
            cgroup: "0::/system.slice/docker-0123456789abcdef0123456789abcdef.scope\n")
        try proc.process(300, comm: "sshd", fds: [5: "socket:[22222]", 6: "anon_inode:[eventfd]", 7: "socket:[]", 8: "socket:[22222x]"])
        try proc.process(400, comm: "kworker/0:1", withFdDir: false)  // kernel thread: no readable fd dir
        try proc.process(500, comm: "idle", fds: [1: "socket:[777]"])
        try FileManager.default.createDirectory(atPath: "\(proc.root)/abc123/fd", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(proc.root)/abc123/fd/1", withDestinationPath: "socket:[22222]")
        try FileManager.default.createSymbolicLink(atPath: "\(proc.root)/self", withDestinationPath: "100")
        return proc
    }

    @Test func mapsWantedInodesToEveryHolder() throws {
        let proc = try populated()
        let scan = ProcOwners.scan(procRoot: proc.root, inodes: [12345, 22222, 33333])
        #expect(scan.pidsByInode == [12345: [100, 200], 22222: [300]])
        #expect(!scan.denied)
        #expect(scan.uninspected.isEmpty)
        #expect(scan.processesScanned == 4, "pids 100, 200, 300, 500; not 400 (no fd dir), abc123 or self")
    }

    @Test func otherNamespacesAreWalkedOnlyForUnmatchedSockets() throws {
        let proc = try populated()
        // self -> 100; pid 100 and 200 share a namespace file, 600 has another one.
        try proc.write("100/ns/net", "a")
        try FileManager.default.createDirectory(atPath: "\(proc.root)/200/ns", withIntermediateDirectories: true)
        try FileManager.default.linkItem(atPath: "\(proc.root)/100/ns/net", toPath: "\(proc.root)/200/ns/net")
        try proc.process(600, comm: "elsewhere", fds: [3: "socket:[12345]", 4: "socket:[66666]"])
        try proc.write("600/ns/net", "b")
        let matched = ProcOwners.scan(procRoot: proc.root, inodes: [12345])
        #expect(matched.pidsByInode == [12345: [100, 200]], "every socket has a holder here: pid 600 is not walked")
        let unmatched = ProcOwners.scan(procRoot: proc.root, inodes: [12345, 66666])
        #expect(unmatched.pidsByInode == [12345: [100, 200, 600], 66666: [600]])
        #expect(unmatched.processesScanned == matched.processesScanned + 1)
    }

    @Test func aProcWithoutTheInitialPIDNamespaceIsIncomplete() throws {
        let proc = try populated()
        let scan = ProcOwners.scan(procRoot: proc.root, inodes: [33333])
        #expect(!scan.seesAllProcesses && !scan.isComplete, "a fake /proc has no self/ns/pid of the initial namespace")
        #expect(scan.ownerStatus(inode: 33333, holdersFound: false) == .unknown)
    }

    @Test func theRealProcTellsItsPIDNamespace() throws {
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        let scan = ProcOwners.scan(procRoot: "/proc", inodes: [1])
        #expect(scan.seesAllProcesses == (link == "pid:[4026531836]"), "\(link)")
    }

    @Test func nothingWantedMeansNoWalk() throws {
        let proc = try populated()
        let scan = ProcOwners.scan(procRoot: proc.root, inodes: [])
        #expect(scan.pidsByInode.isEmpty && scan.processesScanned == 0)
    }

    @Test func missingProcRootIsToleratedAsEmpty() {
        let scan = ProcOwners.scan(procRoot: "/nonexistent/pw-proc", inodes: [1])
        #expect(scan.pidsByInode.isEmpty && !scan.denied)
    }

    @Test func processDetails() throws {
        let proc = try populated()
        let master = try #require(ProcOwners.process(pid: 100, procRoot: proc.root))
        #expect(
            master
                == HostModel.ProcessInfo(
                    pid: 100, name: "nginx", exe: "/usr/sbin/nginx",
                    cmdline: ["nginx: master process", "-g", "daemon off;"], unit: "nginx.service"))
        let worker = try #require(ProcOwners.process(pid: 200, procRoot: proc.root))
        #expect(worker.container == "docker:0123456789ab")
        #expect(worker.exe == nil)
        let sshd = try #require(ProcOwners.process(pid: 300, procRoot: proc.root))
        #expect(sshd.name == "sshd" && sshd.cmdline.isEmpty && sshd.unit == nil && sshd.container == nil)
        #expect(ProcOwners.process(pid: 999, procRoot: proc.root) == nil, "a vanished process is skipped")
    }

    @Test func cmdlineSplitting() {
        #expect(ProcOwners.splitNUL(Array("a\0b c\0\0d\0".utf8)) == ["a", "b c", "", "d"])
        #expect(ProcOwners.splitNUL([]) == [])
        #expect(ProcOwners.splitNUL(Array("no-nul".utf8)) == ["no-nul"])
    }

    @Test(
        arguments: [
            ("0::/system.slice/sshd.service\n", "sshd.service", nil),
            ("0::/system.slice/systemd-resolved.service\n", "systemd-resolved.service", nil),
            ("0::/system.slice/cups.socket\n", "cups.socket", nil),
            ("0::/user.slice/user-1000.slice/session-3.scope\n", nil, nil),
            ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service\n", "syncthing.service", nil),
            ("0::/user.slice/user-1000.slice/user@1000.service\n", nil, nil),
            ("0::/init.scope\n", "init.scope", nil),
            ("0::/\n", nil, nil),
            ("12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n0::/\n", nil, nil),
            ("12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n", "cron.service", nil),
            (
                "0::/system.slice/docker-3f2a9b7c1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a.scope\n",
                "docker-3f2a9b7c1d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a.scope", "docker:3f2a9b7c1d0e"
            ),
            ("11:devices:/docker/3f2a9b7c1d0e4f5a6b7c8d9e0f1a2b3c\n", nil, "docker:3f2a9b7c1d0e"),
            (
                "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abcd.scope\n",
                "cri-containerd-abcd.scope", "kubernetes"
            ),
            ("0::/machine.slice/libpod-0a1b2c3d4e5f6a7b8c9d.scope/container\n", "libpod-0a1b2c3d4e5f6a7b8c9d.scope", "podman:0a1b2c3d4e5f"),
            ("0::/machine.slice/libpod-conmon-0a1b2c3d4e5f.scope\n", "libpod-conmon-0a1b2c3d4e5f.scope", nil),
            ("0::/lxc.payload.web01/system.slice/nginx.service\n", "nginx.service", "lxc:web01"),
            ("4:cpu:/lxc/db01\n", nil, "lxc:db01"),
            ("garbage\n", nil, nil)
        ] as [(String, String?, String?)])
    func cgroupUnitsAndContainers(text: String, unit: String?, container: String?) {
        let parsed = ProcOwners.parseCgroup(text)
        #expect(parsed.unit == unit)
        #expect(parsed.container == container)
    }
}

@Suite struct AssembleListenersTests {
    let interfaces = [Interface(index: 1, name: "lo"), Interface(index: 2, name: "eth0")]
    let nginx = HostModel.ProcessInfo(pid: 100, name: "nginx")
    let worker = HostModel.ProcessInfo(pid: 200, name: "nginx")

    var raw: [RawSocket] {
        [
            RawSocket(
                family: 10, proto: 6, state: 10, port: 443, address: [UInt8](repeating: 0, count: 16), cookie: 9, uid: 0, inode: 12345, v6only: false),
            RawSocket(family: 2, proto: 17, state: 7, port: 53, address: [192, 0, 2, 1], interfaceIndex: 2, cookie: 3, uid: 101, inode: 22222),
            RawSocket(family: 2, proto: 6, state: 10, port: 22, address: [0, 0, 0, 0], cookie: 2, uid: 0, inode: 33333),
            RawSocket(family: 2, proto: 6, state: 10, port: 22, address: [0, 0, 0, 0], cookie: 1, uid: 0, inode: 44444),
            RawSocket(family: 2, proto: 6, state: 10, port: 8080, address: [127, 0, 0, 1], interfaceIndex: 9, cookie: 5, uid: 0, inode: 55555)
        ]
    }

    @Test func ownersDevicesAndOrder() {
        let scan = OwnerScan(pidsByInode: [12345: [100, 200], 22222: [300], 44444: [100]])
        let listeners = Collector.assembleListeners(raw, scan: scan, processes: [100: nginx, 200: worker], interfaces: interfaces)
        #expect(
            listeners.map { "\($0.proto) \($0.endpoint) #\($0.cookie)" } == [
                "tcp 0.0.0.0:22 #1", "tcp 0.0.0.0:22 #2", "tcp 127.0.0.1%if9:8080 #5", "tcp [::]:443 #9", "udp 192.0.2.1%eth0:53 #3"
            ])
        let v6 = listeners[3]
        #expect(v6.family == .ipv6 && !v6.v6only && v6.processes == [nginx, worker] && v6.owner == .known)
        let dns = listeners[4]
        #expect(dns.device == "eth0" && dns.deviceIndex == 2 && dns.uid == 101)
        #expect(dns.owner == .unknown && dns.processes.isEmpty, "pid 300 held it but vanished before its details were read")
        #expect(listeners[0].owner == .known && listeners[1].owner == .kernel, "a complete scan proves no process holds inode 33333")
        #expect(listeners[2].device == "if9", "an index without a link keeps a placeholder name")
    }

    @Test func refusedOwnUidProcessesMakeUnmatchedOwnersUnknown() {
        // Root without CAP_SYS_PTRACE cannot read pid 1's descriptors: the scan is not denied, but not complete either.
        let scan = OwnerScan(pidsByInode: [44444: [100]], uninspected: [1])
        let listeners = Collector.assembleListeners(raw, scan: scan, processes: [100: nginx], interfaces: interfaces)
        #expect(listeners.filter { $0.owner == .unknown }.count == 4)
        #expect(!listeners.contains { $0.owner == .kernel })
        let warnings = Collector.incompleteScanWarnings(scan, unknownOwners: 4)
        #expect(warnings.count == 1 && warnings[0].hasPrefix("owners unknown for 4 socket(s)") && warnings[0].contains("pid 1"))
    }

    @Test func childPIDNamespaceMakesUnmatchedOwnersUnknown() {
        let scan = OwnerScan(pidsByInode: [44444: [100]], seesAllProcesses: false)
        let listeners = Collector.assembleListeners(raw, scan: scan, processes: [100: nginx], interfaces: interfaces)
        #expect(listeners.filter { $0.owner == .unknown }.count == 4)
        #expect(Collector.incompleteScanWarnings(scan, unknownOwners: 4).first?.contains("child PID namespace") == true)
        #expect(Collector.incompleteScanWarnings(OwnerScan(), unknownOwners: 0).isEmpty)
    }

    @Test func deniedScanMakesUnmatchedOwnersUnknown() {
        let scan = OwnerScan(pidsByInode: [44444: [100]], denied: true)
        let listeners = Collector.assembleListeners(raw, scan: scan, processes: [100: nginx], interfaces: interfaces)
        #expect(listeners.filter { $0.owner == .unknown }.count == 4)
        #expect(listeners.first { $0.inode == 44444 }?.owner == .known)
    }
}

@Suite struct FirewallFailureTests {
    @Test func missingCapabilityFailsWithoutAllowPartial() {
        var privileges = Privileges(), warnings: [String] = []
        for errno: Int32 in [1, 13] {
            do {
                _ = try Collector.firewallFailure(
                    NetlinkError.kernel(request: "GETGEN", errno: errno), CollectOptions(),
                    privileges: &privileges, warnings: &warnings)
                Issue.record("expected a failure")
            } catch {
                guard case .firewallUnreadable(let message) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(message.contains("CAP_NET_ADMIN") && message.contains("--allow-partial"))
            }
            #expect(!privileges.netAdmin)
        }
        #expect(warnings.isEmpty)
    }

    @Test func allowPartialRecordsUnreadable() throws {
        var privileges = Privileges(), warnings: [String] = []
        let fw = try Collector.firewallFailure(
            NetlinkError.kernel(request: "GETGEN", errno: 1), CollectOptions(allowPartial: true),
            privileges: &privileges, warnings: &warnings)
        #expect(fw.status == .unreadable && fw.error == "cannot read the firewall: CAP_NET_ADMIN needed" && fw.tables.isEmpty)
        #expect(!privileges.netAdmin)
        #expect(warnings.count == 1 && warnings[0].contains("CAP_NET_ADMIN"))
    }

    @Test func inconsistentIsAKernelErrorEvenWithAllowPartial() {
        var privileges = Privileges(), warnings: [String] = []
        for partial in [false, true] {
            #expect(throws: CollectError.self) {
                _ = try Collector.firewallFailure(
                    NetlinkError.inconsistent(attempts: 5), CollectOptions(allowPartial: partial),
                    privileges: &privileges, warnings: &warnings)
            }
        }
        #expect(privileges.netAdmin, "not a privilege problem")
    }

    @Test func otherErrorsDependOnAllowPartial() throws {
        var privileges = Privileges(), warnings: [String] = []
        let error = NetlinkError.kernel(request: "GETRULE", errno: 22)
        do {
            _ = try Collector.firewallFailure(error, CollectOptions(), privileges: &privileges, warnings: &warnings)
            Issue.record("expected a failure")
        } catch {
            guard case .kernel(let m) = error else { Issue.record("wrong error \(error)"); return }
            #expect(m.contains("EINVAL"))
        }
        let fw = try Collector.firewallFailure(error, CollectOptions(allowPartial: true), privileges: &privileges, warnings: &warnings)
        #expect(fw.status == .unreadable && (fw.error ?? "").contains("EINVAL"))
    }
}
