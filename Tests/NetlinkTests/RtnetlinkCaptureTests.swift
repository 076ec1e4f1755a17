import Foundation
import HostModel
@testable import Netlink
import Testing

/// Decoding of a real rtnetlink pass (links, addresses, routes, rules) recorded by `sockdiag-rtnetlink-record.sh`.
@Suite struct RtnetlinkCaptureTests {
    let result: RouteNetlink.Result

    init() throws {
        var decoder = RouteNetlink.Decoder()
        for d in try RecordedDatagrams.load("rtnetlink-host.nlcap") { try d.withUnsafeBytes { try decoder.add(datagram: $0) } }
        result = decoder.result
    }

    @Test func linksWithFlagsKindsAndAddresses() throws {
        // `ip link add d0 type veth peer name d1` creates the peer first: d1 is index 2, d0 index 3.
        #expect(result.interfaces.map(\.name) == ["lo", "d1", "d0"])
        #expect(result.interfaces.map(\.index) == [1, 2, 3])
        let lo = result.interfaces[0]
        let d0 = try #require(result.interfaces.first { $0.name == "d0" })
        #expect(lo.flags.contains("loopback") && lo.flags.contains("up") && lo.flags.contains("running"))
        #expect(lo.kind == nil)
        #expect(d0.kind == "veth")
        #expect(d0.flags.contains("up") && d0.flags.contains("broadcast") && !d0.flags.contains("loopback"))
        #expect(lo.addresses.contains(InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host")))
        #expect(lo.addresses.contains(InterfaceAddress(family: .ipv6, address: "::1", prefixLength: 128, scope: "host")))
        #expect(d0.addresses.contains(InterfaceAddress(family: .ipv4, address: "192.0.2.10", prefixLength: 24, scope: "global")))
        #expect(d0.addresses.contains(InterfaceAddress(family: .ipv6, address: "2001:db8::10", prefixLength: 64, scope: "global")))
        #expect(d0.addresses.contains { $0.scope == "link" && $0.address.hasPrefix("fe80::") })
    }

    @Test func routesOfMainAndLocalOnly() throws {
        let routes = result.routing.routes
        #expect(routes.allSatisfy { $0.table == 254 || $0.table == 255 }, "table 100 dropped")
        #expect(!routes.contains { $0.table != 254 && $0.destination == "198.51.100.0" })
        let via = try #require(routes.first { $0.destination == "198.51.100.0" })
        #expect(via.prefixLength == 24 && via.gateway == "192.0.2.1" && via.device == "d0" && via.deviceIndex == 3 && via.metric == 50)
        #expect(via.type == "unicast" && via.table == 254)
        let bh = try #require(routes.first { $0.destination == "203.0.113.0" })
        #expect(bh.type == "blackhole" && bh.device == nil)
        let local = try #require(routes.first { $0.destination == "192.0.2.10" && $0.table == 255 })
        #expect(local.type == "local" && local.prefixLength == 32 && local.preferredSource == "192.0.2.10" && local.device == "d0")
        #expect(routes.contains { $0.type == "broadcast" && $0.destination == "192.0.2.255" })
        let connected = try #require(routes.first { $0.destination == "192.0.2.0" && $0.table == 254 })
        #expect(connected.gateway == nil && connected.preferredSource == "192.0.2.10")
        let unreach = try #require(routes.first { $0.destination == "2001:db8:dead::" })
        #expect(unreach.family == .ipv6 && unreach.type == "unreachable" && unreach.prefixLength == 48)
        #expect(routes.contains { $0.family == .ipv6 && $0.type == "local" && $0.destination == "2001:db8::10" && $0.table == 255 })
        #expect(routes.contains { $0.family == .ipv6 && $0.type == "multicast" && $0.destination == "ff00::" })
    }

    @Test func policyRules() throws {
        let v4 = result.routing.rules.filter { $0.family == .ipv4 }
        let v6 = result.routing.rules.filter { $0.family == .ipv6 }
        #expect(v4.map(\.priority) == [0, 100, 200, 32766, 32767])
        #expect(v6.map(\.priority) == [0, 300, 32766])
        let from = try #require(v4.first { $0.priority == 100 })
        #expect(from.source == "192.0.2.0" && from.sourcePrefixLength == 24 && from.table == 100 && from.action == "to_tbl" && !from.inverted)
        let mark = try #require(v4.first { $0.priority == 200 })
        #expect(mark.inverted && mark.fwmark == 1 && mark.fwmask == 0xff && mark.iifname == "d0" && mark.table == 254)
        let to6 = try #require(v6.first { $0.priority == 300 })
        #expect(to6.destination == "2001:db8:1::" && to6.destinationPrefixLength == 48 && to6.oifname == "d1" && to6.table == 101)
        #expect(v4.first { $0.priority == 0 }?.table == 255)
    }

    @Test func flagNamesAndRequests() {
        #expect(RouteNetlink.flagNames(0x1 | 0x8 | 0x40) == ["up", "loopback", "running"])
        #expect(RouteNetlink.flagNames(0x10 | 0x80) == ["pointopoint", "noarp"])
        let reqs = RouteNetlink.requests(firstSeq: 100)
        #expect(reqs.map(\.seq) == [100, 101, 102, 103, 104, 105])
        #expect(reqs.map { $0.bytes[4] } == [18, 22, 26, 26, 34, 34])
        #expect(reqs.map { $0.bytes[16] } == [0, 0, 2, 10, 2, 10])
    }

    @Test func shortHeadersAreMalformed() {
        #expect(throws: NetlinkError.self) { try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try RouteNetlink.decodeLink($0) } }
        #expect(throws: NetlinkError.self) { try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try RouteNetlink.decodeAddress($0) } }
        #expect(throws: NetlinkError.self) { try [UInt8](repeating: 0, count: 11).withUnsafeBytes { try RouteNetlink.decodeRoute($0) } }
        #expect(throws: NetlinkError.self) { try [UInt8](repeating: 0, count: 11).withUnsafeBytes { try RouteNetlink.decodeRule($0) } }
    }
}
