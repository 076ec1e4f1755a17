import Evaluator
import HostModel

/// The large address sets of an exposure document, each written once in its `addressSets` table and referred to by
/// index: a deny list's million ranges and what is left of the address space around it are the same sets under every
/// listener, so the report grows with the distinct sets, not with listeners times regions. Small sets stay inline
/// where they are used. A set that differs from an earlier full entry by a few ranges (the drop region of one port
/// against another's) is written as that entry plus and minus those ranges.
public struct ExposureSetTable: Sendable {
    /// How an entry is written: every range, or an earlier full entry with ranges added and removed.
    public enum Form: Sendable {
        case full
        case delta(base: Int, added: AddressSet, removed: AddressSet)
    }

    /// The sets in the order the document first refers to them; a reference is an index into this list.
    public private(set) var sets: [AddressSet] = []
    public private(set) var forms: [Form] = []
    /// The named nftables set (`family table name`) each entry is exactly, when it is one.
    public private(set) var names: [String?] = []
    private var byIdentity: [SetIdentity: Int] = [:]
    private var byShape: [Shape: [Int]] = [:]
    /// Full entries, newest last: the candidates a new set is compared with.
    private var fullEntries: [Int] = []
    /// Each exposure worker builds its own copy of a large set (a deny list's complement); entries are kept on one
    /// copy's storage, so comparing and subtracting them steps over the slices they share.
    private var stores = StoreInterner()

    /// A delta is written when it lists at most this share of the set's ranges.
    static let deltaShare = 8
    /// How many full entries of the family (the closest in addresses) a new set is compared with.
    static let deltaCandidates = 1

    /// Cheap to compute for a set of any size: candidates for equality without comparing every range.
    private struct Shape: Hashable {
        var family: IPFamily
        var ranges: Int
        var addresses: UInt128
        var first: UInt128
        var last: UInt128

        init(_ s: AddressSet) {
            family = s.family
            ranges = s.rangeCount
            addresses = s.count
            first = s.ranges.first?.lowerBound ?? 0
            last = s.ranges.last?.upperBound ?? 0
        }
    }

    /// The table of every set `listeners` and `forwarded` refer to, in document order (forwarded ports come first
    /// in the sorted keys); `named` gives the named sets the entries are matched against.
    public init(listeners: [ListenerExposure], forwarded: [ForwardedPort], named: [(String, AddressSet)] = []) {
        for f in forwarded { for r in f.regions { if let s = Self.referenced(r) { add(s) } } }
        for x in listeners {
            for a in x.acceptedRanges { if let s = Self.referenced(a) { add(s) } }
            for r in x.regions { if let s = Self.referenced(r) { add(s) } }
        }
        names = sets.map { _ in nil }
        for (name, s) in named where s.rangeCount > 0 {
            if let i = lookup(stores.intern(s)), names[i] == nil { names[i] = name }
        }
    }

    /// A region's sources go to the table when their display is cut and the exact set is known.
    static func referenced(_ r: ExposureRegion) -> AddressSet? {
        guard r.omittedSources > 0, let s = r.sourceSet, s.rangeCount > r.sources.count else { return nil }
        return s
    }

    /// Accepted ranges go to the table when they are more than `AcceptedRanges.maxEncoded` (what schema 2 cut).
    static func referenced(_ a: AcceptedRanges) -> AddressSet? { a.set.rangeCount > AcceptedRanges.maxEncoded ? a.set : nil }

    /// The index of a set the table holds (by storage, then by content).
    public func index(of s: AddressSet) -> Int? { lookup(s) }

    private func lookup(_ s: AddressSet) -> Int? {
        if let i = byIdentity[SetIdentity(s)] { return i }
        return byShape[Shape(s)]?.first { sets[$0] == s }
    }

