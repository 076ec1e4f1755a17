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

/// Encodes itself with or without the document's shared set table (without: sets cut inline, as schema 2 did).
protocol SetReferencingEncodable {
    func encode(to encoder: any Encoder, sets: ExposureTables?) throws
}

/// A value encoded with the document's set table.
struct WithSets<T: SetReferencingEncodable>: Encodable {
    let value: T
    let sets: ExposureTables
    init(_ value: T, _ sets: ExposureTables) {
        self.value = value
        self.sets = sets
    }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder, sets: sets) }
}

private extension KeyedEncodingContainer where K == Keys {
    mutating func put<T: SetReferencingEncodable>(_ v: [T], _ k: String, sets: ExposureTables?) throws {
        if let sets { try put(v.map { WithSets($0, sets) }, k) } else { try put(v.map { Plain($0) }, k) }
    }
}

/// A value encoded without a set table.
private struct Plain<T: SetReferencingEncodable>: Encodable {
    let value: T
    init(_ value: T) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder, sets: nil) }
}

extension Decoder {
    /// The tables of the report being read (see `ExposureDocument.userInfo(for:)`).
    private func tables(_ what: String) throws -> ExposureReadTables {
        guard let t = userInfo[.exposureTables] as? ExposureReadTables else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "a reference to \(what) outside a whole report"))
        }
        return t
    }

    /// Entry `index` of the report's `addressSets`, which must be of `family`.
    func referencedSet(_ index: Int, family: IPFamily) throws -> AddressSet {
        let sets = try tables("addressSets[\(index)]").sets
        guard sets.indices.contains(index), sets[index].family == family else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath, debugDescription: "addressSets[\(index)] is not an \(family.rawValue) set of this report"))
        }
        return sets[index]
    }

    /// Entry `index` of the report's `paths`.
    func referencedPath(_ index: Int) throws -> [PathStep] {
        let paths = try tables("paths[\(index)]").paths
        guard paths.indices.contains(index) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "paths[\(index)] is not in this report"))
        }
        return paths[index]
    }
}

extension ListenerExposure: SetReferencingEncodable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.put(acceptedRanges, "acceptedRanges", sets: sets)
        try c.put(acceptedSources, "acceptedSources")
        let split = InterfaceScope.split(interfaces)
        try c.put(split.named, "interfaces")
        try c.putIfPresent(limits, "limits")
        try c.put(listener, "listener")
        try c.put(split.others, "otherInterfaces")
        try c.put(reasons, "reasons")
        try c.put(regions, "regions", sets: sets)
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

extension ExposureRegion: SetReferencingEncodable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
        var c = encoder.container(keyedBy: Keys.self)
        let other = InterfaceScope.isStandIn(interface)
        let shared = sets.flatMap { t in ExposureSetTable.referenced(self).flatMap(t.sets.index(of:)) }
        let pathIndex = sets?.paths.index(of: path)
        try c.put(destination, "destination")
        try c.put(destinationPort, "destinationPort")
        try c.put(family, "family")
        if !other { try c.put(interface, "interface") }
        try c.put(interfaceExists, "interfaceExists")
        try c.putIfPresent(limits, "limits")
        try c.put(shared == nil ? omittedSources : 0, "omittedSources")
        try c.put(other, "otherInterfaces")
        if let pathIndex { try c.put(pathIndex, "pathIndex") } else { try c.put(path, "path") }
        try c.put(reasons, "reasons")
        try c.put(sourceCount, "sourceCount")
        if let shared { try c.put(shared, "sourceSet") } else { try c.put(sources, "sources") }
        try c.put(verdict, "verdict")
    }

    /// A `sourceSet` reference (schema 3) gives the exact set, and the display list is cut from it as the evaluator
    /// cuts it; otherwise `sources` is the list as written.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let family: IPFamily = try c.get("family")
        var sources: [String] = []
        var omitted: Int = try c.get("omittedSources")
        var exact: AddressSet?
        if let index: Int = try c.getIfPresent("sourceSet") {
            let set = try decoder.referencedSet(index, family: family)
            sources = set.ranges.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, family) }
            omitted = set.rangeCount - sources.count
            exact = set
        } else {
            sources = try c.get("sources")
        }
        self.init(
            family: family, interface: try c.interfaceName(), interfaceExists: try c.get("interfaceExists"),
            destination: try c.get("destination"), destinationPort: try c.get("destinationPort"), sources: sources,
            omittedSources: omitted, sourceCount: try c.get("sourceCount"), verdict: try c.get("verdict"),
            path: try c.getIfPresent("pathIndex").map { (i: Int) throws in try decoder.referencedPath(i) } ?? c.get("path"),
            reasons: try c.get("reasons"), limits: try c.getIfPresent("limits"), sourceSet: exact)
    }
}

extension ForwardedPort: SetReferencingEncodable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
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
        try c.put(regions, "regions", sets: sets)
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
