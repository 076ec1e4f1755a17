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
        guard pretty, !snapshot.listeners.isEmpty else { return try encoder.encode(snapshot) }
        // The listeners are written by a specialised writer (same bytes, much faster) and spliced in where the
        // generic encoder wrote an empty array; everything else goes through the generic encoder.
        var rest = snapshot
        rest.listeners = []
        let base = [UInt8](try encoder.encode(rest))
        let marker = Array("\n  \"listeners\" : [\n\n  ]".utf8)
        guard let at = firstIndex(of: marker, in: base) else { return try encoder.encode(snapshot) }
        var writer = ListenerJSONWriter(capacity: base.count + snapshot.listeners.count * 400)
        writer.writeArray(snapshot.listeners, indent: 2)
        var out = Data(capacity: base.count + writer.out.count)
        out.append(contentsOf: base[..<at])
        out.append(contentsOf: Array("\n  \"listeners\" : ".utf8))
        out.append(contentsOf: writer.out)
        out.append(contentsOf: base[(at + marker.count)...])
        return out
    }

    /// The listeners alone, as pretty-printed JSON with sorted keys (what `listeners --format json` prints).
    public static func encodeListeners(_ listeners: [Listener]) -> Data {
        var writer = ListenerJSONWriter(capacity: listeners.count * 400)
        writer.writeArray(listeners, indent: 0)
        return Data(writer.out)
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count, let first = needle.first else { return nil }
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Decodes a snapshot, checking the schema first so a future version is reported as such, not as a type error.
    public static func decode(_ data: Data) throws -> Snapshot {
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