    @discardableResult
    private mutating func add(_ given: AddressSet) -> Int {
        let id = SetIdentity(given)
        if let i = byIdentity[id] { return i }
        let s = stores.intern(given)
        let shape = Shape(s)
        let i: Int
        if let same = byShape[shape]?.first(where: { sets[$0] == s }) {
            i = same
        } else {
            i = sets.count
            sets.append(s)
            byShape[shape, default: []].append(i)
            if let d = delta(s) {
                forms.append(d)
            } else {
                forms.append(.full)
                fullEntries.append(i)
            }
        }
        byIdentity[id] = i
        byIdentity[SetIdentity(s)] = i
        return i
    }

    /// The smallest difference from a recent full entry of the family, when it is small enough to be worth it.
    private func delta(_ s: AddressSet) -> Form? {
        let limit = s.rangeCount / Self.deltaShare
        var best: Form?
        var bestSize = limit + 1
        // The full entries closest in addresses: near copies of one large set (a deny list, or what it leaves, under
        // different rules) differ in a few ranges, while a deny list and its remainder have as many ranges but few
        // addresses in common; each comparison reads both sets, so only the closest are tried.
        let n = s.count
        func distance(_ i: Int) -> UInt128 { let c = sets[i].count; return c > n ? c - n : n - c }
        let near = fullEntries.filter { self.sets[$0].family == s.family }.sorted { distance($0) < distance($1) }
        for b in near.prefix(Self.deltaCandidates) {
            let base = sets[b]
            // A smaller difference than `limit` needs range counts at most `limit` apart.
            if abs(base.rangeCount - s.rangeCount) > limit { continue }
            let added = s.subtracting(base)
            if added.rangeCount >= bestSize { continue }
            let removed = base.subtracting(s)
            let size = added.rangeCount + removed.rangeCount
            if size < bestSize {
                bestSize = size
                best = .delta(base: b, added: added, removed: removed)
            }
        }
        return best
    }
}

/// The distinct rule paths of an exposure document, each written once in its `paths` table: thousands of listeners
/// under the same rules repeat a handful of paths.
public struct ExposurePathTable: Sendable {
    public private(set) var paths: [[PathStep]] = []
    private var index: [[PathStep]: Int] = [:]
    /// By array storage: regions of one document share their path arrays, and hashing every step's strings for each
    /// of them (three times: table, region keys, writing) was most of the JSON render. The document holds every array
    /// while the table is used, so a storage address stands for one unchanged path.
    private var byStorage: [UInt: Int] = [:]

    public init(listeners: [ListenerExposure], forwarded: [ForwardedPort]) {
        for f in forwarded { for r in f.regions { add(r.path) } }
        for x in listeners { for r in x.regions { add(r.path) } }
    }

    private static func storage(_ p: [PathStep]) -> UInt? {
        p.withUnsafeBufferPointer { $0.baseAddress.map { UInt(bitPattern: $0) } }
    }

    private mutating func add(_ p: [PathStep]) {
        let address = Self.storage(p)
        if let address, byStorage[address] != nil { return }
        let i: Int
        if let known = index[p] {
            i = known
        } else {
            i = paths.count
            index[p] = i
            paths.append(p)
        }
        if let address { byStorage[address] = i }
    }

    /// The index of a path the table holds (every region's path of the document it was built from).
    public func index(of p: [PathStep]) -> Int? {
        if let address = Self.storage(p), let i = byStorage[address] { return i }
        return index[p]
    }
}

/// The distinct regions of an exposure document, each written once in its `regions` table: listeners under the
/// same rules have the same cells (interface, destination, verdict, sources, path) on their own port, so a region
/// whose port is the listener's (or forwarded port's) own is written without `destinationPort` and shared.
public struct ExposureRegionTable: Sendable {
    public private(set) var cells: [ExposureRegion] = []
    /// Per cell, the destination port it is written with; nil for the own port of whatever refers to it.
    public private(set) var ports: [UInt16?] = []
    /// Per listener, per forwarded port of the document: its regions as cell indices.
    public private(set) var listenerCells: [[Int]] = []
    public private(set) var forwardedCells: [[Int]] = []
    private var index: [Key: Int] = [:]

