import Foundation
import HostModel
import Testing
@testable import Evaluator

/// Interfaces are said as people say them, and the evaluator's stand-in for "every other interface" never reaches JSON.
@Suite struct InterfaceScopeTests {
    func exposure(_ rule: String) throws -> ListenerExposure {
        let t = table(.inet)
        try t.chain("input", hook: .input, policy: .drop, [rule])
        let snap = Snapshot(
            host: HostInfo(hostname: "t", kernel: "6.18", collectedAt: "", toolVersion: "t"), listeners: [tcpListener("0.0.0.0", 22)],
            interfaces: Host.interfaces, routes: Host.routes, firewall: Firewall(status: .ok, tables: [t.table]))
        return try #require(Evaluator(snapshot: snap).exposure().first)
    }

    @Test(arguments: [
        ("tcp dport 22 accept", "every interface"),
        (#"tcp dport 22 iifname != "eth1" accept"#, "every interface except eth1"),
        (#"tcp dport 22 iifname { "eth0", "eth1" } accept"#, "eth0 and eth1"),
        (#"tcp dport 22 iifname "eth0" accept"#, "eth0"),
        (#"tcp dport 22 iifname "wg0" accept"#, "wg0"),
        (#"tcp dport 22 iifname != "wg0" accept"#, "every interface except wg0")
    ])
    func wording(rule: String, text: String) throws {
        let x = try exposure(rule)
        #expect(x.interfaceScope.text == text, "\(rule)")
    }

    @Test func listsReadAsSentences() {
        #expect(InterfaceScope.list(["a"]) == "a")
        #expect(InterfaceScope.list(["a", "b"]) == "a and b")
        #expect(InterfaceScope.list(["a", "b", "c"]) == "a, b and c")
        #expect(InterfaceScope(reached: [], asked: ["eth0"]).text == "no interface")
    }

    /// JSON names real interfaces only, says `otherInterfaces`, and reads back to the same result.
    @Test func jsonHasNoStandInAndRoundTrips() throws {
        let x = try exposure(#"tcp dport 22 iifname != "eth1" accept"#)
        #expect(x.interfaces.contains(where: InterfaceScope.isStandIn))
        let data = try JSONEncoder().encode(x)
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("(any other)"), "\(text.prefix(400))")
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(obj["interfaces"] as? [String] == ["eth0"])
        #expect(obj["otherInterfaces"] as? Bool == true)
        let regions = try #require(obj["regions"] as? [[String: Any]])
        #expect(regions.contains { $0["interface"] == nil && $0["otherInterfaces"] as? Bool == true })
        #expect(regions.allSatisfy { ($0["interface"] == nil) == ($0["otherInterfaces"] as? Bool == true) })
        let back = try JSONDecoder().decode(ListenerExposure.self, from: data)
        #expect(back == x)
    }
}
