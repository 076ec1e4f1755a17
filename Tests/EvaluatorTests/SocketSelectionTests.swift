import HostModel
import Testing
@testable import Evaluator

/// The kernel's socket lookup: exact bind beats wildcard, device binding, weak host model, local traffic on lo.
@Suite struct SocketSelectionTests {
    @Test func specificBeatsWildcard() throws {
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("0.0.0.0", 80, name: "any"), tcpListener("192.0.2.1", 80, name: "eth0-only")]))
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 80, "eth0")).listener?.processes.first?.name == "eth0-only")
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 80, "eth1")).listener?.processes.first?.name == "any")
    }

    @Test func weakHostModel() throws {
        // bound to eth0's address, reached through eth1
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("192.0.2.1", 5432)]))
        let r = try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 5432, "eth1"))
        #expect(r.delivered)
    }

    @Test func deviceBoundSocket() throws {
        let l = tcpListener("0.0.0.0", 8443, device: "eth1", deviceIndex: 3)
        let e = Evaluator(snapshot: snapshot(listeners: [l]))
        // arrives on eth1 for eth0's address: accepted (device, not address)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 8443, "eth1")).delivered)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "198.51.100.1", 8443, "eth0")).listener == nil)
        // local traffic to the device's own address uses the FIB device: delivered; 127.0.0.1 is not
        #expect(try e.trace(probe(.tcp, "198.51.100.1", "198.51.100.1", 8443, "lo")).delivered)
        #expect(try e.trace(probe(.tcp, "127.0.0.1", "127.0.0.1", 8443, "lo")).listener == nil)
    }

    @Test func loopbackBindIsLocalOnly() throws {
        let e = Evaluator(snapshot: snapshot(listeners: [tcpListener("127.0.0.1", 6379)]))
        #expect(try e.trace(probe(.tcp, "127.0.0.1", "127.0.0.1", 6379, "lo")).delivered)
        let r = try e.trace(probe(.tcp, "198.51.100.7", "127.0.0.1", 6379, "eth0"))
        #expect(r.verdict == .drop)  // martian destination
        #expect(!r.delivered)
    }

    @Test func tcpAndUdpApart() throws {
        let e = Evaluator(snapshot: snapshot(listeners: [udpListener("0.0.0.0", 53)]))
        #expect(try e.trace(probe(.udp, "198.51.100.7", "192.0.2.1", 53, "eth0")).delivered)
        #expect(try e.trace(probe(.tcp, "198.51.100.7", "192.0.2.1", 53, "eth0")).listener == nil)
    }

    @Test func udpPrefersIPv4SocketOverDualStack() throws {
        let e = Evaluator(snapshot: snapshot(listeners: [udpListener("::", 53, name: "v6"), udpListener("0.0.0.0", 53, name: "v4")]))
        #expect(try e.trace(probe(.udp, "198.51.100.7", "192.0.2.1", 53, "eth0")).listener?.processes.first?.name == "v4")
        #expect(try e.trace(probe(.udp, "2001:db8::7", "2001:db8::1", 53, "eth0")).listener?.processes.first?.name == "v6")
    }
}

@Suite struct BroadcastDeliveryTests {
    @Test func tcpToBroadcastIsNotDelivered() throws {
        var snap = snapshot(listeners: [tcpListener("0.0.0.0", 80), udpListener("0.0.0.0", 67)])
        snap.routes.routes.append(
            Route(family: .ipv4, table: 255, type: "broadcast", destination: "192.0.2.255", prefixLength: 32, device: "eth0", deviceIndex: 2))
        let e = Evaluator(snapshot: snap)
        #expect(try e.trace(probe(.tcp, "192.0.2.7", "192.0.2.255", 80, "eth0")).listener == nil)
        #expect(try e.trace(probe(.udp, "192.0.2.7", "192.0.2.255", 67, "eth0")).delivered)
    }
}
