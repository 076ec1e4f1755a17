/// Transport protocol of a socket.
public enum L4Proto: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    case tcp, udp

    /// IANA protocol number, as nftables' `meta l4proto` sees it.
    public var number: UInt8 { self == .tcp ? 6 : 17 }

    public static func < (a: L4Proto, b: L4Proto) -> Bool { a.rawValue < b.rawValue }
}

/// Address family of a socket or packet.
public enum IPFamily: String, Codable, Sendable, Hashable, CaseIterable {
    case ipv4, ipv6
}

/// A listening TCP socket or a bound, unconnected UDP socket, as sock_diag reports it.
public struct Listener: Codable, Sendable, Equatable, Hashable {
    public var proto: L4Proto
    /// The socket's own family: an AF_INET6 socket with `v6only == false` also receives IPv4.
    public var family: IPFamily
    /// The bind address in its canonical text form (`0.0.0.0`, `::`, `127.0.0.1`, `2001:db8::1`).
    public var address: String
    public var port: UInt16
    /// IPV6_V6ONLY; always false for IPv4 sockets.
    public var v6only: Bool
    /// The device the socket is bound to (SO_BINDTODEVICE, or the scope of a link-local bind), if any.
    public var device: String?
    public var deviceIndex: UInt32
    public var uid: UInt32
    public var inode: UInt64
    /// The kernel's socket cookie: unique for the socket's lifetime, used to tell sockets apart.
    public var cookie: UInt64
    /// Every process that holds a descriptor for this socket (several after fork or with socket activation).
    public var processes: [ProcessInfo]
    public var owner: OwnerStatus

    public init(
        proto: L4Proto, family: IPFamily, address: String, port: UInt16, v6only: Bool = false, device: String? = nil,
        deviceIndex: UInt32 = 0, uid: UInt32 = 0, inode: UInt64 = 0, cookie: UInt64 = 0,
        processes: [ProcessInfo] = [], owner: OwnerStatus = .known
    ) {
        self.proto = proto
        self.family = family
        self.address = address
        self.port = port
        self.v6only = v6only
        self.device = device
        self.deviceIndex = deviceIndex
        self.uid = uid
        self.inode = inode
        self.cookie = cookie
        self.processes = processes
        self.owner = owner
    }

    /// `address:port` with IPv6 in brackets and the device after `%`, as `ss` prints it.
    public var endpoint: String {
        let host = family == .ipv6 ? "[\(address)]" : address
        let dev = device.map { "%\($0)" } ?? ""
        return "\(host)\(dev):\(port)"
    }

    /// How far the bind address alone lets the socket be reached, before any firewall.
    public var bindScope: BindScope {
        if let v4 = IPv4Address(address) {
            if v4.isUnspecified { return .wildcard }
            if v4.isLoopback { return .loopback }
            return .specific
        }
        if let v6 = IPv6Address(address) {
            if v6.isUnspecified { return .wildcard }
            if v6.isLoopback { return .loopback }
            if let mapped = v6.mappedIPv4 {
                if mapped.isUnspecified { return .wildcard }
                if mapped.isLoopback { return .loopback }
            }
            return .specific
        }
        return .specific
    }

    /// Families whose packets this socket can receive: dual-stack `[::]` and v4-mapped binds receive IPv4.
    public var receivesFamilies: [IPFamily] {
        switch family {
        case .ipv4: return [.ipv4]
        case .ipv6:
            if let v6 = IPv6Address(address), v6.mappedIPv4 != nil { return [.ipv4] }
            if !v6only, bindScope == .wildcard { return [.ipv4, .ipv6] }
            return [.ipv6]
        }
    }
}

/// Whether the owners of a socket could be determined. Unknown is never shown as "no owner": a socket is `kernel`
/// only when every process's descriptors were read and none holds it.
public enum OwnerStatus: String, Codable, Sendable, Hashable {
    /// `processes` lists every holder.
    case known
    /// No process holds the socket (VXLAN, WireGuard, NFS), proven: every process of the host was visible and readable.
    case kernel
    /// Some descriptors could not be read (missing CAP_SYS_PTRACE, a process with more capabilities, a child PID
    /// namespace, a holder that exited during the scan), so the socket's holders are not known.
    case unknown

    /// Reads `known`, `kernel` and `unknown`, and `none`, which snapshots before `kernel` existed wrote for a socket
    /// without a holder when no other user's process had refused the scan.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        if text == "none" { self = .kernel; return }
        guard let v = OwnerStatus(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "owner must be known, kernel or unknown, not '\(text)'")
        }
        self = v
    }
}

extension Listener {
    enum CodingKeys: String, CodingKey {
        case proto, family, address, port, v6only, device, deviceIndex, uid, inode, cookie, processes, owner
    }

    /// Snapshots written before `owner` existed load too: a socket with holders is `known`, one without is `unknown`
    /// (nothing proves that no process holds it).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let processes = try c.decode([ProcessInfo].self, forKey: .processes)
        let owner = try c.decodeIfPresent(OwnerStatus.self, forKey: .owner) ?? (processes.isEmpty ? .unknown : .known)
        self.init(
            proto: try c.decode(L4Proto.self, forKey: .proto), family: try c.decode(IPFamily.self, forKey: .family),
            address: try c.decode(String.self, forKey: .address), port: try c.decode(UInt16.self, forKey: .port),
            v6only: try c.decode(Bool.self, forKey: .v6only), device: try c.decodeIfPresent(String.self, forKey: .device),
            deviceIndex: try c.decode(UInt32.self, forKey: .deviceIndex), uid: try c.decode(UInt32.self, forKey: .uid),
            inode: try c.decode(UInt64.self, forKey: .inode), cookie: try c.decode(UInt64.self, forKey: .cookie),
            processes: processes, owner: owner)
    }
}

public enum BindScope: String, Codable, Sendable, Hashable {
    case wildcard, specific, loopback
}

/// A process holding a socket.
public struct ProcessInfo: Codable, Sendable, Equatable, Hashable {
    public var pid: Int32
    public var name: String
    public var exe: String?
    public var cmdline: [String]
    /// The systemd unit from the process's cgroup (`sshd.service`), when it runs under systemd.
    public var unit: String?
    /// A container hint from the cgroup path (`docker:3f2a…`, `kubepods`, `libpod:…`), when present.
    public var container: String?

    public init(pid: Int32, name: String, exe: String? = nil, cmdline: [String] = [], unit: String? = nil, container: String? = nil) {
        self.pid = pid
        self.name = name
        self.exe = exe
        self.cmdline = cmdline
        self.unit = unit
        self.container = container
    }
}
