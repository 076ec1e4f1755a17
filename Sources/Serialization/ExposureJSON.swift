import Evaluator
import HostModel

/// What `portwarden exposure --format json` prints.
public struct ExposureDocument: Encodable, Sendable {
    /// 3: distinct regions, rule paths and address sets too long to list inline are written once, in `regions`,
    /// `paths` and `addressSets`, and referred to by index (listeners' `regions`, `pathIndex`, `sourceSet`, `set`);
    /// sets are exact instead of cut per listener (2 cut them at 64 and 256 ranges). 2: interface lists name real
    /// interfaces only, with `otherInterfaces` (1 had `(any other)`).
    public var schema = ExposureDocument.currentSchema
    public var host: HostInfo
    public var caveats: [String]
    public var listeners: [ListenerExposure]
    /// Host ports that DNAT sends to another machine (the forward path is not evaluated).
    public var forwarded: [ForwardedPort]
    /// Named nftables sets (`family table name`) and their addresses: an `addressSets` entry equal to one is named.
    public var namedSets: [(String, AddressSet)]

    public static let currentSchema = "portwarden-exposure/3"

    public init(
        host: HostInfo, caveats: [String], listeners: [ListenerExposure], forwarded: [ForwardedPort],
        namedSets: [(String, AddressSet)] = []
    ) {
        self.host = host
        self.caveats = caveats
        self.listeners = listeners
        self.forwarded = forwarded
        self.namedSets = namedSets
    }

    enum CodingKeys: String, CodingKey { case addressSets, schema, host, caveats, listeners, forwarded, paths, regions }

    /// The same members as `writeJSON`, for `JSONEncoder` (the writer's reference in tests).
    public func encode(to encoder: any Encoder) throws {
        let table = ExposureTables(listeners: listeners, forwarded: forwarded, named: namedSets)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(table.sets.entries, forKey: .addressSets)
        try c.encode(caveats, forKey: .caveats)
        try c.encode(forwarded.map { WithSets($0, table) }, forKey: .forwarded)
        try c.encode(host, forKey: .host)
        try c.encode(listeners.map { WithSets($0, table) }, forKey: .listeners)
        try c.encode(table.paths.paths, forKey: .paths)
        let cells = table.regions
        try c.encode(cells.cells.indices.map { RegionCellOut(region: cells.cells[$0], port: cells.ports[$0], tables: table) }, forKey: .regions)
        try c.encode(schema, forKey: .schema)
    }

    /// Streams the document in chunks of about `chunkSize` bytes, byte for byte what `JSONEncoder` writes with
    /// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`: a large host's report is hundreds of megabytes, which
    /// the encoder's tree held several times over.
    public func writeJSON<E: Error>(
        terminator: [UInt8] = [], chunkSize: Int = 64 * 1024,
        to sink: (UnsafeBufferPointer<UInt8>) throws(E) -> Void
    ) throws(E) {
        let table = ExposureTables(listeners: listeners, forwarded: forwarded, named: namedSets)
        try SnapshotJSONWriter.stream(chunkSize: chunkSize, terminator: terminator, to: sink) { w in
            var o = w.openObject(0)
            w.key(&o, "addressSets"); w.write(table.sets, indent: 2)
            w.key(&o, "caveats"); w.strings(caveats, indent: 2)
            w.key(&o, "forwarded")
            w.drainingArray(Array(forwarded.indices), indent: 2) {
                $0.write(forwarded[$1], table, cells: table.regions.forwardedCells[$1], indent: $2)
            }
            w.key(&o, "host"); w.write(host, indent: 2)
            w.key(&o, "listeners")
            w.drainingArray(Array(listeners.indices), indent: 2) {
                $0.write(listeners[$1], table, cells: table.regions.listenerCells[$1], indent: $2)
            }
            w.key(&o, "paths"); w.array(table.paths.paths, indent: 2) { w, p, i in w.array(p, indent: i) { $0.write($1, indent: $2) } }
            let cells = table.regions
            w.key(&o, "regions")
            w.drainingArray(Array(cells.cells.indices), indent: 2) { $0.write(cells.cells[$1], port: cells.ports[$1], table, indent: $2) }
            w.key(&o, "schema"); w.string(schema)
            w.closeObject(o)
        }
    }
}

