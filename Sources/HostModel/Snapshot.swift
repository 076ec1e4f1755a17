/// One consistent picture of a host: what listens, how it is connected, and what its firewall says.
///
/// Everything downstream (evaluator, checks, reporters) works on this value only, so a saved snapshot and a live
/// collection exercise the same code. The JSON form is a stable contract (`schema`).
public struct Snapshot: Codable, Sendable, Equatable {
    /// The schema this version writes. `/2` added the other network namespaces (`netns`, `namespaces`).
    public static let currentSchema = "portwarden-snapshot/2"
    /// Every schema this version reads (a `/1` snapshot is a `/2` one without other namespaces); others are refused.
    public static let readableSchemas: Set<String> = ["portwarden-snapshot/1", currentSchema]

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
    /// The namespace all of the above belongs to (the host's, the subject of every answer), when it was recorded.
    public var netns: NamespaceID?
    /// The host's other network namespaces (containers, pods, named ones): where forwarded connections end.
    public var namespaces: [NetworkNamespace]

    public init(
        host: HostInfo, listeners: [Listener] = [], interfaces: [Interface] = [], routes: Routing = Routing(),
        sysctls: Sysctls = Sysctls(), firewall: Firewall = Firewall(status: .absent),
        privileges: Privileges = Privileges(), warnings: [String] = [], netns: NamespaceID? = nil, namespaces: [NetworkNamespace] = []
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
        self.netns = netns
        self.namespaces = namespaces
    }

    enum CodingKeys: String, CodingKey {
        case schema, host, listeners, interfaces, routes, sysctls, firewall, privileges, warnings, netns, namespaces
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        host = try c.decode(HostInfo.self, forKey: .host)
        listeners = try c.decode([Listener].self, forKey: .listeners)
        interfaces = try c.decode([Interface].self, forKey: .interfaces)
        routes = try c.decode(Routing.self, forKey: .routes)
        sysctls = try c.decode(Sysctls.self, forKey: .sysctls)
        firewall = try c.decode(Firewall.self, forKey: .firewall)
        privileges = try c.decode(Privileges.self, forKey: .privileges)
        warnings = try c.decode([String].self, forKey: .warnings)
        netns = try c.decodeIfPresent(NamespaceID.self, forKey: .netns)
        namespaces = try c.decodeIfPresent([NetworkNamespace].self, forKey: .namespaces) ?? []
    }

    /// `namespaces` is left out when empty, so a host without other namespaces writes what `/1` wrote (but the schema).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(host, forKey: .host)
        try c.encode(listeners, forKey: .listeners)
        try c.encode(interfaces, forKey: .interfaces)
        try c.encode(routes, forKey: .routes)
        try c.encode(sysctls, forKey: .sysctls)
        try c.encode(firewall, forKey: .firewall)
        try c.encode(privileges, forKey: .privileges)
        try c.encode(warnings, forKey: .warnings)
        try c.encodeIfPresent(netns, forKey: .netns)
        if !namespaces.isEmpty { try c.encode(namespaces, forKey: .namespaces) }
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
