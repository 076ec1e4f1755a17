import Foundation

/// Why a snapshot file could not be used. Each case names the field or position a user has to fix.
public enum SnapshotError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case wrongSchema(found: String)
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read snapshot \(path): \(reason)"
        case .wrongSchema(let found):
            "unsupported snapshot schema '\(found)' in field 'schema': this portwarden reads '\(Snapshot.currentSchema)'"
        case .invalid(let field, let reason):
            "invalid snapshot: field '\(field)': \(reason)"
        }
    }
}

/// Reads and writes the snapshot contract (`portwarden-snapshot/1`).
public enum SnapshotCodec {
    public static func encode(_ snapshot: Snapshot, pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard pretty else { return try encoder.encode(snapshot) }
        // Listeners and set elements are most of a large snapshot and the generic encoder spends most of a
        // collection's time on them. They are written by a specialised writer (same bytes, several times faster)
        // and spliced in where the generic encoder wrote empty arrays; everything else goes through the encoder.
        var rest = snapshot
        rest.listeners = []
        var elementLists: [[SetElement]] = []
        for t in rest.firewall.tables.indices {
            for s in rest.firewall.tables[t].sets.indices {
                elementLists.append(rest.firewall.tables[t].sets[s].elements)
                rest.firewall.tables[t].sets[s].elements = []
            }
        }
        let base = [UInt8](try encoder.encode(rest))
        var out: [UInt8] = []
        out.reserveCapacity(base.count + snapshot.listeners.count * 400 + elementLists.reduce(0) { $0 + $1.count * 48 })
        var cursor = 0
        // With sorted keys the sets appear in table order, then set order: the n-th empty "elements" array is the
        // n-th set's (no other type has an "elements" key).
        let elementsKey = Array("\"elements\" : ".utf8)
        for elements in elementLists {
            guard let at = firstIndex(of: elementsKey + Array("[\n\n".utf8), in: base, from: cursor),
                  let (indent, close) = closingBracket(in: base, after: at + elementsKey.count + 3) else {
                return try encoder.encode(snapshot)
            }
            out += base[cursor..<(at + elementsKey.count)]
            var writer = ListenerJSONWriter(capacity: elements.count * 48)
            writer.writeElements(elements, indent: indent)
            out += writer.out
            cursor = close + 1
        }
        let marker = Array("\n  \"listeners\" : [\n\n  ]".utf8)
        guard let at = firstIndex(of: marker, in: base, from: cursor) else { return try encoder.encode(snapshot) }
        var writer = ListenerJSONWriter(capacity: snapshot.listeners.count * 400)
        writer.writeArray(snapshot.listeners, indent: 2)
        out += base[cursor..<at]
        out += Array("\n  \"listeners\" : ".utf8)
        out += writer.out
        out += base[(at + marker.count)...]
        return Data(out)
    }

    /// After an empty pretty-printed array's "[\n\n", the indentation of its "]" and the bracket's index.
    private static func closingBracket(in bytes: [UInt8], after start: Int) -> (Int, Int)? {
        var j = start
        while j < bytes.count, bytes[j] == 32 { j += 1 }
        guard j < bytes.count, bytes[j] == UInt8(ascii: "]") else { return nil }
        return (j - start, j)
    }

    /// The listeners alone, as pretty-printed JSON with sorted keys (what `listeners --format json` prints).
    public static func encodeListeners(_ listeners: [Listener]) -> Data {
        var writer = ListenerJSONWriter(capacity: listeners.count * 400)
        writer.writeArray(listeners, indent: 0)
        return Data(writer.out)
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard needle.count <= haystack.count, let first = needle.first else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Decodes a snapshot. A well-formed current snapshot is read by `SnapshotFastReader` (a 40 MB one about 6x
    /// faster than `JSONDecoder`, with 40% less peak memory); whatever it declines goes to `decodeWithJSONDecoder`,
    /// which gives the same value or the error users have always seen.
    public static func decode(_ data: Data) throws -> Snapshot {
        if let snapshot = SnapshotFastReader.decode(data) { return snapshot }
        return try decodeWithJSONDecoder(data)
    }

    /// The reference decoder and the source of every error message. It checks the schema first so a future version
    /// is reported as such, not as a type error.
    static func decodeWithJSONDecoder(_ data: Data) throws -> Snapshot {
        struct SchemaProbe: Decodable { var schema: String? }
        let probe: SchemaProbe
        do {
            probe = try JSONDecoder().decode(SchemaProbe.self, from: data)
        } catch {
            throw describe(error)
        }
        guard let schema = probe.schema else { throw SnapshotError.invalid(field: "schema", reason: "missing") }
        guard schema == Snapshot.currentSchema else { throw SnapshotError.wrongSchema(found: schema) }
        do {
            return try JSONDecoder().decode(Snapshot.self, from: data)
        } catch {
            throw describe(error)
        }
    }

    public static func load(path: String) throws -> Snapshot {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SnapshotError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try decode(data)
    }

    private static func fieldPath(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
        }
        return out.isEmpty ? "(top level)" : out
    }

    private static func describe(_ error: any Error) -> SnapshotError {
        guard let e = error as? DecodingError else {
            return SnapshotError.invalid(field: "(top level)", reason: "\(error)")
        }
        switch e {
        case .typeMismatch(let type, let ctx):
            return .invalid(field: fieldPath(ctx.codingPath), reason: "expected \(type)")
        case .valueNotFound(let type, let ctx):
            return .invalid(field: fieldPath(ctx.codingPath), reason: "expected \(type), found null")
        case .keyNotFound(let key, let ctx):
            return .invalid(field: fieldPath(ctx.codingPath + [key]), reason: "missing")
        case .dataCorrupted(let ctx):
            let underlying = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let reason = ctx.codingPath.isEmpty ? "not valid JSON (truncated or corrupt)\(underlying.map { ": \($0)" } ?? "")" : ctx.debugDescription
            return .invalid(field: fieldPath(ctx.codingPath), reason: reason)
        @unknown default:
            return .invalid(field: "(top level)", reason: "\(e)")
        }
    }
}
