/// A network namespace, by the identity the kernel gives it (the nsfs inode) and the names people know it by.
public struct NamespaceID: Codable, Sendable, Equatable, Hashable {
    /// The inode of `/proc/<pid>/ns/net`: the same for every process and bind mount of one namespace.
    public var inode: UInt64
    /// A name under `/run/netns` (iproute2) or a runtime's netns directory (`/run/docker/netns`), when one exists.
    public var name: String?

    public init(inode: UInt64, name: String? = nil) {
        self.inode = inode
        self.name = name
    }

    /// How a person refers to it: the name, or `netns:[inode]` as `/proc/<pid>/ns/net` shows it.
    public var label: String { name ?? "net:[\(inode)]" }
}

/// Who runs in a namespace, as far as cgroup paths and the runtimes' state files on disk tell (no daemon is asked).
public struct NamespaceOwner: Codable, Sendable, Equatable, Hashable {
    /// `docker`, `podman`, `kubernetes`, `lxc`, or `process` when no runtime could be told.
    public var runtime: String
    /// The container id (full where known).
    public var id: String?
    /// The container's name (`web` for Docker's `/web`), or the pod's container name.
    public var name: String?
    /// Kubernetes only: the pod and its namespace.
    public var pod: String?
    public var podNamespace: String?

    public init(runtime: String, id: String? = nil, name: String? = nil, pod: String? = nil, podNamespace: String? = nil) {
        self.runtime = runtime
        self.id = id
        self.name = name
        self.pod = pod
        self.podNamespace = podNamespace
    }

    /// `docker web`, `kubernetes default/api-7f9c`, `podman 3f2a19c0b1d2`.
    public var label: String {
        if let pod { return "\(runtime) \(podNamespace.map { "\($0)/" } ?? "")\(pod)" }
        return "\(runtime) \(name ?? id.map { String($0.prefix(12)) } ?? "?")"
    }
}

/// Another network namespace on the host: its sockets, links, routes, forwarding sysctls and own ruleset, read the
/// same way as the host's own. Forwarded connections (DNAT to a container) are delivered into one of these.
public struct NetworkNamespace: Codable, Sendable, Equatable {
    public var id: NamespaceID
    public var owner: NamespaceOwner?
    /// False when the collector could not join it: then nothing below was read (a warning says why), which is not
    /// the same as an empty namespace.
    public var entered: Bool
    /// Some processes in it (at most a few), so a user can find it: `nsenter -t PID -n`.
    public var pids: [Int32]
    public var listeners: [Listener]
    public var interfaces: [Interface]
    public var routes: Routing
    public var sysctls: Sysctls
    public var firewall: Firewall
    public var warnings: [String]

    public init(
        id: NamespaceID, owner: NamespaceOwner? = nil, entered: Bool = true, pids: [Int32] = [], listeners: [Listener] = [],
        interfaces: [Interface] = [],
        routes: Routing = Routing(), sysctls: Sysctls = Sysctls(), firewall: Firewall = Firewall(status: .absent),
        warnings: [String] = []
    ) {
        self.id = id
        self.owner = owner
        self.entered = entered
        self.pids = pids
        self.listeners = listeners
        self.interfaces = interfaces
        self.routes = routes
        self.sysctls = sysctls
        self.firewall = firewall
        self.warnings = warnings
    }

    /// `docker web (net:[4026532301])`, or the namespace label alone.
    public var label: String {
        guard let owner else { return id.label }
        return "\(owner.label) (\(id.label))"
    }
}

/// Which network namespaces a collection reads besides its own.
public enum NamespaceSelection: Sendable, Equatable {
    /// Every namespace of a running process and every named one.
    case all
    /// Only the collector's own namespace.
    case hostOnly
    /// Only these named namespaces (`/run/netns/NAME`), besides the collector's own.
    case named([String])
}
