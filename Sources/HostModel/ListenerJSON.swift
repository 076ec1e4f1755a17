/// A hand-written JSON writer for listeners that produces exactly the bytes `JSONEncoder` writes with
/// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`, several times faster.
///
/// Listeners are most of a large snapshot (one holder process is repeated in each of its sockets), and the
/// generic encoder spends most of a collection's time on them. Each distinct process is rendered once and reused.
/// `SnapshotCodecTests` compares the output byte for byte with `JSONEncoder`.
struct ListenerJSONWriter {
    private(set) var out: [UInt8] = []
    private var processCache: [ProcessInfo: [UInt8]] = [:]

    init(capacity: Int = 0) { out.reserveCapacity(capacity) }

    /// Writes `listeners` as a pretty-printed array whose items are indented by `indent + 2` spaces; the opening
    /// bracket is written at the current position and the closing one after `indent` spaces.
    mutating func writeArray(_ listeners: [Listener], indent: Int) {
        writeArray(listeners, indent: indent) { $0.write($1, indent: $2) }
    }

    /// Writes set elements as a pretty-printed array, like `writeArray` does for listeners.
    mutating func writeElements(_ elements: [SetElement], indent: Int) {
        writeArray(elements, indent: indent) { $0.write($1, indent: $2) }
    }

    /// The array layout `JSONEncoder` uses when pretty-printing (an empty array is "[", a blank line, "]").
    private mutating func writeArray<T>(_ items: [T], indent: Int, item: (inout Self, T, Int) -> Void) {
        if items.isEmpty {
            out.append(contentsOf: "[\n\n".utf8)
            spaces(indent)
            out.append(UInt8(ascii: "]"))
            return
        }
        out.append(contentsOf: "[\n".utf8)
        for (i, value) in items.enumerated() {
            spaces(indent + 2)
            item(&self, value, indent + 2)
            if i < items.count - 1 { out.append(UInt8(ascii: ",")) }
            out.append(10)
        }
        spaces(indent)
        out.append(UInt8(ascii: "]"))
    }

    private mutating func write(_ l: Listener, indent: Int) {
        out.append(contentsOf: "{\n".utf8)
        let inner = indent + 2
        key("address", inner); string(l.address); comma()
        key("cookie", inner); number(l.cookie); comma()
        if let d = l.device { key("device", inner); string(d); comma() }
        key("deviceIndex", inner); number(UInt64(l.deviceIndex)); comma()
        key("family", inner); string(l.family.rawValue); comma()
        key("inode", inner); number(l.inode); comma()
        key("owner", inner); string(l.owner.rawValue); comma()
        key("port", inner); number(UInt64(l.port)); comma()
        key("processes", inner)
        if l.processes.isEmpty {
            out.append(contentsOf: "[\n\n".utf8); spaces(inner); out.append(UInt8(ascii: "]"))
        } else {
            out.append(contentsOf: "[\n".utf8)
            for (i, p) in l.processes.enumerated() {
                spaces(inner + 2)
                if let cached = processCache[p] {
                    out += cached
                } else {
                    let start = out.count
                    write(p, indent: inner + 2)
                    processCache[p] = Array(out[start...])
                }
                if i < l.processes.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(10)
            }
            spaces(inner); out.append(UInt8(ascii: "]"))
        }
        comma()
        key("proto", inner); string(l.proto.rawValue); comma()
        key("uid", inner); number(UInt64(l.uid)); comma()
        key("v6only", inner); out.append(contentsOf: (l.v6only ? "true" : "false").utf8); out.append(10)
        spaces(indent); out.append(UInt8(ascii: "}"))
    }

    private mutating func write(_ p: ProcessInfo, indent: Int) {
        out.append(contentsOf: "{\n".utf8)
        let inner = indent + 2
        key("cmdline", inner)
        if p.cmdline.isEmpty {
            out.append(contentsOf: "[\n\n".utf8); spaces(inner); out.append(UInt8(ascii: "]"))
        } else {
            out.append(contentsOf: "[\n".utf8)
            for (i, arg) in p.cmdline.enumerated() {
                spaces(inner + 2); string(arg)
                if i < p.cmdline.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(10)
            }
            spaces(inner); out.append(UInt8(ascii: "]"))
        }
        comma()
        if let c = p.container { key("container", inner); string(c); comma() }
        if let e = p.exe { key("exe", inner); string(e); comma() }
        key("name", inner); string(p.name); comma()
        key("pid", inner); signed(Int64(p.pid))
        if let u = p.unit { comma(); key("unit", inner); string(u) }
        out.append(10)
        spaces(indent); out.append(UInt8(ascii: "}"))
    }

    private mutating func write(_ e: SetElement, indent: Int) {
        out.append(contentsOf: "{\n".utf8)
        let inner = indent + 2
        if let d = e.data { key("data", inner); hex(d); comma() }
        key("flags", inner); number(UInt64(e.flags)); comma()
        key("key", inner); hex(e.key)
        if let k = e.keyEnd { comma(); key("keyEnd", inner); hex(k) }
        if let o = e.objref { comma(); key("objref", inner); string(o) }
        if let v = e.verdict {
            comma(); key("verdict", inner)
            out.append(contentsOf: "{\n".utf8)
            switch v {
            case .jump(let c), .goto(let c):
                key("chain", inner + 2); string(c); comma()
            case .other(let code):
                key("code", inner + 2); signed(Int64(code)); comma()
            default:
                break
            }
            key("verdict", inner + 2); string(v.codingName); out.append(10)
            spaces(inner); out.append(UInt8(ascii: "}"))
        }
        out.append(10)
        spaces(indent); out.append(UInt8(ascii: "}"))
    }

    private mutating func spaces(_ n: Int) { for _ in 0..<n { out.append(32) } }
    private mutating func comma() { out.append(UInt8(ascii: ",")); out.append(10) }

    private mutating func key(_ k: String, _ indent: Int) {
        spaces(indent)
        out.append(34); out.append(contentsOf: k.utf8); out.append(contentsOf: "\" : ".utf8)
    }

    /// Decimal digits written straight into the buffer (no String per number).
    private mutating func number(_ v: UInt64) {
        if v < 10 { out.append(48 + UInt8(v)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 { buf[19 - count] = 48 + UInt8(n % 10); n /= 10; count += 1 }
            out.append(contentsOf: buf[(20 - count)...])
        }
    }
    private mutating func signed(_ v: Int64) { out += Array(String(v).utf8) }

    /// `Bytes` as its JSON string: lowercase hex, written without building a String first.
    private mutating func hex(_ b: Bytes) {
        out.append(34)
        for byte in b.bytes {
            out.append(Self.hexDigits[Int(byte >> 4)])
            out.append(Self.hexDigits[Int(byte & 0xf)])
        }
        out.append(34)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// JSON string escaping as Foundation's JSONWriter does it (slashes unescaped).
    mutating func string(_ s: String) {
        out.append(34)
        let hex = Self.hexDigits
        for c in s.utf8 {
            switch c {
            case 34: out.append(92); out.append(34)
            case 92: out.append(92); out.append(92)
            case 10: out.append(92); out.append(UInt8(ascii: "n"))
            case 13: out.append(92); out.append(UInt8(ascii: "r"))
            case 9: out.append(92); out.append(UInt8(ascii: "t"))
            case 8: out.append(92); out.append(UInt8(ascii: "b"))
            case 12: out.append(92); out.append(UInt8(ascii: "f"))
            case 0..<32:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 0xf)])
            default: out.append(c)
            }
        }
        out.append(34)
    }
}
