/// One consistent picture of a host: what listens, how it is connected, and what its firewall says.
///
/// Everything downstream (evaluator, checks, reporters) works on this value only, so a saved snapshot and a live
/// collection exercise the same code. The JSON form is a stable contract (`schema`).
public struct Snapshot: Codable, Sendable, Equatable {
    /// The current schema identifier; readers refuse any other value.
    public static let currentSchema = "portwarden-snapshot/1"

    public var schema: String
    public var host: HostInfo
    public var listeners: [Listener]
    public var interfaces: [Interface]
    public var routes: Routing
    public var sysctls: Sysctls
    public var firewall: Firewall
    public var privileges: Privileges
    /// Things the collector could not do completely, in words a user can act on.
    public var warnings: [String]

    public init(
        host: HostInfo, listeners: [Listener] = [], interfaces: [Interface] = [], routes: Routing = Routing(),
        sysctls: Sysctls = Sysctls(), firewall: Firewall = Firewall(status: .absent),
        privileges: Privileges = Privileges(), warnings: [String] = []
    ) {
        self.schema = Snapshot.currentSchema
        self.host = host
        self.listeners = listeners
        self.interfaces = interfaces
        self.routes = routes
        self.sysctls = sysctls
        self.firewall = firewall
        self.privileges = privileges
        self.warnings = warnings
    }
}

public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var kernel: String
    /// RFC 3339 time of collection, UTC.
    public var collectedAt: String
    public var toolVersion: String

    public init(hostname: String, kernel: String, collectedAt: String, toolVersion: String) {
        self.hostname = hostname
        self.kernel = kernel
        self.collectedAt = collectedAt
        self.toolVersion = toolVersion
    }
}

/// What the collector was allowed to see. Missing privileges degrade parts of the snapshot; they are recorded here
/// so that nobody mistakes "could not read" for "nothing there".
public struct Privileges: Codable, Sendable, Equatable {
    /// CAP_NET_ADMIN: needed for every nf_tables request, including reads.
    public var netAdmin: Bool
    /// Access to other users' /proc/<pid>/fd (root with CAP_SYS_PTRACE): needed to name socket owners.
    public var procFds: Bool

    public init(netAdmin: Bool = true, procFds: Bool = true) {
        self.netAdmin = netAdmin
        self.procFds = procFds
    }
}
