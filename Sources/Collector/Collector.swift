import HostModel
import Netlink

/// Options for a live collection.
public struct CollectOptions: Sendable {
    /// Continue with `firewall.status = unreadable` instead of failing when the ruleset cannot be read.
    public var allowPartial: Bool
    /// Root of the proc filesystem (a test can point it elsewhere).
    public var procRoot: String
    public var toolVersion: String

    public init(allowPartial: Bool = false, procRoot: String = "/proc", toolVersion: String = "0.0.0") {
        self.allowPartial = allowPartial
        self.procRoot = procRoot
        self.toolVersion = toolVersion
    }
}

/// Why the host could not be read (exit code 3).
public enum CollectError: Error, CustomStringConvertible {
    /// nf_tables refused: the message names the missing capability.
    case firewallUnreadable(String)
    case kernel(String)

    public var description: String {
        switch self {
        case .firewallUnreadable(let m): m
        case .kernel(let m): m
        }
    }
}

/// Composes netlink, /proc and /proc/sys into one consistent `Snapshot`. Read-only.
public enum Collector {
    public static func collect(_ options: CollectOptions) throws -> Snapshot {
        // TODO(H2): replaced by the real collector.
        throw CollectError.kernel("collector not implemented yet")
    }
}