/// The exposure results, member by member in sorted-key order (UTF-8 byte order), optionals left out when nil, as
/// the synthesized `Codable` conformances and `AcceptedRanges.encode(to:)` write them. `ExposureJSONTests` compares
/// the bytes with `JSONEncoder`.
extension SnapshotJSONWriter {
    mutating func write(_ table: ExposureSetTable, indent: Int) {
        var a = openArray(indent)
        for i in table.sets.indices {
            let set = table.sets[i]
            item(&a)
            var o = openObject(indent + 2)
            if case .delta(_, let added, _) = table.forms[i] { key(&o, "added"); ranges(added, indent: indent + 4) }
            if case .delta(let base, _, _) = table.forms[i] { key(&o, "base"); number(UInt64(base)) }
            key(&o, "count"); double(Double(set.count))
            key(&o, "family"); string(set.family.rawValue)
            if let name = table.names[i] { key(&o, "nftSet"); string(name) }
            if case .full = table.forms[i] { key(&o, "ranges"); ranges(set, indent: indent + 4) }
            if case .delta(_, _, let removed) = table.forms[i] { key(&o, "removed"); ranges(removed, indent: indent + 4) }
            closeObject(o)
        }
        closeArray(a)
    }

    /// Every range of `set`, handing the buffer over as it fills (a table entry can be a million ranges).
    mutating func ranges(_ set: AddressSet, indent: Int) {
        var r = openArray(indent)
        for range in set.ranges {
            item(&r)
            string(AddressSet.describe(range, set.family))
            drainIfFull()
        }
        closeArray(r)
    }

    mutating func write(_ x: ListenerExposure, _ table: ExposureTables, cells: [Int], indent: Int) {
        var o = openObject(indent)
        key(&o, "acceptedRanges"); array(x.acceptedRanges, indent: indent + 2) { $0.write($1, table, indent: $2) }
        key(&o, "acceptedSources"); strings(x.acceptedSources, indent: indent + 2)
        let interfaces = InterfaceScope.split(x.interfaces)
        key(&o, "interfaces"); strings(interfaces.named, indent: indent + 2)
        if let l = x.limits { key(&o, "limits"); strings(l, indent: indent + 2) }
        key(&o, "listener"); write(x.listener, indent: indent + 2)
        key(&o, "otherInterfaces"); bool(interfaces.others)
        key(&o, "reasons"); strings(x.reasons, indent: indent + 2)
        key(&o, "regions"); array(cells, indent: indent + 2) { w, i, _ in w.number(UInt64(i)) }
        key(&o, "summary"); string(x.summary.rawValue)
        key(&o, "viaPorts"); array(x.viaPorts, indent: indent + 2) { w, port, _ in w.number(port) }
        closeObject(o)
    }

    mutating func write(_ a: AcceptedRanges, _ table: ExposureTables, indent: Int) {
        var o = openObject(indent)
        key(&o, "allRoutable"); bool(a.allRoutable)
        key(&o, "count"); double(Double(a.set.count))
        key(&o, "family"); string(a.family.rawValue)
        let other = InterfaceScope.isStandIn(a.interface)
        if !other { key(&o, "interface"); string(a.interface) }
        key(&o, "interfaceExists"); bool(a.interfaceExists)
        let shared = ExposureSetTable.referenced(a).flatMap(table.sets.index(of:))
        let shown = shared == nil ? Array(a.set.ranges.prefix(AcceptedRanges.maxEncoded)) : []
        key(&o, "omitted"); number(UInt64(shared == nil ? a.set.ranges.count - shown.count : 0))
        key(&o, "otherInterfaces"); bool(other)
        if shared == nil { key(&o, "ranges"); strings(shown.map { AddressSet.describe($0, a.family) }, indent: indent + 2) }
        if let shared { key(&o, "set"); number(UInt64(shared)) }
        closeObject(o)
    }

