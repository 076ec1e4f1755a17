import Foundation
import HostModel
import Evaluator
import Policy
import Testing
@testable import Checks

@Suite struct PolicyTemplateTests {
    @Test func rangesBecomeMinimalPrefixes() {
        #expect(AddressRange("10.0.0.0-10.0.0.255")?.cidrs == ["10.0.0.0/24"])
        #expect(AddressRange("10.0.0.1-10.0.0.6")?.cidrs == ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"])
        #expect(AddressRange("0.0.0.0/0")?.cidrs == ["0.0.0.0/0"])
        #expect(AddressRange("255.255.255.255")?.cidrs == ["255.255.255.255/32"])
        #expect(AddressRange("2001:db8::/32")?.cidrs == ["2001:db8::/32"])
        #expect(AddressRange("::/0")?.cidrs == ["::/0"])
    }

    /// `policy init` then `audit` on the same host: nothing unsuppressed.
    @Test func auditAgainstGeneratedPolicyIsClean() throws {
        let reaches: [ListenerReach] = [
            .example(.tcp, "0.0.0.0:22", .restricted, process: "sshd", sources: ["10.0.0.1-10.0.0.6", "192.168.1.0/24"], interfaces: ["eth0"]),
            .example(.tcp, "0.0.0.0:6379", .public, process: "redis-server", uid: 999),
            .example(.tcp, "127.0.0.1:5432", .localOnly, process: "postgres", uid: 70),
            .example(.tcp, "192.0.2.10:53", .public, process: "named", uid: 53),
            .example(.udp, "[::]:5353", .conditional, process: "avahi-daemon", sources: [], reasons: ["limit"]),
            .example(.tcp, "0.0.0.0:40000", .blocked, process: "java", uid: 1000)
        ]
        let host = ExampleHost(
            reaches, sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999), ipUnprivilegedPortStart: 0),
            firewall: ExampleRule.firewall(policy: .accept, [ExampleRule.port(3, .tcp, 22), ExampleRule.port(4, .tcp, 8443)]))
        let today = PolicyDate(year: 2026, month: 11, day: 25)
        let text = try PolicyTemplate.policy(snapshot: host.snapshot, reaches: reaches, today: today)
        let policy = try PolicyLoader.parse(text, file: "generated.yaml")
        #expect(policy.listeners.count == 6)
        #expect(policy.listeners.first { $0.ports.first == 5432 }?.bind == .loopback)
        #expect(policy.listeners.first { $0.ports.first == 53 }?.bind == .addresses(["192.0.2.10"]))
        let ssh = try #require(policy.listeners.first { $0.ports.first == 22 })
        #expect(
            ssh.exposure
                == .restricted(
                    interfaces: ["eth0"],
                    sources: ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32", "192.168.1.0/24"].compactMap(CIDR.init)))
        #expect(ssh.owner == OwnerRule(process: "sshd", uid: 0))
        let result = Auditor.run(AuditContext(snapshot: host.snapshot, reaches: reaches, policy: policy, today: today))
        #expect(result.findings.filter { !$0.isSuppressed }.map(\.subject) == [])
        #expect(!result.findings.isEmpty, "host facts stay visible as suppressed findings")
    }

    /// The same with the real evaluator on a snapshot without firewall.
    @Test func generatedPolicyWithTheEvaluator() throws {
        let s = Snapshot(
            host: HostInfo(hostname: "h", kernel: "6.12", collectedAt: "2026-11-25T00:00:00Z", toolVersion: "t"),
            listeners: [
                Listener(proto: .tcp, family: .ipv6, address: "::", port: 22, processes: [ProcessInfo(pid: 1, name: "sshd")]),
                Listener(proto: .tcp, family: .ipv4, address: "127.0.0.1", port: 631, processes: [ProcessInfo(pid: 2, name: "cupsd")])
            ],
            interfaces: EvaluatorAuditTests.interfaces, routes: EvaluatorAuditTests.routes,
            sysctls: Sysctls(ipLocalPortRange: PortRange(first: 32768, last: 60999)), firewall: Firewall(status: .absent))
        let reaches = Evaluator(snapshot: s).exposure().map(ListenerReach.init)
        let today = PolicyDate(year: 2026, month: 11, day: 25)
        let policy = try PolicyLoader.parse(try PolicyTemplate.policy(snapshot: s, reaches: reaches, today: today), file: "g.yaml")
        let result = Auditor.run(AuditContext(snapshot: s, reaches: reaches, policy: policy, today: today))
        #expect(result.findings.filter { !$0.isSuppressed }.isEmpty)
        #expect(result.findings.map(\.ruleId) == ["PW1013"])
    }
}
