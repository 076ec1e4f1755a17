import HostModel
import Netlink

/// The firewall read on a thread of its own, so the ruleset dump overlaps the socket dump and the /proc walk. The
/// thread is new and started by the collecting thread, so it reads that thread's network namespace (a network
/// namespace is per thread; pooled threads could have joined another one).
final class FirewallRead: Sendable {
    struct Outcome: Sendable {
        var result: Result<Firewall, CollectError>
        var netAdmin: Bool
        var warnings: [String]
    }

    private let thread: JoinableThread<Outcome>

    init(_ options: CollectOptions) {
        thread = JoinableThread {
            var privileges = Privileges()
            var warnings: [String] = []
            let result: Result<Firewall, CollectError>
            do throws(CollectError) {
                var firewall = try Collector.readFirewall(options, privileges: &privileges, warnings: &warnings)
                firewall.legacyTables = HostFiles.legacyTables(procRoot: options.procRoot)
                firewall.recentLists = HostFiles.recentLists(procRoot: options.procRoot)
                result = .success(firewall)
            } catch {
                result = .failure(error)
            }
            return Outcome(result: result, netAdmin: privileges.netAdmin, warnings: warnings)
        }
    }

    /// The read's outcome, once it has finished.
    func join() -> Outcome {
        thread.join()
            ?? Outcome(result: .failure(.kernel("cannot read the firewall: its reading thread did not finish")), netAdmin: false, warnings: [])
    }
}
