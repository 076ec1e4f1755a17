import HostModel
import Testing

@testable import Evaluator

/// The parts of source NAT that need no kernel: which address masquerade picks, and which rules read the source.
/// The whole path is proven against the kernel in IntegrationTests (ContainerHostTests).
@Suite struct SourceNatTests {
    @Test func masqueradePicksTheDevicesAddressInTheNextHopsSubnetElseItsFirst() throws {
        let br = Interface(
            index: 5, name: "br0", flags: ["up"], kind: "bridge",
            addresses: [
                InterfaceAddress(family: .ipv4, address: "203.0.113.1", prefixLength: 24),
                InterfaceAddress(family: .ipv4, address: "198.51.100.1", prefixLength: 24),
                InterfaceAddress(family: .ipv6, address: "fe80::1", prefixLength: 64, scope: "link"),
                InterfaceAddress(family: .ipv6, address: "2001:db8:ac::1", prefixLength: 64)
            ])
        let routing = HostRouting(Snapshot(host: HostInfo(hostname: "h", kernel: "6.1", collectedAt: "", toolVersion: ""), interfaces: [br]))
        func pick(_ fam: IPFamily, _ dst: String) -> String? {
            guard let d = IPAddress(dst), let a = routing.masqueradeSource(fam, device: 5, toward: addressValue(d.bytes)) else { return nil }
            return addressText(addressValue(a), fam)
        }
        #expect(pick(.ipv4, "198.51.100.2") == "198.51.100.1")
        #expect(pick(.ipv4, "192.0.2.7") == "203.0.113.1")
        #expect(pick(.ipv6, "2001:db8:ac::2") == "2001:db8:ac::1")
        #expect(routing.masqueradeSource(.ipv4, device: 9, toward: 1) == nil)
    }

    @Test func rulesThatReadTheSourceAreTold() {
        let v4Source = Expression.payload(Payload(base: .network, offset: 12, length: 4, dreg: 1))
        let v4Destination = Expression.payload(Payload(base: .network, offset: 16, length: 4, dreg: 1))
        let v6Source = Expression.payload(Payload(base: .network, offset: 8, length: 16, dreg: 1))
        let port = Expression.payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1))
        #expect(Evaluator.readsSource(v4Source, family: .ip))
        #expect(!Evaluator.readsSource(v4Destination, family: .ip))
        #expect(!Evaluator.readsSource(v4Destination, family: .inet))
        #expect(Evaluator.readsSource(v6Source, family: .inet))
        #expect(Evaluator.readsSource(v6Source, family: .ip6))
        #expect(!Evaluator.readsSource(port, family: .inet))
        #expect(Evaluator.readsSource(.ct(Ct(key: 8, dreg: 1)), family: .inet))
        #expect(!Evaluator.readsSource(.ct(Ct(key: 0, dreg: 1)), family: .inet))
        #expect(Evaluator.readsSource(.match(Xt(name: "iprange", revision: 1, info: Bytes([]))), family: .ip))
        #expect(!Evaluator.readsSource(.match(Xt(name: "tcp", revision: 0, info: Bytes([]))), family: .ip))
    }
}
