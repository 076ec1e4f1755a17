import Foundation
import HostModel
import Evaluator
import Policy
import Checks
import Testing
@testable import Reporting

/// One host per example policy, audited end to end with the real evaluator; the report is golden-tested in every
/// format (Goldens/policy-<name>.{txt,json,sarif}, RECORD_GOLDENS=1 rewrites).
struct PolicyFixture: Sendable, CustomTestStringConvertible {
    var policy: String
    var hostname: String
    var listeners: [Listener]
    var firewall: Firewall
    var testDescription: String { policy }

    static func l(_ proto: L4Proto, _ address: String, _ port: UInt16, _ name: String, uid: UInt32 = 0, unit: String? = nil) -> Listener {
        Listener(
            proto: proto, family: address.contains(":") ? .ipv6 : .ipv4, address: address, port: port, uid: uid,
            processes: [ProcessInfo(pid: Int32(port), name: name, unit: unit)])
    }

    static let base: [Rule] = [ExampleRule.iifname(1, "lo"), ExampleRule.established(2)]

    static let all: [PolicyFixture] = [
        PolicyFixture(
            policy: "web-server.yaml", hostname: "web-01",
            listeners: [
                l(.tcp, "0.0.0.0", 443, "nginx"), l(.tcp, "0.0.0.0", 80, "nginx"),
                l(.tcp, "0.0.0.0", 22, "sshd", unit: "ssh.service"), l(.tcp, "127.0.0.1", 8080, "java", uid: 33),
                l(.tcp, "0.0.0.0", 9100, "node_exporter", uid: 65534), l(.tcp, "0.0.0.0", 6379, "redis-server", uid: 999)
            ],
            firewall: ExampleRule.firewall(
                policy: .drop,
                base + [
                    ExampleRule.port(3, .tcp, 443), ExampleRule.port(4, .tcp, 80), ExampleRule.port(5, .tcp, 22), ExampleRule.port(6, .tcp, 8443)
                ])),
        PolicyFixture(
            policy: "database.yaml", hostname: "db-01",
            listeners: [
                l(.tcp, "0.0.0.0", 5432, "postgres", uid: 70, unit: "postgresql.service"), l(.tcp, "0.0.0.0", 22, "sshd"),
                l(.tcp, "0.0.0.0", 6432, "pgbouncer", uid: 70)
            ],
            firewall: ExampleRule.firewall(
                policy: .drop,
                base + [
                    ExampleRule.source(3, "10.30.0.0/24", .tcp, 5432), ExampleRule.source(4, "10.0.0.5/32", .tcp, 22),
                    ExampleRule.port(5, .tcp, 22, .drop)
                ])),
        PolicyFixture(
            policy: "workstation.yaml", hostname: "laptop",
            listeners: [
                l(.tcp, "127.0.0.1", 3000, "node", uid: 1000), l(.tcp, "127.0.0.1", 631, "cupsd"), l(.udp, "0.0.0.0", 5353, "avahi-daemon", uid: 105),
                l(.tcp, "0.0.0.0", 5900, "x11vnc", uid: 1000)
            ], firewall: ExampleRule.firewall(policy: .accept, base + [ExampleRule.source(3, "192.168.0.0/16", .udp, 5353)])),
        PolicyFixture(
            policy: "container-host.yaml", hostname: "docker-01",
            listeners: [
                l(.tcp, "0.0.0.0", 443, "docker-proxy"), l(.tcp, "0.0.0.0", 80, "docker-proxy"), l(.tcp, "0.0.0.0", 22, "sshd"),
                l(.tcp, "0.0.0.0", 2375, "dockerd"), l(.tcp, "127.0.0.1", 1338, "containerd")
            ], firewall: Firewall(status: .absent))
    ]

    static let interfaces = [
        Interface(
            index: 1, name: "lo", flags: ["up", "loopback"],
            addresses: [InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host")]),
        Interface(index: 2, name: "eth0", flags: ["up"], addresses: [InterfaceAddress(family: .ipv4, address: "192.0.2.10", prefixLength: 24)])
    ]
    static let routes = Routing(routes: [
        Route(family: .ipv4, table: 254, type: "unicast", destination: "192.0.2.0", prefixLength: 24, device: "eth0", deviceIndex: 2),
        Route(
            family: .ipv4, table: 254, type: "unicast", destination: "0.0.0.0", prefixLength: 0, gateway: "192.0.2.1", device: "eth0", deviceIndex: 2),
        Route(family: .ipv4, table: 255, type: "local", destination: "192.0.2.10", prefixLength: 32, device: "eth0", deviceIndex: 2),
        Route(family: .ipv4, table: 255, type: "local", destination: "127.0.0.0", prefixLength: 8, device: "lo", deviceIndex: 1)
    ])

    var snapshot: Snapshot {
        Snapshot(
            host: HostInfo(hostname: hostname, kernel: "6.12.0", collectedAt: "2026-11-25T09:00:00Z", toolVersion: "fixture"),
            listeners: listeners, interfaces: Self.interfaces, routes: Self.routes,
            sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipUnprivilegedPortStart: 1024), firewall: firewall)
    }
}

@Suite struct PolicyFixtureTests {
    @Test(arguments: PolicyFixture.all, ReportFormat.allCases)
    func auditOfExampleHost(_ f: PolicyFixture, _ format: ReportFormat) throws {
        let path = repoRoot.appendingPathComponent("policies").appendingPathComponent(f.policy).path
        let policy = try PolicyLoader.load(path: path, hostname: f.hostname)
        let snapshot = f.snapshot
        let context = AuditContext(snapshot: snapshot, policy: policy, today: PolicyDate(year: 2026, month: 11, day: 25))
        let result = Auditor.run(context)
        let report = try format.reporter.render(Report(result: result, toolVersion: "9.9.9-test", baseDirectory: repoRoot.path))
        try assertGolden(report, "policy-\(f.policy.replacingOccurrences(of: ".yaml", with: "")).\(format.fileExtension)")
        if format == .sarif, let tool = sarifValidator() {
            let file = try tempFile("policy.sarif", report)
            defer { try? FileManager.default.removeItem(at: file) }
            let (status, out) = try run([tool.path, file.path])
            #expect(status == 0, "\(f.policy): \(out)")
        }
    }
}