    struct Key: Hashable {
        var family: IPFamily
        var interface: String
        var exists: Bool
        var destination: String
        var port: UInt16?
        var verdict: PacketVerdict
        var path: Int?
        var set: Int?
        var sources: [String]
        var omitted: Int
        var count: Double
        var reasons: [String]
        var limits: [String]?
    }

    init(listeners: [ListenerExposure], forwarded: [ForwardedPort], sets: ExposureSetTable, paths: ExposurePathTable) {
        forwardedCells = forwarded.map { f in f.regions.map { add($0, own: f.port, sets, paths) } }
        listenerCells = listeners.map { x in x.regions.map { add($0, own: x.listener.port, sets, paths) } }
    }

    static func key(_ r: ExposureRegion, own: UInt16, _ sets: ExposureSetTable, _ paths: ExposurePathTable) -> Key {
        let set = ExposureSetTable.referenced(r).flatMap(sets.index(of:))
        return Key(
            family: r.family, interface: r.interface, exists: r.interfaceExists, destination: r.destination,
            port: r.destinationPort == own ? nil : r.destinationPort, verdict: r.verdict, path: paths.index(of: r.path), set: set,
            sources: set == nil ? r.sources : [], omitted: set == nil ? r.omittedSources : 0, count: r.sourceCount,
            reasons: r.reasons, limits: r.limits)
    }

    private mutating func add(_ r: ExposureRegion, own: UInt16, _ sets: ExposureSetTable, _ paths: ExposurePathTable) -> Int {
        let k = Self.key(r, own: own, sets, paths)
        if let i = index[k] { return i }
        index[k] = cells.count
        cells.append(r)
        ports.append(k.port)
        return cells.count - 1
    }

    /// The cell of a region of the document, on a listener or forwarded port whose own port is `own`.
    func index(of r: ExposureRegion, own: UInt16, _ sets: ExposureSetTable, _ paths: ExposurePathTable) -> Int? {
        index[Self.key(r, own: own, sets, paths)]
    }
}

/// The tables of a document.
public struct ExposureTables: Sendable {
    public let sets: ExposureSetTable
    public let paths: ExposurePathTable
    public let regions: ExposureRegionTable

    public init(listeners: [ListenerExposure], forwarded: [ForwardedPort], named: [(String, AddressSet)] = []) {
        sets = ExposureSetTable(listeners: listeners, forwarded: forwarded, named: named)
        paths = ExposurePathTable(listeners: listeners, forwarded: forwarded)
        regions = ExposureRegionTable(listeners: listeners, forwarded: forwarded, sets: sets, paths: paths)
    }

    /// The cell index of a region of the document (see `ExposureRegionTable`).
    func cell(_ r: ExposureRegion, own: UInt16) -> Int? { regions.index(of: r, own: own, sets, paths) }
}

/// One entry of the `addressSets` table: a family, its number of addresses, and either every range (`a`, `a/len` or
/// `a-b`) or `base`, an earlier entry listed in full, with `added` ranges and without `removed` ones; `nftSet` names
/// the named nftables set the entry equals, when it equals one.
public struct ExposureSetEntry: Codable, Sendable {
    public var family: IPFamily
    public var count: Double
    public var ranges: [String]?
    public var base: Int?
    public var added: [String]?
    public var removed: [String]?
    public var nftSet: String?
}

extension ExposureSetTable {
    /// The entries as `JSONEncoder` writes them (the streaming writer writes the same without building them).
    var entries: [ExposureSetEntry] {
        sets.indices.map { i in
            let s = sets[i]
            var e = ExposureSetEntry(family: s.family, count: Double(s.count), nftSet: names[i])
            switch forms[i] {
            case .full: e.ranges = s.descriptionsList
            case .delta(let base, let added, let removed):
                e.base = base
                e.added = added.descriptionsList
                e.removed = removed.descriptionsList
            }
            return e
        }
    }
}

