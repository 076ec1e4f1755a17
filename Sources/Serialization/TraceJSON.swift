import Evaluator
import HostModel

/// The trace-line contract (`trace --format json`, one JSON object per probe; `ProbeLine` reads the probe lines
/// in): writes trace results as JSON lines into a `ByteBuffer`: each append is one capacity check and a copy, with no
/// String interpolation, copy-on-write or uniqueness checks (batch output is ~430 bytes a probe, 100k probes at a
/// time). Noncopyable because the buffer is.
public struct TraceLineWriter: ~Copyable {
    private var buffer: ByteBuffer

    public init(capacity: Int = 4096) { buffer = ByteBuffer(capacity: capacity) }

    /// The bytes written so far; valid until the next write.
    public var bytes: UnsafeBufferPointer<UInt8> { buffer.bytes }
    public var count: Int { buffer.count }

    public mutating func removeAll() { buffer.removeAll() }

    @inline(__always) mutating func byte(_ b: UInt8) { buffer.append(b) }

    @inline(__always) mutating func append(_ p: UnsafeBufferPointer<UInt8>) { buffer.append(contentsOf: p) }

    /// Literal JSON text (keys and punctuation).
    @inline(__always) mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }

    /// An integer in decimal, as `"\(v)"` prints it.
    mutating func int<T: BinaryInteger>(_ v: T) {
        if v < 0 { byte(0x2d) }
        buffer.appendDecimal(UInt64(v.magnitude))
    }

    mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    /// A JSON string: runs of plain bytes are copied whole; `"`, `\\` and control characters are escaped.
    mutating func string(_ s: String) {
        byte(0x22)
        if s.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            Array(s.utf8).withUnsafeBufferPointer { escaped($0) }
        }
        byte(0x22)
    }

    private mutating func escaped(_ b: UnsafeBufferPointer<UInt8>) {
        var run = 0
        for k in 0..<b.count {
            let c = b[k]
            if c >= 0x20 && c != 0x22 && c != 0x5c { continue }
            if k > run { append(UnsafeBufferPointer(rebasing: b[run..<k])) }
            run = k + 1
            switch c {
            case 0x22: raw("\\\"")
            case 0x5c: raw("\\\\")
            case 0x0a: raw("\\n")
            case 0x0d: raw("\\r")
            case 0x09: raw("\\t")
            default:
                let hex: StaticString = "0123456789abcdef"
                raw("\\u00")
                hex.withUTF8Buffer { h in
                    byte(h[Int(c >> 4)])
                    byte(h[Int(c & 0xf)])
                }
            }
        }
        if run < b.count { append(UnsafeBufferPointer(rebasing: b[run..<b.count])) }
    }

    /// One path step; taken from the array in place (a `for` loop would copy each step and its five strings).
    private mutating func step(_ s: PathStep) {
        raw("{\"table\":"); string(s.table)
        raw(",\"family\":"); string(s.family.description)
        raw(",\"chain\":"); string(s.chain)
        raw(",\"hook\":"); string(s.hookText)
        raw(",\"priority\":"); int(s.priority)
        raw(",\"handle\":")
        if let h = s.handle { int(h) } else { raw("null") }
        raw(",\"action\":"); string(s.action.description)
        raw("}")
    }

    /// One result line of `trace --format json` (and of `--probes` batches).
    public mutating func write(probe p: Probe, result r: TraceResult) {
        raw("{\"proto\":"); string(p.proto.rawValue)
        raw(",\"src\":"); string(p.src)
        raw(",\"dst\":"); string(p.dst)
        if let s = p.sport { raw(",\"sport\":"); int(s) }
        raw(",\"dport\":"); int(p.dport)
        raw(",\"iif\":"); string(p.iif)
        raw(",\"verdict\":"); string(r.verdict.rawValue)
        raw(",\"path\":[")
        for i in r.path.indices {
            if i > 0 { raw(",") }
            step(r.path[i])
        }
        raw("],\"listener\":")
        if let l = r.listener {
            raw("{\"proto\":"); string(l.proto.rawValue)
            raw(",\"address\":"); string(l.address)
            raw(",\"port\":"); int(l.port)
            raw(",\"device\":")
            if let d = l.device { string(d) } else { raw("null") }
            raw(",\"processes\":[")
            for i in l.processes.indices {
                if i > 0 { raw(",") }
                raw("{\"pid\":"); int(l.processes[i].pid)
                raw(",\"name\":"); string(l.processes[i].name); raw("}")
            }
            raw("]")
            if let n = l.namespace { raw(",\"namespace\":"); string(n) }
            if let b = l.bind { raw(",\"bind\":"); string(b) }
            raw("}")
        } else {
            raw("null")
        }
        raw(",\"delivered\":"); bool(r.delivered)
        raw(",\"forwarded\":"); bool(r.forwarded)
        if let t = r.translatedTo { raw(",\"translatedTo\":"); string(t) }
        if let d = r.dnat { raw(",\"dnat\":{\"address\":"); string(d.address); raw(",\"port\":"); int(d.port); raw("}") }
        if let limits = r.limits {
            raw(",\"limits\":[")
            for (i, l) in limits.enumerated() { if i > 0 { byte(0x2c) }; string(l) }
            byte(0x5d)
        }
        if !r.reasons.isEmpty {
            raw(",\"reasons\":[")
            for i in r.reasons.indices { if i > 0 { raw(",") }; string(r.reasons[i]) }
            raw("]")
        }
        raw("}\n")
    }
}
