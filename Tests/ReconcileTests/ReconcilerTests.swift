import Evaluator
import Foundation
import HostModel
import Testing
@testable import Reconcile

/// The comparison on hand-built snapshots: each prediction comes from the evaluator's `trace`, so these tests pin the
/// mapping from a verdict to what nmap can observe, and the grouping of mismatches.
@Suite struct ReconcilerTests {
    static let interfaces = [
        Interface(
            index: 1, name: "lo", flags: ["up", "loopback"],
            addresses: [InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host")]),
        Interface(
            index: 2, name: "eth0", flags: ["up"],
            addresses: [
                InterfaceAddress(family: .ipv4, address: "192.0.2.1", prefixLength: 24),
                InterfaceAddress(family: .ipv6, address: "2001:db8::1", prefixLength: 64)
            ]),
        Interface(index: 3, name: "eth1", flags: ["up"], addresses: [InterfaceAddress(family: .ipv4, address: "198.51.100.1", prefixLength: 24)])
    ]

    static func snapshot(input rules: [[HostModel.Expression]] = [], policy: ChainPolicy = .accept, firewall: Bool = true) -> Snapshot {
        let chain = Chain(
            name: "input", handle: 1, base: BaseChain(type: "filter", hook: .input, priority: 0, policy: policy),
            rules: rules.enumerated().map { Rule(handle: UInt64(10 + $0.offset), expressions: $0.element) })
        let listeners = [
            Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 22, processes: [ProcessInfo(pid: 7, name: "sshd")]),
            Listener(proto: .udp, family: .ipv4, address: "0.0.0.0", port: 53, processes: [ProcessInfo(pid: 8, name: "dns")])
        ]
        return Snapshot(
            host: HostInfo(hostname: "test", kernel: "6.1", collectedAt: "2026-12-04T00:00:00Z", toolVersion: "test"),
            listeners: listeners, interfaces: interfaces,
            firewall: firewall
                ? Firewall(status: .ok, tables: [Table(family: .inet, name: "filter", chains: [chain])])
                : Firewall(status: .absent))
    }

    static func scan(_ ports: [NmapPort], technique: ScanTechnique = .connect, address: String = "192.0.2.1") -> NmapScan {
        var techniques: [L4Proto: ScanTechnique] = [:]
        for p in ports { techniques[p.proto] = p.proto == .udp ? .udp : technique }
        return NmapScan(techniques: techniques, hosts: [NmapHost(addresses: [address], status: "up", ports: ports)])
    }

    static func run(_ s: Snapshot, _ scan: NmapScan, from: String = "198.51.100.7", iif: String? = nil) throws(ReconcileError) -> Reconciliation {
        try Reconciler.run(scan: scan, snapshot: s, evaluator: Evaluator(snapshot: s), from: from, iif: iif)
    }

    static func predicted(_ r: Reconciliation) -> [String] {
        r.comparisons.map { "\($0.port)/\($0.proto.rawValue) \($0.predicted.label) \($0.kind.rawValue)" }
    }

    @Test func deliveredIsOpenAndNoSocketIsClosed() throws {
        let r = try Self.run(
            Self.snapshot(),
            Self.scan([
                NmapPort(proto: .tcp, port: 22, state: .open), NmapPort(proto: .tcp, port: 23, state: .closed),
                NmapPort(proto: .udp, port: 53, state: .openFiltered), NmapPort(proto: .udp, port: 54, state: .closed)
            ]))
        #expect(Self.predicted(r) == ["22/tcp open agree", "23/tcp closed agree", "53/udp open agree", "54/udp closed agree"])
        #expect(r.mismatches.isEmpty)
        #expect(r.interfaces.map(\.iif) == ["eth0"])
    }

    @Test func dropIsFiltered() throws {
        let r = try Self.run(
            Self.snapshot(policy: .drop),
            Self.scan([
                NmapPort(proto: .tcp, port: 22, state: .open),
                NmapPort(proto: .udp, port: 53, state: .openFiltered),
                NmapPort(proto: .tcp, port: 23, state: .closed)
            ]))
        #expect(Self.predicted(r) == ["22/tcp filtered open-in-scan", "53/udp filtered agree", "23/tcp filtered closed-or-filtered"])
        #expect(r.mismatches.count == 2)
    }

    @Test func predictedOpenButFilteredInTheScanIsTheOtherGroup() throws {
        let r = try Self.run(Self.snapshot(), Self.scan([NmapPort(proto: .tcp, port: 22, state: .filtered)]))
        #expect(Self.predicted(r) == ["22/tcp open open-predicted"])
        #expect(r.mismatches.count == 1)
    }

    @Test func rejectDependsOnItsKindAndTheScanTechnique() throws {
        let ports = [NmapPort(proto: .tcp, port: 22, state: .closed), NmapPort(proto: .udp, port: 53, state: .closed)]
        func kinds(_ reject: Reject, _ technique: ScanTechnique) throws -> [String] {
            let r = try Self.run(Self.snapshot(input: [[.reject(reject)]]), Self.scan(ports, technique: technique))
            return r.comparisons.map { "\($0.proto.rawValue) \($0.predicted.label)" }
        }
        let icmpxPort = Reject(type: 2, code: 1), tcpReset = Reject(type: 1), icmpAdmin = Reject(type: 0, code: 13),
            icmpPort = Reject(type: 0, code: 3)
        #expect(try kinds(icmpxPort, .connect) == ["tcp closed", "udp closed"])
        #expect(try kinds(icmpxPort, .syn) == ["tcp filtered", "udp closed"])
        #expect(try kinds(icmpPort, .connect) == ["tcp closed", "udp closed"])
        #expect(try kinds(tcpReset, .syn) == ["tcp closed", "udp filtered"])
        #expect(try kinds(icmpAdmin, .connect) == ["tcp filtered", "udp filtered"])
        // a reject whose code the snapshot lacks cannot be predicted
        #expect(try kinds(Reject(type: 0), .connect) == ["tcp either", "udp either"])
    }

    @Test func conditionalIsEitherAndNeverAMismatch() throws {
        let limit = HostModel.Expression.unknown(Unknown(name: "mystery", attributes: []))
        let r = try Self.run(
            Self.snapshot(input: [[limit, .immediate(Immediate(dreg: 0, verdict: .drop))]]),
            Self.scan([NmapPort(proto: .tcp, port: 22, state: .open), NmapPort(proto: .tcp, port: 23, state: .filtered)]))
        #expect(r.comparisons.allSatisfy { $0.kind == .either })
        #expect(r.mismatches.isEmpty)
        #expect(r.undecided.count == 2)
        guard case .either(let why) = r.comparisons[0].predicted else { Issue.record("not either"); return }
        #expect(why.contains("mystery"))
    }

    @Test func theInterfaceMustBeKnown() throws {
        let s = Self.snapshot()
        let both = Self.scan([NmapPort(proto: .tcp, port: 22, state: .open)])
        #expect(try Self.run(s, both, iif: "eth1").interfaces.map(\.iif) == ["eth1"])
        #expect(throws: ReconcileError.self) { try Self.run(s, both, iif: "eth9") }
        // 127.0.0.1 is only on lo: --iif must be given
        let local = Self.scan([NmapPort(proto: .tcp, port: 22, state: .open)], address: "127.0.0.1")
        do {
            _ = try Self.run(s, local, from: "127.0.0.1")
            Issue.record("no error")
        } catch {
            guard case .usage(let m) = error else { Issue.record("\(error)"); return }
            #expect(m.contains("give --iif"))
        }
        #expect(try Self.run(s, local, from: "127.0.0.1", iif: "lo").comparisons.first?.kind == .agree)
    }

    @Test func aScanOfAnotherHostOrFamilyIsRefused() throws {
        let s = Self.snapshot()
        do {
            _ = try Self.run(s, Self.scan([NmapPort(proto: .tcp, port: 22, state: .open)], address: "203.0.113.5"))
            Issue.record("no error")
        } catch {
            #expect(error == .input("the scanned address 203.0.113.5 is not an address of this host's interfaces: the scan is of another host"))
        }
        do {
            _ = try Self.run(s, Self.scan([NmapPort(proto: .tcp, port: 22, state: .open)], address: "2001:db8::1"))
            Issue.record("no error")
        } catch {
            guard case .usage(let m) = error else { Issue.record("\(error)"); return }
            #expect(m.contains("--from 198.51.100.7 is ipv4"))
        }
        #expect(throws: ReconcileError.self) { try Self.run(s, NmapScan(techniques: [.tcp: .syn], hosts: [])) }
    }

    @Test func aHostThatWasDownIsListedNotCompared() throws {
        var scan = Self.scan([NmapPort(proto: .tcp, port: 22, state: .open)])
        scan.hosts.append(NmapHost(addresses: ["192.0.2.9"], status: "down", ports: []))
        let r = try Self.run(Self.snapshot(), scan)
        #expect(r.hostsNotUp.map(\.addresses) == [["192.0.2.9"]])
        #expect(r.comparisons.count == 1)
        let text = ReconcileReport(result: r, scanFile: "scan.xml", from: "198.51.100.7", caveats: []).text()
        #expect(text.contains("\nnot compared: 192.0.2.9 (nmap: host down, no port scanned)\n"), "\(text)")
    }

    @Test func reportGroupsMismatchesPerProtocolAndCountsThem() throws {
        let r = try Self.run(
            Self.snapshot(policy: .drop),
            Self.scan([
                NmapPort(proto: .tcp, port: 22, state: .open, reason: "syn-ack"),
                NmapPort(proto: .udp, port: 53, state: .openFiltered)
            ]))
        let report = ReconcileReport(result: r, scanFile: "scan.xml", from: "198.51.100.7", caveats: [])
        let text = report.text()
        #expect(
            text.contains(
                "tcp: 1 port(s) scanned, 1 mismatch(es)\n  open in the scan, predicted blocked (a model gap or a middlebox):\n"
                    + "    192.0.2.1:22  scan open (syn-ack), predicted filtered: inet filter input [input 0]: policy drop\n"))
        #expect(text.contains("udp: 1 port(s) scanned, 0 mismatch(es)\n"))
        #expect(text.hasSuffix("Summary: 2 port(s) compared, 1 agree, 1 mismatch(es), 0 either.\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        #expect(json["schema"] as? String == "portwarden-reconcile/1")
        #expect((json["summary"] as? [String: Int]) == ["compared": 2, "agree": 1, "mismatches": 1, "either": 0])
        let mismatch = try #require((json["mismatches"] as? [[String: Any]])?.first)
        #expect(mismatch["port"] as? Int == 22)
        #expect(mismatch["kind"] as? String == "open-in-scan")
        #expect(mismatch["predicted"] as? String == "filtered")
        #expect(mismatch["verdict"] as? String == "drop")
        #expect(mismatch["listener"] as? String == "tcp 0.0.0.0:22")
        // a port no socket holds has a null listener, and nmap's missing reason is null too: the keys stay
        let closed = try Self.run(Self.snapshot(), Self.scan([NmapPort(proto: .tcp, port: 23, state: .open)]))
        let doc = try #require(
            try JSONSerialization.jsonObject(
                with: ReconcileReport(
                    result: closed, scanFile: "s.xml", from: "198.51.100.7",
                    caveats: []
                ).json()) as? [String: Any])
        let entry = try #require((doc["mismatches"] as? [[String: Any]])?.first)
        #expect(entry["listener"] is NSNull && entry["scanReason"] is NSNull)
        #expect(entry["predicted"] as? String == "closed")
    }
}
