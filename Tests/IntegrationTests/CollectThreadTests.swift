import Collector
import Foundation
import HostModel
import Netlink
import Testing

/// The ruleset is read on a thread of its own while the sockets are read (see `FirewallRead`). A network namespace
/// belongs to a thread, so that thread must start in the collecting thread's namespace: a collection run on a thread
/// that joined a namespace reads that namespace's firewall and sockets, never the test process's.
@Suite(.serialized) struct CollectThreadTests {
    final class Outcome: @unchecked Sendable {
        var snapshot: Snapshot?
        var error: String?
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func collectingOnAJoinedThreadReadsThatNamespace() throws {
        let dir = try TempDir("thrd")
        let ns = try listenerNamespace("thrd", dir: dir)
        defer { ns.cleanup() }
        try ns.nft("table inet pwt_thread {\n chain input { type filter hook input priority 0; policy drop; tcp dport 22 accept; }\n}\n")

        let path = "/run/netns/\(ns.name)"
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { outcome.error = "open: \(errno)"; return }
            defer { close(fd) }
            let err = NetnsJoin.joinOnThisThread(fd)
            guard err == 0 else { outcome.error = "setns: \(err)"; return }
            do {
                outcome.snapshot = try Collector.collect(CollectOptions(namespaces: .hostOnly))
            } catch {
                outcome.error = "\(error)"
            }
        }
        thread.start()
        done.wait()
        let snapshot = try #require(outcome.snapshot, "\(outcome.error ?? "")")
        #expect(snapshot.firewall.status == .ok)
        #expect(snapshot.firewall.tables.map(\.name) == ["pwt_thread"])
        // The holder's address on the namespace's veth (192.0.2.10:8443) exists nowhere else.
        #expect(snapshot.listeners.contains { $0.port == 8443 && $0.address == "192.0.2.10" })
    }
}
