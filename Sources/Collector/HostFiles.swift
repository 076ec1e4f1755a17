#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import HostModel

/// Reads the per-namespace sysctls that decide exposure from `<procRoot>/sys`. A file that does not exist on this
/// kernel leaves its field nil; nothing here fails the collection.
public enum SysctlReader {
    public static func read(procRoot: String) -> Sysctls {
        func text(_ rel: String) -> String? {
            readFile("\(procRoot)/sys/\(rel)").map { String(decoding: $0, as: UTF8.self) }
        }
        var s = Sysctls()
        s.ipLocalPortRange = text("net/ipv4/ip_local_port_range").flatMap(parsePortRange)
        s.ipLocalReservedPorts = text("net/ipv4/ip_local_reserved_ports").flatMap(parsePortList) ?? []
        s.ipUnprivilegedPortStart = text("net/ipv4/ip_unprivileged_port_start").flatMap(parseUInt)
        s.bindv6only = text("net/ipv6/bindv6only").flatMap(parseBool)
        s.ipForward = text("net/ipv4/ip_forward").flatMap(parseBool)
        s.ipv6Forwarding = text("net/ipv6/conf/all/forwarding").flatMap(parseBool)
        s.ipNonlocalBind = text("net/ipv4/ip_nonlocal_bind").flatMap(parseBool)
        s.ipv6NonlocalBind = text("net/ipv6/ip_nonlocal_bind").flatMap(parseBool)
        s.tcpL3mdevAccept = text("net/ipv4/tcp_l3mdev_accept").flatMap(parseBool)
        s.udpL3mdevAccept = text("net/ipv4/udp_l3mdev_accept").flatMap(parseBool)
        for name in listDirectory("\(procRoot)/sys/net/ipv4/conf") {
            if let v = text("net/ipv4/conf/\(name)/route_localnet").flatMap(parseBool) { s.routeLocalnet[name] = v }
        }
        return s
    }

    /// `"32768\t60999\n"` → 32768…60999.
    public static func parsePortRange(_ text: String) -> PortRange? {
        let f = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard f.count == 2, let a = UInt16(f[0]), let b = UInt16(f[1]), a <= b else { return nil }
        return PortRange(first: a, last: b)
    }

    /// `"8000-8010,9000\n"` → [8000…8010, 9000…9000]; an empty file is an empty list; any bad item makes it nil.
    public static func parsePortList(_ text: String) -> [PortRange]? {
        var out: [PortRange] = []
        for item in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }) {
            let ends = item.split(separator: "-", omittingEmptySubsequences: false)
            if ends.count == 1, let p = UInt16(ends[0]) {
                out.append(PortRange(first: p, last: p))
            } else if ends.count == 2, let a = UInt16(ends[0]), let b = UInt16(ends[1]), a <= b {
                out.append(PortRange(first: a, last: b))
            } else {
                return nil
            }
        }
        return out
    }

    public static func parseUInt(_ text: String) -> UInt32? {
        UInt32(text.trimmingWhitespace)
    }

    /// A numeric switch: non-zero is on (some, like `ip_forward`, accept values above 1).
    public static func parseBool(_ text: String) -> Bool? {
        Int(text.trimmingWhitespace).map { $0 != 0 }
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}

/// The whole content of a (small, possibly procfs) file; nil when it cannot be opened or read.
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return ProcOwners.readAll(fd)
}

/// Entry names of a directory, without `.` and `..`, sorted; empty when it cannot be read.
func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: &e.pointee.d_name) { p in
            p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Legacy x_tables and host identity.
public enum HostFiles {
    /// Non-empty lines of `<procRoot>/net/{ip,ip6,arp}_tables_names`: legacy tables loaded in this namespace.
    public static func legacyTables(procRoot: String) -> LegacyTables {
        func names(_ file: String) -> [String] {
            guard let bytes = readFile("\(procRoot)/net/\(file)") else { return [] }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
        }
        return LegacyTables(ipv4: names("ip_tables_names"), ipv6: names("ip6_tables_names"), arp: names("arp_tables_names"))
    }

    /// The xt `recent` lists of this namespace (`<procRoot>/net/xt_recent/NAME`, one `src=ADDR ttl: …` line per
    /// entry). No directory: the module is not loaded, so there are no lists. Nil when a list exists but cannot be
    /// read (then nothing is assumed about it).
    public static func recentLists(procRoot: String) -> [RecentList]? {
        let dir = "\(procRoot)/net/xt_recent"
        var st = stat()
        guard stat(dir, &st) == 0 else { return [] }
        guard access(dir, R_OK | X_OK) == 0 else { return nil }
        let names = listDirectory(dir)
        var out: [RecentList] = []
        for name in names.sorted() {
            guard let bytes = readFile("\(dir)/\(name)") else { return nil }
            let addresses = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("src="), let end = line.firstIndex(of: " ") else { return nil }
                return String(line[line.index(line.startIndex, offsetBy: 4)..<end])
            }
            out.append(RecentList(name: name, addresses: addresses))
        }
        return out
    }

    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "" }
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func kernelRelease() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "" }
        let release = u.release
        return withUnsafeBytes(of: release) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Now, as RFC 3339 in UTC with second precision (`2026-11-25T15:40:00Z`).
    public static func rfc3339Now() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
