import Foundation
import HostModel
@testable import Collector
import Testing

@Suite struct SysctlTests {
    @Test func parsers() {
        #expect(SysctlReader.parsePortRange("32768\t60999\n") == PortRange(first: 32768, last: 60999))
        #expect(SysctlReader.parsePortRange("1024 1024") == PortRange(first: 1024, last: 1024))
        #expect(SysctlReader.parsePortRange("60999 32768") == nil)
        #expect(SysctlReader.parsePortRange("70000 80000") == nil)
        #expect(SysctlReader.parsePortRange("") == nil)
        #expect(SysctlReader.parsePortList("\n") == [])
        #expect(SysctlReader.parsePortList("8000-8010,9000\n") == [PortRange(first: 8000, last: 8010), PortRange(first: 9000, last: 9000)])
        #expect(
            SysctlReader.parsePortList("1,2-3,65535") == [
                PortRange(first: 1, last: 1), PortRange(first: 2, last: 3), PortRange(first: 65535, last: 65535)
            ])
        #expect(SysctlReader.parsePortList("8000-") == nil)
        #expect(SysctlReader.parsePortList("x") == nil)
        #expect(SysctlReader.parseBool("0\n") == false)
        #expect(SysctlReader.parseBool("1\n") == true)
        #expect(SysctlReader.parseBool("2") == true)
        #expect(SysctlReader.parseBool("") == nil)
        #expect(SysctlReader.parseUInt("1024\n") == 1024)
        #expect(SysctlReader.parseUInt("-1") == nil)
    }

    @Test func readsAFakeProcSys() throws {
        let proc = try FakeProc()
        try proc.write("sys/net/ipv4/ip_local_port_range", "40000\t50000\n")
        try proc.write("sys/net/ipv4/ip_local_reserved_ports", "40100-40110,45000\n")
        try proc.write("sys/net/ipv4/ip_unprivileged_port_start", "80\n")
        try proc.write("sys/net/ipv6/bindv6only", "1\n")
        try proc.write("sys/net/ipv4/ip_forward", "1\n")
        try proc.write("sys/net/ipv6/conf/all/forwarding", "0\n")
        try proc.write("sys/net/ipv4/ip_nonlocal_bind", "0\n")
        try proc.write("sys/net/ipv4/tcp_l3mdev_accept", "1\n")
        for (name, value) in [("all", "0"), ("default", "0"), ("lo", "0"), ("eth0", "1")] {
            try proc.write("sys/net/ipv4/conf/\(name)/route_localnet", value + "\n")
        }
        try FileManager.default.createDirectory(atPath: "\(proc.root)/sys/net/ipv4/conf/wg0", withIntermediateDirectories: true)
        let s = SysctlReader.read(procRoot: proc.root)
        #expect(s.ipLocalPortRange == PortRange(first: 40000, last: 50000))
        #expect(s.ipLocalReservedPorts == [PortRange(first: 40100, last: 40110), PortRange(first: 45000, last: 45000)])
        #expect(s.ipUnprivilegedPortStart == 80)
        #expect(s.bindv6only == true && s.ipForward == true && s.ipv6Forwarding == false)
        #expect(s.ipNonlocalBind == false && s.ipv6NonlocalBind == nil, "missing file → nil")
        #expect(s.tcpL3mdevAccept == true && s.udpL3mdevAccept == nil)
        #expect(s.routeLocalnet == ["all": false, "default": false, "lo": false, "eth0": true], "wg0 has no file")
    }

    @Test func emptyProcGivesEmptySysctls() {
        #expect(SysctlReader.read(procRoot: "/nonexistent/pw-proc") == Sysctls())
    }

    @Test func legacyTables() throws {
        let proc = try FakeProc()
        try proc.write("net/ip_tables_names", "filter\nnat\n")
        try proc.write("net/ip6_tables_names", "")
        let legacy = HostFiles.legacyTables(procRoot: proc.root)
        #expect(legacy == LegacyTables(ipv4: ["filter", "nat"], ipv6: [], arp: []))
        #expect(!legacy.isEmpty)
        #expect(HostFiles.legacyTables(procRoot: "/nonexistent/pw-proc").isEmpty)
    }

    @Test func hostIdentity() {
        let stamp = HostFiles.rfc3339Now()
        #expect(stamp.count == 20 && stamp.hasSuffix("Z") && stamp.dropFirst(10).hasPrefix("T"), "\(stamp)")
        #expect(!HostFiles.kernelRelease().isEmpty)
        #expect(!HostFiles.hostname().isEmpty)
    }
}
