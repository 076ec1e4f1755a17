import HostModel

// The JSON shape of exposure results. The evaluator asks about one stand-in for every interface the host and its
// rules do not name (`(any other)` inside); JSON never shows that name: `interfaces` lists named interfaces only, and
// `otherInterfaces` says whether every other interface is reached too. A region or accepted range about the stand-in
// has no `interface` and `otherInterfaces: true`. `ExposureJSONWriter` writes the same bytes; decoding restores the
// stand-in, so results read back compare equal.

/// The evaluator's name for every interface the snapshot and the rules do not name.
let standInInterface = "(any other)"

private struct Keys: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private extension KeyedEncodingContainer where K == Keys {
    mutating func put<T: Encodable>(_ v: T, _ k: String) throws { try encode(v, forKey: Keys(k)) }
    mutating func putIfPresent<T: Encodable>(_ v: T?, _ k: String) throws { try encodeIfPresent(v, forKey: Keys(k)) }
}

private extension KeyedDecodingContainer where K == Keys {
    func get<T: Decodable>(_ k: String) throws -> T { try decode(T.self, forKey: Keys(k)) }
    func getIfPresent<T: Decodable>(_ k: String) throws -> T? { try decodeIfPresent(T.self, forKey: Keys(k)) }
    /// A named-interface list plus `otherInterfaces`, back into the evaluator's list with the stand-in.
    func interfaceList(_ k: String) throws -> [String] {
        let named: [String] = try get(k)
        return (try getIfPresent("otherInterfaces") ?? false) ? (named + [standInInterface]).sorted() : named
    }
    /// One region's interface: absent means the stand-in.
    func interfaceName() throws -> String { try getIfPresent("interface") ?? standInInterface }
}

extension ListenerExposure {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.put(acceptedRanges, "acceptedRanges")
        try c.put(acceptedSources, "acceptedSources")
        let split = InterfaceScope.split(interfaces)
        try c.put(split.named, "interfaces")
        try c.putIfPresent(limits, "limits")
        try c.put(listener, "listener")
        try c.put(split.others, "otherInterfaces")
        try c.put(reasons, "reasons")
        try c.put(regions, "regions")
        try c.put(summary, "summary")
        try c.put(viaPorts, "viaPorts")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            listener: try c.get("listener"), summary: try c.get("summary"), interfaces: try c.interfaceList("interfaces"),
            acceptedSources: try c.get("acceptedSources"), reasons: try c.get("reasons"), regions: try c.get("regions"),
            viaPorts: try c.get("viaPorts"), acceptedRanges: try c.get("acceptedRanges"), limits: try c.getIfPresent("limits"))
    }
}

extension ExposureRegion {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        let other = InterfaceScope.isStandIn(interface)
        try c.put(destination, "destination")
        try c.put(destinationPort, "destinationPort")
        try c.put(family, "family")
        if !other { try c.put(interface, "interface") }
        try c.put(interfaceExists, "interfaceExists")
        try c.putIfPresent(limits, "limits")
        try c.put(omittedSources, "omittedSources")
        try c.put(other, "otherInterfaces")
        try c.put(path, "path")
        try c.put(reasons, "reasons")
        try c.put(sourceCount, "sourceCount")
        try c.put(sources, "sources")
        try c.put(verdict, "verdict")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            family: try c.get("family"), interface: try c.interfaceName(), interfaceExists: try c.get("interfaceExists"),
            destination: try c.get("destination"), destinationPort: try c.get("destinationPort"), sources: try c.get("sources"),
            omittedSources: try c.get("omittedSources"), sourceCount: try c.get("sourceCount"), verdict: try c.get("verdict"),
            path: try c.get("path"), reasons: try c.get("reasons"), limits: try c.getIfPresent("limits"))
    }
}

extension ForwardedPort {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.put(destinations, "destinations")
        try c.put(family, "family")
        let split = InterfaceScope.split(interfaces)
        try c.put(split.named, "interfaces")
        try c.putIfPresent(limits, "limits")
        try c.putIfPresent(listener, "listener")
        try c.putIfPresent(namespace, "namespace")
        try c.put(namespaceNames, "namespaceNames")
        try c.put(split.others, "otherInterfaces")
        try c.put(port, "port")
        try c.put(proto, "proto")
        try c.put(reasons, "reasons")
        try c.put(regions, "regions")
        try c.put(sources, "sources")
        try c.put(summary, "summary")
        try c.put(target, "target")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            proto: try c.get("proto"), family: try c.get("family"), port: try c.get("port"), target: try c.get("target"),
            destinations: try c.get("destinations"), interfaces: try c.interfaceList("interfaces"), sources: try c.get("sources"),
            reasons: try c.get("reasons"), regions: try c.get("regions"), namespace: try c.getIfPresent("namespace"),
            listener: try c.getIfPresent("listener"), summary: try c.get("summary"))
        namespaceNames = try c.getIfPresent("namespaceNames") ?? []
        limits = try c.getIfPresent("limits")
    }
}
