import Evaluator
import HostModel

// The reader of `portwarden trace --probes` lines. It lives in this library (not in the command) so the fuzz
// targets and their corpus replay tests (Fuzz/, Tests/FuzzTests) call the very parser the command uses.

/// A malformed probe line, and the 1-based column (in bytes) where the problem is.
public struct ProbeLineError: Error, Equatable {
    public var message: String
    public var column: Int

    public init(message: String, column: Int) {
        self.message = message
        self.column = column
    }
}

/// A parsed probe line: the probe and where its address and interface values start, so that errors found later
/// (a bad address, an interface the host does not have) point at the right column.
public struct ParsedProbe: Sendable, Equatable {
    public var probe: Probe
    public var srcColumn: Int, dstColumn: Int, iifColumn: Int

    /// The evaluator's complaint about this probe, at the column of the value it is about.
    public func located(_ error: ProbeError) -> ProbeLineError {
        switch error {
        case .badAddress(let field, _): ProbeLineError(message: error.description, column: field == "src" ? srcColumn : dstColumn)
        case .familyMismatch: ProbeLineError(message: error.description, column: dstColumn)
        }
    }
}

/// A fast parser for the flat JSON objects of the probe contract (strings, integers, null).
public enum ProbeLine {
    enum Value { case string(String), number(Int64), null, bool(Bool) }

    /// The known keys; any other key is parsed and ignored.
    enum Field: String { case proto, src, dst, sport, dport, iif }

    /// The six known fields and the columns their values start at, without a dictionary.
    struct Fields {
        typealias Entry = (value: Value, column: Int)
        var proto: Entry?, src: Entry?, dst: Entry?, sport: Entry?, dport: Entry?, iif: Entry?
        subscript(_ k: Field) -> Entry? {
            get {
                switch k {
                case .proto: proto
                case .src: src
                case .dst: dst
                case .sport: sport
                case .dport: dport
                case .iif: iif
                }
            }
            set {
                switch k {
                case .proto: proto = newValue
                case .src: src = newValue
                case .dst: dst = newValue
                case .sport: sport = newValue
                case .dport: dport = newValue
                case .iif: iif = newValue
                }
            }
        }
    }

    /// The field a decoded key names, compared as bytes so keys cost no String. (No other UTF-8 text is canonically
    /// equivalent to these lowercase ASCII names, so this matches what comparing Strings did.)
    static func field(_ k: UnsafeBufferPointer<UInt8>) -> Field? {
        @inline(__always) func eq(_ name: StaticString) -> Bool {
            name.withUTF8Buffer { n in n.count == k.count && n.elementsEqual(k) }
        }
        switch k.count {
        case 3: return eq("src") ? .src : eq("dst") ? .dst : eq("iif") ? .iif : nil
        case 5: return eq("proto") ? .proto : eq("dport") ? .dport : eq("sport") ? .sport : nil
        default: return nil
        }
    }

    /// Parses one line (without its newline); errors carry the 1-based byte column they are about.
    public static func parse(_ b: UnsafeBufferPointer<UInt8>) throws(ProbeLineError) -> ParsedProbe {
        var scanner = ProbeScanner(b: b)
        let fields = try scanner.object()
        // A missing field is reported at the column of the object's first byte.
        let objectColumn = (b.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? 0) + 1
        return try probe(fields, objectColumn: objectColumn)
    }

    /// The probe the fields describe, each error at the column of the value it is about.
    static func probe(_ fields: Fields, objectColumn: Int) throws(ProbeLineError) -> ParsedProbe {
        func str(_ k: Field) throws(ProbeLineError) -> (String, Int) {
            guard let entry = fields[k] else { throw ProbeLineError(message: "missing field '\(k.rawValue)'", column: objectColumn) }
            guard case .string(let s) = entry.value else {
                throw ProbeLineError(message: "field '\(k.rawValue)' must be a string", column: entry.column)
            }
            return (s, entry.column)
        }
        func port(_ k: Field, optional: Bool) throws(ProbeLineError) -> UInt16? {
            guard let entry = fields[k] else {
                if optional { return nil }
                throw ProbeLineError(message: "missing field '\(k.rawValue)'", column: objectColumn)
            }
            switch entry.value {
            case .null:
                if optional { return nil }
                throw ProbeLineError(message: "missing field '\(k.rawValue)'", column: entry.column)
            case .number(let n):
                guard n >= 0, n <= 65535 else {
                    throw ProbeLineError(message: "field '\(k.rawValue)' must be 0-65535, not \(n)", column: entry.column)
                }
                return UInt16(n)
            default: throw ProbeLineError(message: "field '\(k.rawValue)' must be an integer", column: entry.column)
            }
        }
        let (protoText, protoColumn) = try str(.proto)
        guard let proto = L4Proto(rawValue: protoText) else {
            throw ProbeLineError(message: "field 'proto' must be tcp or udp, not '\(protoText)'", column: protoColumn)
        }
        let (iif, iifColumn) = try str(.iif)
        guard !iif.isEmpty else { throw ProbeLineError(message: "field 'iif' must not be empty", column: iifColumn) }
        let (src, srcColumn) = try str(.src)
        let (dst, dstColumn) = try str(.dst)
        let probe = Probe(
            proto: proto, src: src, dst: dst, sport: try port(.sport, optional: true),
            dport: try port(.dport, optional: false) ?? 0, iif: iif)
        return ParsedProbe(probe: probe, srcColumn: srcColumn, dstColumn: dstColumn, iifColumn: iifColumn)
    }
}

