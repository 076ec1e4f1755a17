import Evaluator
import HostModel

// The JSON shape of exposure results. The evaluator asks about one stand-in for every interface the host and its
// rules do not name (`(any other)` inside); JSON never shows that name: `interfaces` lists named interfaces only, and
// `otherInterfaces` says whether every other interface is reached too. A region or accepted range about the stand-in
// has no `interface` and `otherInterfaces: true`. `ExposureJSONWriter` writes the same bytes; decoding restores the
// stand-in, so results read back compare equal.

/// The evaluator's name for every interface the snapshot and the rules do not name.
let standInInterface = InterfaceScope.standIn

struct ExposureKeys: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private extension KeyedEncodingContainer where K == ExposureKeys {
    mutating func put<T: Encodable>(_ v: T, _ k: String) throws { try encode(v, forKey: ExposureKeys(k)) }
    mutating func putIfPresent<T: Encodable>(_ v: T?, _ k: String) throws { try encodeIfPresent(v, forKey: ExposureKeys(k)) }
}

extension KeyedDecodingContainer where K == ExposureKeys {
    func get<T: Decodable>(_ k: String) throws -> T { try decode(T.self, forKey: ExposureKeys(k)) }
    func getIfPresent<T: Decodable>(_ k: String) throws -> T? { try decodeIfPresent(T.self, forKey: ExposureKeys(k)) }
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

private extension KeyedEncodingContainer where K == ExposureKeys {
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
}

extension ListenerExposure: Codable, SetReferencingEncodable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
        var c = encoder.container(keyedBy: ExposureKeys.self)
        try c.put(acceptedRanges, "acceptedRanges", sets: sets)
        try c.put(acceptedSources, "acceptedSources")
        let split = InterfaceScope.split(interfaces)
        try c.put(split.named, "interfaces")
        try c.putIfPresent(limits, "limits")
        try c.put(listener, "listener")
        try c.put(split.others, "otherInterfaces")
        try c.put(reasons, "reasons")
        try c.putRegions(regions, own: listener.port, tables: sets)
        try c.put(summary, "summary")
        try c.put(viaPorts, "viaPorts")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ExposureKeys.self)
        let listener: Listener = try c.get("listener")
        self.init(
            listener: listener, summary: try c.get("summary"), interfaces: try c.interfaceList("interfaces"),
            acceptedSources: try c.get("acceptedSources"), reasons: try c.get("reasons"), regions: try c.regions(own: listener.port, decoder),
            viaPorts: try c.get("viaPorts"), acceptedRanges: try c.get("acceptedRanges"), limits: try c.getIfPresent("limits"))
    }
}

extension ExposureRegion: Codable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, tables: nil, port: destinationPort) }

    /// With the document's tables: a cell of its `regions` table, `port` nil for the referring listener's own port.
    func encode(to encoder: any Encoder, tables: ExposureTables?, port: UInt16?) throws {
        var c = encoder.container(keyedBy: ExposureKeys.self)
        let other = InterfaceScope.isStandIn(interface)
        let shared = tables.flatMap { t in ExposureSetTable.referenced(self).flatMap(t.sets.index(of:)) }
        let pathIndex = tables?.paths.index(of: path)
        try c.put(destination, "destination")
        try c.putIfPresent(port, "destinationPort")
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

    /// A region as written: inline (schema 2), or a cell of the `regions` table whose set and path are references.
    public struct Cell: Decodable, Sendable {
        var destination: String
        var destinationPort: UInt16?
        var family: IPFamily
        var interface: String?
        var interfaceExists: Bool
        var limits: [String]?
        var omittedSources: Int
        var path: [PathStep]?
        var pathIndex: Int?
        var reasons: [String]
        var sourceCount: Double
        var sourceSet: Int?
        var sources: [String]?
        var verdict: PacketVerdict

        /// The region, with `port` for a cell written without one; nil when a reference is not in the tables. A
        /// `sourceSet` gives the exact set, and the display list is cut from it as the evaluator cuts it.
        func resolve(sets: [AddressSet], paths: [[PathStep]], port: UInt16 = 0) -> ExposureRegion? {
            var shown = sources ?? []
            var omitted = omittedSources
            var exact: AddressSet?
            if let i = sourceSet {
                guard sets.indices.contains(i), sets[i].family == family else { return nil }
                exact = sets[i]
                shown = sets[i].ranges.prefix(ExposureRegion.maxListed).map { AddressSet.describe($0, family) }
                omitted = sets[i].rangeCount - shown.count
            } else if sources == nil {
                return nil
            }
            let steps: [PathStep]
            if let i = pathIndex {
                guard paths.indices.contains(i) else { return nil }
                steps = paths[i]
            } else if let path {
                steps = path
            } else {
                return nil
            }
            return ExposureRegion(
                family: family, interface: interface ?? standInInterface, interfaceExists: interfaceExists, destination: destination,
                destinationPort: destinationPort ?? port, sources: shown, omittedSources: omitted, sourceCount: sourceCount,
                verdict: verdict, path: steps, reasons: reasons, limits: limits, sourceSet: exact)
        }
    }

    /// A region written inline; its `sourceSet` and `pathIndex`, if any, refer to the tables of the report read.
    public init(from decoder: any Decoder) throws {
        let cell = try Cell(from: decoder)
        let tables = decoder.userInfo[.exposureTables] as? ExposureReadTables
        guard cell.destinationPort != nil, let r = cell.resolve(sets: tables?.sets ?? [], paths: tables?.paths ?? []) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a region without destinationPort, sources or path, or with a reference not in the report"))
        }
        self = r
    }
}

