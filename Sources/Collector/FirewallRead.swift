import Foundation
import HostModel

/// The firewall read on a thread of its own, so the ruleset dump overlaps the socket dump and the /proc walk. The
/// thread is new and started by the collecting thread, so it reads that thread's network namespace (a network
/// namespace is per thread; pooled threads could have joined another one).
final class FirewallRead: @unchecked Sendable {
    struct Outcome: Sendable {
        var result: Result<Firewall, CollectError>
        var netAdmin: Bool
        var warnings: [String]
    }

    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var outcome = Outcome(
        result: .failure(.kernel("cannot read the firewall: its reading thread did not finish")), netAdmin: false, warnings: [])

    init(_ options: CollectOptions) {
        let thread = Thread { [self] in
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
            lock.withLock { outcome = Outcome(result: result, netAdmin: privileges.netAdmin, warnings: warnings) }
            done.signal()
        }
        // The main thread's size: the ruleset decoder's recursion depth is the one it was written for.
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The read's outcome, once it has finished.
    func join() -> Outcome {
        done.wait()
        return lock.withLock { outcome }
    }
}
