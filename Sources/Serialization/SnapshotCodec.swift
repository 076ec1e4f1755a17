import Foundation
import HostModel

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
            "unsupported snapshot schema '\(found)' in field 'schema': this portwarden reads \(Snapshot.readableSchemas.sorted().map { "'\($0)'" }.joined(separator: " and "))"
        case .invalid(let field, let reason):
            "invalid snapshot: field '\(field)': \(reason)"
        }
    }
}

/// Reads and writes the snapshot contract (`portwarden-snapshot/2`; `/1` is still read).
public enum SnapshotCodec {
    /// The snapshot as JSON. The pretty form (the file format) is written by `SnapshotJSONWriter`: the bytes
    /// `JSONEncoder` gives with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`, several times faster; the
    /// compact form goes through `JSONEncoder`.
    public static func encode(_ snapshot: Snapshot, pretty: Bool = true) throws -> Data {
        guard pretty else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(snapshot)
        }
        var writer = SnapshotJSONWriter(capacity: estimatedSize(snapshot))
        writer.write(snapshot)
        return Data(buffer: writer.out.bytes)
    }

    /// Writes the pretty snapshot (the bytes `encode` returns, then `terminator`) to `sink` in chunks of about
    /// `chunkSize` bytes, so a large snapshot never exists in memory as a whole. `sink` is called until it throws;
    /// the first error ends the writing and is rethrown.
    public static func write<E: Error>(
        _ snapshot: Snapshot, terminator: [UInt8] = [], chunkSize: Int = 64 * 1024,
        to sink: (UnsafeBufferPointer<UInt8>) throws(E) -> Void
    ) throws(E) {
        try SnapshotJSONWriter.stream(chunkSize: chunkSize, terminator: terminator, to: sink) { $0.write(snapshot) }
    }

    /// A capacity guess for the whole pretty snapshot (listeners ~400 bytes each, set elements ~90, rules ~1,200), so
    /// the buffer rarely grows by copying.
    private static func estimatedSize(_ s: Snapshot) -> Int {
        var n = 16 * 1024 + s.listeners.count * 400 + s.routes.routes.count * 300
        for t in s.firewall.tables {
            for c in t.chains { n += c.rules.count * 1_200 }
            for set in t.sets { n += set.elements.count * 90 }
        }
        return n
    }

    /// The listeners alone, as pretty-printed JSON with sorted keys (what `listeners --format json` prints).
    public static func encodeListeners(_ listeners: [Listener]) -> Data {
        var writer = SnapshotJSONWriter(capacity: listeners.count * 400)
        writer.array(listeners, indent: 0) { $0.write($1, indent: $2) }
        return Data(buffer: writer.out.bytes)
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
    package static func decodeWithJSONDecoder(_ data: Data) throws -> Snapshot {
        struct SchemaProbe: Decodable { var schema: String? }
        let probe: SchemaProbe
        do {
            probe = try JSONDecoder().decode(SchemaProbe.self, from: data)
        } catch {
            throw describe(error)
        }
        guard let schema = probe.schema else { throw SnapshotError.invalid(field: "schema", reason: "missing") }
        guard Snapshot.readableSchemas.contains(schema) else { throw SnapshotError.wrongSchema(found: schema) }
        do {
            return try JSONDecoder().decode(Snapshot.self, from: data)
        } catch {
            throw describe(error)
        }
    }

    /// Snapshots larger than this are refused before reading (the largest benchmark snapshot is about 300 MB).
    public static let maxFileBytes = 4 << 30

    /// Reads a snapshot file; a FIFO, device or directory, or a file over `maxFileBytes`, is refused by name.
    /// The snapshot in the file at `path`, or on standard input when `path` is `-`.
    public static func load(path: String) throws -> Snapshot {
        let data: Data
        do {
            data = path == "-" ? try BoundedFile.readStandardInput(limit: maxFileBytes) : try BoundedFile.read(path, limit: maxFileBytes)
        } catch {
            throw SnapshotError.unreadable(path: path == "-" ? "standard input" : path, reason: error.description)
        }
        return try decode(data)
    }

    /// A decoding path as a user writes it (`listeners[3].port`; `(top level)` when empty), for one-line errors.
    public static func fieldPath(_ path: [any CodingKey]) -> String {
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