/// The JSON object of one probe line, read byte by byte: the known keys with their values and columns.
struct ProbeScanner {
    typealias Value = ProbeLine.Value
    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    func fail(_ message: String, at index: Int) -> ProbeLineError { ProbeLineError(message: message, column: index + 1) }

    mutating func ws() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0d { i += 1 } }

    mutating func expect(_ c: UInt8, _ what: String) throws(ProbeLineError) {
        ws()
        guard i < b.count, b[i] == c else { throw fail("expected \(what)", at: i) }
        i += 1
    }

    /// The object's fields; a repeated known key is an error at the repeat, unknown keys are skipped.
    mutating func object() throws(ProbeLineError) -> ProbeLine.Fields {
        try expect(0x7b, "'{'")
        var fields = ProbeLine.Fields()
        ws()
        if i < b.count, b[i] == 0x7d {
            i += 1
        } else {
            while true {
                ws()
                let keyAt = i
                let k = try string(ProbeLine.field)
                try expect(0x3a, "':'")
                ws()
                let valueColumn = i + 1
                let v = try value()
                if let k {
                    guard fields[k] == nil else { throw fail("duplicate key '\(k.rawValue)'", at: keyAt) }
                    fields[k] = (v, valueColumn)
                }
                ws()
                guard i < b.count else { throw fail("unterminated object", at: i) }
                if b[i] == 0x2c { i += 1; continue }
                if b[i] == 0x7d { i += 1; break }
                throw fail("expected ',' or '}'", at: i)
            }
        }
        ws()
        guard i == b.count else { throw fail("trailing data after the object", at: i) }
        return fields
    }

    /// Reads a string and hands its decoded bytes to `body`: in place when it has no escapes (the usual case),
    /// else through the escape decoder.
    mutating func string<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(ProbeLineError) -> R {
        try expect(0x22, "a string")
        let open = i - 1
        let start = i
        while i < b.count, b[i] != 0x22, b[i] != 0x5c { i += 1 }
        if i < b.count, b[i] == 0x22 {
            i += 1
            return body(UnsafeBufferPointer(rebasing: b[start..<(i - 1)]))
        }
        var out = Array(b[start..<i])
        while i < b.count, b[i] != 0x22 {
            if b[i] == 0x5c {
                i += 1
                guard i < b.count else { break }
                try escape(&out)
            } else {
                out.append(b[i])
            }
            i += 1
        }
        guard i < b.count else { throw fail("unterminated string", at: open) }
        i += 1
        return out.withUnsafeBufferPointer(body)
    }

    /// The escape whose letter is at `i` (after the backslash), appended decoded to `out`.
    mutating func escape(_ out: inout [UInt8]) throws(ProbeLineError) {
        switch b[i] {
        case 0x6e: out.append(0x0a)
        case 0x74: out.append(0x09)
        case 0x72: out.append(0x0d)
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0c)
        case 0x75:
            guard i + 4 < b.count,
                let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)...(i + 4)]), as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(v)
            else { throw fail("bad \\u escape", at: i - 1) }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
            i += 4
        default: out.append(b[i])
        }
    }

    mutating func value() throws(ProbeLineError) -> Value {
        ws()
        guard i < b.count else { throw fail("missing value", at: i) }
        switch b[i] {
        case 0x22: return .string(try string { String(decoding: $0, as: UTF8.self) })
        case 0x6e where i + 4 <= b.count: i += 4; return .null
        case 0x74 where i + 4 <= b.count: i += 4; return .bool(true)
        case 0x66 where i + 5 <= b.count: i += 5; return .bool(false)
        default:
            let start = i
            var neg = false
            if b[i] == 0x2d { neg = true; i += 1 }
            var v: Int64 = 0, digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                v = v &* 10 &+ Int64(b[i] - 0x30); digits += 1; i += 1
                if digits > 12 { throw fail("number too large", at: start) }
            }
            guard digits > 0 else { throw fail("unexpected character", at: i) }
            if i < b.count, b[i] == 0x2e || b[i] == 0x65 || b[i] == 0x45 { throw fail("ports must be integers", at: start) }
            return .number(neg ? -v : v)
        }
    }
}
