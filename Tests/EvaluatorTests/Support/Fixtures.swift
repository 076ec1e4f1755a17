import HostModel
@testable import Evaluator

/// The test host: lo, eth0 (192.0.2.1/24, 2001:db8::1/64), eth1 (198.51.100.1/24), documentation addresses only.
enum Host {
    static let interfaces: [Interface] = [
        Interface(
            index: 1, name: "lo", flags: ["up", "loopback"],
            addresses: [
                InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host"),
                InterfaceAddress(family: .ipv6, address: "::1", prefixLength: 128, scope: "host")
            ]),
        Interface(
            index: 2, name: "eth0", flags: ["up"], kind: "veth",
            addresses: [
                InterfaceAddress(family: .ipv4, address: "192.0.2.1", prefixLength: 24),
                InterfaceAddress(family: .ipv6, address: "2001:db8::1", prefixLength: 64)
            ]),
        Interface(
            index: 3, name: "eth1", flags: ["up"], kind: "veth",
            addresses: [
                InterfaceAddress(family: .ipv4, address: "198.51.100.1", prefixLength: 24)
            ])
    ]

    static let routes = Routing(routes: [
        Route(family: .ipv4, table: 254, type: "unicast", destination: "192.0.2.0", prefixLength: 24, device: "eth0", deviceIndex: 2),
        Route(family: .ipv4, table: 254, type: "unicast", destination: "198.51.100.0", prefixLength: 24, device: "eth1", deviceIndex: 3),
        Route(
            family: .ipv4, table: 254, type: "unicast", destination: "0.0.0.0", prefixLength: 0, gateway: "192.0.2.254", device: "eth0",
            deviceIndex: 2),
        Route(family: .ipv6, table: 254, type: "unicast", destination: "2001:db8::", prefixLength: 64, device: "eth0", deviceIndex: 2)
    ])

    static let ifindex: [String: UInt32] = ["lo": 1, "eth0": 2, "eth1": 3]

    /// Forwarding on, as on a router or container host: DNAT to another address then goes through the forward hook.
    static let forwarding = Sysctls(ipForward: true, ipv6Forwarding: true)

    static let sshd = Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 22, processes: [ProcessInfo(pid: 100, name: "sshd")])
}

func table(_ family: TableFamily, _ name: String = "t") -> TableBuilder {
    TableBuilder(family: family, name: name, ifindex: Host.ifindex)
}

func tcpListener(
    _ address: String, _ port: UInt16, family: IPFamily? = nil, v6only: Bool = false, device: String? = nil, deviceIndex: UInt32 = 0,
    name: String = "svc"
) -> Listener {
    let fam = family ?? (address.contains(":") ? .ipv6 : .ipv4)
    return Listener(
        proto: .tcp, family: fam, address: address, port: port, v6only: v6only, device: device, deviceIndex: deviceIndex,
        processes: [ProcessInfo(pid: 200, name: name)])
}

func udpListener(_ address: String, _ port: UInt16, family: IPFamily? = nil, v6only: Bool = false, name: String = "udpsvc") -> Listener {
    let fam = family ?? (address.contains(":") ? .ipv6 : .ipv4)
    return Listener(proto: .udp, family: fam, address: address, port: port, v6only: v6only, processes: [ProcessInfo(pid: 300, name: name)])
}

func snapshot(listeners: [Listener] = [Host.sshd], sysctls: Sysctls = Host.forwarding, _ tables: TableBuilder...) -> Snapshot {
    Snapshot(
        host: HostInfo(hostname: "test", kernel: "6.18", collectedAt: "2026-11-25T00:00:00Z", toolVersion: "test"),
        listeners: listeners, interfaces: Host.interfaces, routes: Host.routes, sysctls: sysctls,
        firewall: Firewall(status: tables.isEmpty ? .absent : .ok, tables: tables.map(\.table)))
}

func probe(_ proto: L4Proto = .tcp, _ src: String, _ dst: String, _ dport: UInt16, _ iif: String, sport: UInt16? = nil) -> Probe {
    Probe(proto: proto, src: src, dst: dst, sport: sport, dport: dport, iif: iif)
}

extension Evaluator {
    /// Shorthand for tests: the verdict of one probe.
    func verdict(_ proto: L4Proto = .tcp, _ src: String, _ dst: String, _ dport: UInt16, _ iif: String, sport: UInt16? = nil) throws -> PacketVerdict
    {
        try trace(probe(proto, src, dst, dport, iif, sport: sport)).verdict
    }
}
