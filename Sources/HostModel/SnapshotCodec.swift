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
        return try encoder.encode(snapshot)
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