extension KeyedDecodingContainer where K == ExposureKeys {
    /// `regions`: cell indices into the report's `regions` table (schema 3), or regions inline (schema 2).
    func regions(own port: UInt16, _ decoder: any Decoder) throws -> [ExposureRegion] {
        guard let cells = (decoder.userInfo[.exposureTables] as? ExposureReadTables)?.cells, let ids: [Int] = try? get("regions") else {
            return try get("regions")
        }
        return try ids.map { i in
            guard cells.indices.contains(i) else {
                throw DecodingError.dataCorruptedError(
                    forKey: ExposureKeys("regions"), in: self, debugDescription: "regions[\(i)] is not in this report")
            }
            var r = cells[i].region
            if cells[i].port == nil { r.destinationPort = port }
            return r
        }
    }
}

private extension KeyedEncodingContainer where K == ExposureKeys {
    /// `regions` as cell indices of the document's tables, or inline without them.
    mutating func putRegions(_ regions: [ExposureRegion], own port: UInt16, tables: ExposureTables?) throws {
        guard let tables else { return try put(regions, "regions") }
        let ids = try regions.map { r in
            guard let i = tables.cell(r, own: port) else {
                throw EncodingError.invalidValue(r, .init(codingPath: codingPath, debugDescription: "a region not in the document's tables"))
            }
            return i
        }
        try put(ids, "regions")
    }
}

/// A cell of the document's `regions` table.
struct RegionCellOut: Encodable {
    let region: ExposureRegion
    let port: UInt16?
    let tables: ExposureTables
    func encode(to encoder: any Encoder) throws { try region.encode(to: encoder, tables: tables, port: port) }
}

extension ForwardedPort: Codable, SetReferencingEncodable {
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
        var c = encoder.container(keyedBy: ExposureKeys.self)
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
        try c.putRegions(regions, own: port, tables: sets)
        try c.put(sources, "sources")
        try c.put(summary, "summary")
        try c.put(target, "target")
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ExposureKeys.self)
        let port: UInt16 = try c.get("port")
        self.init(
            proto: try c.get("proto"), family: try c.get("family"), port: port, target: try c.get("target"),
            destinations: try c.get("destinations"), interfaces: try c.interfaceList("interfaces"), sources: try c.get("sources"),
            reasons: try c.get("reasons"), regions: try c.regions(own: port, decoder), namespace: try c.getIfPresent("namespace"),
            listener: try c.getIfPresent("listener"), summary: try c.get("summary"))
        namespaceNames = try c.getIfPresent("namespaceNames") ?? []
        limits = try c.getIfPresent("limits")
    }
}

extension AcceptedRanges: Codable, SetReferencingEncodable {
    enum CodingKeys: String, CodingKey { case family, interface, interfaceExists, allRoutable, count, ranges, omitted, otherInterfaces, set }

    /// The stand-in for every interface the host does not name has no `interface` and `otherInterfaces: true`.
    public func encode(to encoder: any Encoder) throws { try encode(to: encoder, sets: nil) }

    /// With the document's set table, a set of more than `maxEncoded` ranges is `set` (an index into `addressSets`)
    /// instead of a cut `ranges` list.
    func encode(to encoder: any Encoder, sets: ExposureTables?) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let other = InterfaceScope.isStandIn(interface)
        try c.encode(family, forKey: .family)
        if !other { try c.encode(interface, forKey: .interface) }
        try c.encode(other, forKey: .otherInterfaces)
        try c.encode(interfaceExists, forKey: .interfaceExists)
        try c.encode(allRoutable, forKey: .allRoutable)
        try c.encode(Double(set.count), forKey: .count)
        if let shared = sets.flatMap({ t in ExposureSetTable.referenced(self).flatMap(t.sets.index(of:)) }) {
            try c.encode(shared, forKey: .set)
            try c.encode(0, forKey: .omitted)
            return
        }
        let shown = Array(set.ranges.prefix(AcceptedRanges.maxEncoded))
        try c.encode(shown.map { AddressSet.describe($0, family) }, forKey: .ranges)
        try c.encode(set.ranges.count - shown.count, forKey: .omitted)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let family = try c.decode(IPFamily.self, forKey: .family)
        let set: AddressSet
        if let index = try c.decodeIfPresent(Int.self, forKey: .set) {
            set = try decoder.referencedSet(index, family: family)
        } else {
            var out: [ClosedRange<UInt128>] = []
            for text in try c.decodeIfPresent([String].self, forKey: .ranges) ?? [] {
                guard let r = AddressSet.parseRange(text, family) else {
                    throw DecodingError.dataCorruptedError(forKey: .ranges, in: c, debugDescription: "bad address range '\(text)'")
                }
                out.append(r)
            }
            set = AddressSet(family: family, ranges: out)
        }
        self.init(
            family: family, interface: try c.decodeIfPresent(String.self, forKey: .interface) ?? standInInterface,
            interfaceExists: try c.decodeIfPresent(Bool.self, forKey: .interfaceExists) ?? true, set: set,
            allRoutable: try c.decodeIfPresent(Bool.self, forKey: .allRoutable) ?? false)
    }
}