    /// A cell of the `regions` table: `port` nil for the referring listener's (or forwarded port's) own port.
    mutating func write(_ r: ExposureRegion, port: UInt16?, _ table: ExposureTables, indent: Int) {
        var o = openObject(indent)
        let shared = ExposureSetTable.referenced(r).flatMap(table.sets.index(of:))
        key(&o, "destination"); string(r.destination)
        if let port { key(&o, "destinationPort"); number(port) }
        key(&o, "family"); string(r.family.rawValue)
        let other = InterfaceScope.isStandIn(r.interface)
        if !other { key(&o, "interface"); string(r.interface) }
        key(&o, "interfaceExists"); bool(r.interfaceExists)
        if let l = r.limits { key(&o, "limits"); strings(l, indent: indent + 2) }
        key(&o, "omittedSources"); signed(Int64(shared == nil ? r.omittedSources : 0))
        key(&o, "otherInterfaces"); bool(other)
        if let p = table.paths.index(of: r.path) {
            key(&o, "pathIndex"); number(UInt64(p))
        } else {
            key(&o, "path"); array(r.path, indent: indent + 2) { $0.write($1, indent: $2) }
        }
        key(&o, "reasons"); strings(r.reasons, indent: indent + 2)
        key(&o, "sourceCount"); double(r.sourceCount)
        if let shared { key(&o, "sourceSet"); number(UInt64(shared)) }
        if shared == nil { key(&o, "sources"); strings(r.sources, indent: indent + 2) }
        key(&o, "verdict"); string(r.verdict.rawValue)
        closeObject(o)
    }

    mutating func write(_ s: PathStep, indent: Int) {
        var o = openObject(indent)
        key(&o, "action"); string(s.action.description)
        key(&o, "chain"); string(s.chain)
        key(&o, "family"); string(s.family.description)
        if let h = s.handle { key(&o, "handle"); number(h) }
        key(&o, "hook"); string(s.hookText)
        key(&o, "priority"); signed(Int64(s.priority))
        key(&o, "table"); string(s.table)
        closeObject(o)
    }

    mutating func write(_ f: ForwardedPort, _ table: ExposureTables, cells: [Int], indent: Int) {
        var o = openObject(indent)
        key(&o, "destinations"); strings(f.destinations, indent: indent + 2)
        key(&o, "family"); string(f.family.rawValue)
        let interfaces = InterfaceScope.split(f.interfaces)
        key(&o, "interfaces"); strings(interfaces.named, indent: indent + 2)
        if let l = f.limits { key(&o, "limits"); strings(l, indent: indent + 2) }
        if let l = f.listener { key(&o, "listener"); write(l, indent: indent + 2) }
        if let n = f.namespace { key(&o, "namespace"); string(n) }
        key(&o, "namespaceNames"); strings(f.namespaceNames, indent: indent + 2)
        key(&o, "otherInterfaces"); bool(interfaces.others)
        key(&o, "port"); number(f.port)
        key(&o, "proto"); string(f.proto.rawValue)
        key(&o, "reasons"); strings(f.reasons, indent: indent + 2)
        key(&o, "regions"); array(cells, indent: indent + 2) { w, i, _ in w.number(UInt64(i)) }
        key(&o, "sources"); strings(f.sources, indent: indent + 2)
        key(&o, "summary"); string(f.summary.rawValue)
        key(&o, "target"); string(f.target)
        closeObject(o)
    }

    mutating func write(_ l: ListenerRef, indent: Int) {
        var o = openObject(indent)
        key(&o, "address"); string(l.address)
        if let b = l.bind { key(&o, "bind"); string(b) }
        if let d = l.device { key(&o, "device"); string(d) }
        if let n = l.namespace { key(&o, "namespace"); string(n) }
        key(&o, "port"); number(l.port)
        key(&o, "processes"); array(l.processes, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "proto"); string(l.proto.rawValue)
        closeObject(o)
    }
}