extension AddressSet {
    /// Every range as text, none summarized.
    var descriptionsList: [String] { ranges.map { AddressSet.describe($0, family) } }
}

/// Why a report's tables cannot be read.
public enum ExposureReportError: Error, Equatable, CustomStringConvertible {
    case unsupportedSchema(String)
    case badRange(entry: Int, text: String)
    case badBase(entry: Int)
    case badRegion(entry: Int)

    public var description: String {
        switch self {
        case .unsupportedSchema(let s): "unsupported exposure report schema '\(s)' (this version reads portwarden-exposure/2 and /3)"
        case .badRange(let entry, let text): "addressSets[\(entry)]: bad address range '\(text)'"
        case .badBase(let entry): "addressSets[\(entry)]: neither ranges nor an earlier full entry of its family as base"
        case .badRegion(let entry): "regions[\(entry)]: its sourceSet or pathIndex is not in the report, or it has neither sources nor sourceSet"
        }
    }
}

/// The tables of the report being read, which its listeners, regions and accepted ranges refer to.
struct ExposureReadTables: Sendable {
    var sets: [AddressSet]
    var paths: [[PathStep]]
    /// The `regions` cells, with the port they were written with (nil: the referring listener's own port).
    var cells: [(region: ExposureRegion, port: UInt16?)]
}

extension ExposureDocument {
    /// A report's schema and tables: read first, so the listeners that refer to them can be read with
    /// `userInfo(for:)` on the decoder.
    public struct Head: Decodable, Sendable {
        public var schema: String
        public var addressSets: [ExposureSetEntry]?
        public var paths: [[PathStep]]?
        public var regions: [ExposureRegion.Cell]?
    }

    /// Schemas whose listeners, regions and accepted ranges `ListenerExposure` and `ForwardedPort` decode.
    public static let readableSchemas = ["portwarden-exposure/2", currentSchema]

    /// The decoder `userInfo` that resolves the references of a report with this head (schema 2 has none).
    public static func userInfo(for head: Head) throws(ExposureReportError) -> [CodingUserInfoKey: any Sendable] {
        guard readableSchemas.contains(head.schema) else { throw .unsupportedSchema(head.schema) }
        var sets: [AddressSet] = []
        var full = Set<Int>()
        func parse(_ texts: [String], _ family: IPFamily, _ i: Int) throws(ExposureReportError) -> AddressSet {
            var ranges: [ClosedRange<UInt128>] = []
            ranges.reserveCapacity(texts.count)
            for text in texts {
                guard let r = AddressSet.parseRange(text, family) else { throw .badRange(entry: i, text: text) }
                ranges.append(r)
            }
            return AddressSet(family: family, ranges: ranges)
        }
        for (i, e) in (head.addressSets ?? []).enumerated() {
            if let ranges = e.ranges {
                sets.append(try parse(ranges, e.family, i))
                full.insert(i)
                continue
            }
            guard let b = e.base, full.contains(b), sets[b].family == e.family else { throw .badBase(entry: i) }
            let removed = try parse(e.removed ?? [], e.family, i)
            let added = try parse(e.added ?? [], e.family, i)
            sets.append(sets[b].subtracting(removed).union(added))
        }
        let paths = head.paths ?? []
        var cells: [(region: ExposureRegion, port: UInt16?)] = []
        for (i, c) in (head.regions ?? []).enumerated() {
            guard let r = c.resolve(sets: sets, paths: paths) else { throw .badRegion(entry: i) }
            cells.append((r, c.destinationPort))
        }
        return [.exposureTables: ExposureReadTables(sets: sets, paths: paths, cells: cells)]
    }
}

extension CodingUserInfoKey {
    /// The tables of the report being read (`ExposureReadTables`), for references inside it.
    static let exposureTables = CodingUserInfoKey(rawValue: "portwarden.exposureTables")!
}
