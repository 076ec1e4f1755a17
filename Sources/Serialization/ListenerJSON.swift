import HostModel

/// A hand-written JSON writer that produces exactly the bytes `JSONEncoder` writes with
/// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`, several times faster and without an intermediate tree.
///
/// This file holds the layout primitives and the listeners (most of a large snapshot's bytes; one holder process is
/// repeated in each of its sockets, so each distinct process is rendered once and reused). `SnapshotJSON.swift`
/// writes the rest of the snapshot. Keys are written in the order `.sortedKeys` gives: by UTF-8 bytes, so uppercase
/// sorts before lowercase (`sregData` < `sregKey` < `sreg…`) and a prefix before its extensions (`key` < `keyEnd`).
/// `SnapshotCodecTests` compares the output byte for byte with `JSONEncoder`. The primitives are visible to the
/// package: `exposure --format json` writes its document with them (`ExposureJSON.swift`).
package struct SnapshotJSONWriter: ~Copyable {
    private(set) var out: ByteBuffer
    /// Rendered holder processes by pid (checked for equality on use): keyed by `Int32` rather than by the whole
    /// `ProcessInfo`, so a hit hashes one integer and the dictionary's generic metadata needs no new conformance lookup.
    /// The indentation is part of the rendering: a namespace's listeners sit deeper than the host's.
    private var processCache: [Int32: (process: ProcessInfo, indent: Int, json: [UInt8])] = [:]
    /// When set, the buffer is handed to it and emptied whenever it grows past `chunkSize` at an item boundary, so a
    /// large snapshot never exists in memory as a whole.
    private var drain: ((UnsafeBufferPointer<UInt8>) -> Void)?
    private var chunkSize = Int.max

    init(capacity: Int = 0) { out = ByteBuffer(capacity: capacity) }

    /// A writer that streams: `drain` receives the buffer each time it exceeds `chunkSize`.
    init(chunkSize: Int, drain: @escaping (UnsafeBufferPointer<UInt8>) -> Void) {
        self.chunkSize = chunkSize
        self.drain = drain
        out = ByteBuffer(capacity: chunkSize + 16 * 1024)
    }

    /// Runs `body` on a streaming writer, then writes `terminator`: `sink` receives the output in chunks of about
    /// `chunkSize` bytes until it throws; the first error ends the writing and is rethrown.
    package static func stream<E: Error>(
        chunkSize: Int, terminator: [UInt8], to sink: (UnsafeBufferPointer<UInt8>) throws(E) -> Void,
        _ body: (inout SnapshotJSONWriter) -> Void
    ) throws(E) {
        var failure: E?
        withoutActuallyEscaping(sink) { sink in
            var writer = SnapshotJSONWriter(chunkSize: chunkSize) { buffer in
                guard failure == nil else { return }
                do throws(E) {
                    try sink(buffer)
                } catch {
                    failure = error
                }
            }
            body(&writer)
            writer.append(terminator)
            writer.finish()
        }
        if let failure { throw failure }
    }

    /// Hands the buffer over when it is full (called between array items, where any cut is fine).
    @inline(__always) package mutating func drainIfFull() {
        if out.count >= chunkSize, let drain {
            drain(out.bytes)
            out.removeAll()
        }
    }

    mutating func append(_ bytes: [UInt8]) { out.append(contentsOf: bytes) }

    /// Hands over whatever is left.
    mutating func finish() {
        if out.count > 0, let drain {
            drain(out.bytes)
            out.removeAll()
        }
    }

    // MARK: Layout

    /// An object or array being written: its closing indentation and whether anything was written into it yet.
    package struct Scope {
        let indent: Int
        var empty = true
    }

    /// `JSONEncoder`'s layout: "{" then each member on its own line indented by `indent + 2`, separated by ",";
    /// "}" on its own line after `indent` spaces; an empty container is "{", a blank line, "}".
    @inline(__always) package mutating func openObject(_ indent: Int) -> Scope {
        out.append(UInt8(ascii: "{"))
        return Scope(indent: indent)
    }

    @inline(__always) package mutating func closeObject(_ s: Scope) { close(s, UInt8(ascii: "}")) }

    @inline(__always) package mutating func openArray(_ indent: Int) -> Scope {
        out.append(UInt8(ascii: "["))
        return Scope(indent: indent)
    }

    @inline(__always) package mutating func closeArray(_ s: Scope) { close(s, UInt8(ascii: "]")) }

    @inline(__always) private mutating func close(_ s: Scope, _ bracket: UInt8) {
        if s.empty { out.append(10) }
        newline(indent: s.indent)
        out.append(bracket)
    }

    /// Starts an array item: the separator, a new line and the item's indentation.
    @inline(__always) package mutating func item(_ s: inout Scope) { _ = startLine(&s, reserving: 0) }

    /// Starts an object member: like `item`, then `"key" : `, reserved and written in one go (a snapshot has
    /// millions of keys).
    @inline(__always) package mutating func key(_ s: inout Scope, _ k: StaticString) {
        k.withUTF8Buffer { key in
            let p = startLine(&s, reserving: key.count + 5)
            p[0] = 34
            if let k = key.baseAddress { (p + 1).initialize(from: k, count: key.count) }
            p[key.count + 1] = 34; p[key.count + 2] = 32; p[key.count + 3] = 58; p[key.count + 4] = 32
        }
    }

    /// Writes an item's separator, new line and indentation with room for `extra` more bytes (one capacity check),
    /// and returns where those go; the caller must write all of them.
    @inline(__always) private mutating func startLine(_ s: inout Scope, reserving extra: Int) -> UnsafeMutablePointer<UInt8> {
        let comma = s.empty ? 0 : 1
        s.empty = false
        let indent = s.indent + 2
        let p = out.appendUninitialized(comma + 1 + indent + extra)
        if comma == 1 { p[0] = UInt8(ascii: ",") }
        p[comma] = 10
        (p + comma + 1).initialize(repeating: 32, count: indent)
        return p + comma + 1 + indent
    }

    /// A constant string value that needs no escaping (enum names).
    @inline(__always) package mutating func quoted(_ v: StaticString) {
        out.append(34)
        v.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(34)
    }

    /// A member whose key is not a constant (dictionary keys).
    package mutating func key(_ s: inout Scope, dynamic k: String) {
        item(&s)
        string(k)
        out.append(contentsOf: [32, 58, 32])
    }

    /// An array whose items are written by `write` at the item's indentation.
    @inline(__always) package mutating func array<T>(_ items: [T], indent: Int, _ write: (inout Self, T, Int) -> Void) {
        var a = openArray(indent)
        for value in items {
            item(&a)
            write(&self, value, indent + 2)
        }
        closeArray(a)
    }

    /// Like `array`, offering the buffer to `drain` after each item (for the arrays that make a snapshot large).
    @inline(__always) package mutating func drainingArray<T>(_ items: [T], indent: Int, _ write: (inout Self, T, Int) -> Void) {
        var a = openArray(indent)
        for value in items {
            item(&a)
            write(&self, value, indent + 2)
            drainIfFull()
        }
        closeArray(a)
    }

    package mutating func strings(_ items: [String], indent: Int) {
        var a = openArray(indent)
        for s in items { item(&a); string(s) }
        closeArray(a)
    }

    @inline(__always) mutating func newline(indent n: Int) {
        let p = out.appendUninitialized(1 + n)
        p[0] = 10
        (p + 1).initialize(repeating: 32, count: n)
    }

    // MARK: Scalars

    /// Decimal digits written straight into the buffer (no String per number).
    package mutating func number(_ v: UInt64) { out.appendDecimal(v) }

    @inline(__always) package mutating func number<T: UnsignedInteger>(_ v: T) { number(UInt64(v)) }

    package mutating func signed(_ v: Int64) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        number(v.magnitude)
    }

    /// A `Double` as `JSONEncoder` writes it: its `description`, without a trailing `.0` (finite values only).
    package mutating func double(_ v: Double) {
        var text = v.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    @inline(__always) package mutating func bool(_ v: Bool) { out.append(contentsOf: v ? [116, 114, 117, 101] : [102, 97, 108, 115, 101]) }

    /// `Bytes` as its JSON string: lowercase hex, written without building a String first.
    mutating func hex(_ b: Bytes) {
        b.bytes.withUnsafeBufferPointer { bytes in
            Bytes.hexDigits.withUnsafeBufferPointer { digits in
                let p = out.appendUninitialized(2 * bytes.count + 2)
                p[0] = 34
                for (i, byte) in bytes.enumerated() {
                    p[1 + 2 * i] = digits[Int(byte >> 4)]
                    p[2 + 2 * i] = digits[Int(byte & 0xf)]
                }
                p[2 * bytes.count + 1] = 34
            }
        }
    }

    /// JSON string escaping as Foundation's JSONWriter does it (slashes unescaped, DEL and non-ASCII as is).
    package mutating func string(_ s: String) {
        out.append(34)
        var s = s
        s.withUTF8 { utf8 in
            // Runs of plain bytes are copied at once; only quotes, backslashes and control characters are escaped.
            var start = 0
            for (i, c) in utf8.enumerated() where c < 32 || c == 34 || c == 92 {
                if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                start = i + 1
                switch c {
                case 34: out.append(92); out.append(34)
                case 92: out.append(92); out.append(92)
                case 10: out.append(92); out.append(UInt8(ascii: "n"))
                case 13: out.append(92); out.append(UInt8(ascii: "r"))
                case 9: out.append(92); out.append(UInt8(ascii: "t"))
                case 8: out.append(92); out.append(UInt8(ascii: "b"))
                case 12: out.append(92); out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: [92, 117, 48, 48])
                    out.append(Bytes.hexDigits[Int(c >> 4)]); out.append(Bytes.hexDigits[Int(c & 0xf)])
                }
            }
            if start < utf8.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        out.append(34)
    }

    // MARK: Listeners

    package mutating func write(_ l: Listener, indent: Int) {
        var o = openObject(indent)
        key(&o, "address"); string(l.address)
        key(&o, "cookie"); number(l.cookie)
        if let d = l.device { key(&o, "device"); string(d) }
        key(&o, "deviceIndex"); number(l.deviceIndex)
        key(&o, "family"); string(l.family.rawValue)
        key(&o, "inode"); number(l.inode)
        key(&o, "owner"); string(l.owner.rawValue)
        key(&o, "port"); number(l.port)
        key(&o, "processes")
        var a = openArray(indent + 2)
        for p in l.processes {
            item(&a)
            if let cached = processCache[p.pid], cached.indent == indent, cached.process == p {
                out.append(contentsOf: cached.json)
            } else {
                let start = out.count
                write(p, indent: indent + 4)
                processCache[p.pid] = (p, indent, Array(UnsafeBufferPointer(rebasing: out.bytes[start...])))
            }
        }
        closeArray(a)
        key(&o, "proto"); string(l.proto.rawValue)
        key(&o, "uid"); number(l.uid)
        key(&o, "v6only"); bool(l.v6only)
        closeObject(o)
    }

    package mutating func write(_ p: ProcessInfo, indent: Int) {
        var o = openObject(indent)
        key(&o, "cmdline"); strings(p.cmdline, indent: indent + 2)
        if let c = p.container { key(&o, "container"); string(c) }
        if let e = p.exe { key(&o, "exe"); string(e) }
        key(&o, "name"); string(p.name)
        key(&o, "pid"); signed(Int64(p.pid))
        if let u = p.unit { key(&o, "unit"); string(u) }
        closeObject(o)
    }
}

/// A growable byte buffer without copy-on-write checks: the JSON writers append millions of single bytes, and
/// `[UInt8]` spends most of that time on uniqueness and capacity bookkeeping. Shared by the snapshot and exposure
/// writer and by `trace`'s JSON lines; the appends are inlinable so other modules' writers pay no call per byte.
package struct ByteBuffer: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var used = 0
    @usableFromInline var capacity: Int

    package init(capacity: Int) {
        self.capacity = max(capacity, 4096)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Bytes written so far.
    package var count: Int { used }

    /// Room for `count` more bytes at the end, counted as written: the caller must initialize all of them before
    /// the next call. One capacity check for a run of bytes instead of one per byte.
    @inlinable @inline(__always) package mutating func appendUninitialized(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if used + count > capacity { grow(to: used + count) }
        let p = base + used
        used += count
        return p
    }

    /// The bytes written so far; valid until the next write.
    package var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: used) }

    @inlinable @inline(__always) package mutating func append(_ b: UInt8) {
        if used == capacity { grow(to: used + 1) }
        base[used] = b
        used += 1
    }

    @inlinable @inline(__always) package mutating func append(contentsOf p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        guard n > 0, let src = p.baseAddress else { return }
        if used + n > capacity { grow(to: used + n) }
        (base + used).update(from: src, count: n)
        used += n
    }

    @inline(__always) mutating func append(contentsOf p: UnsafeRawBufferPointer) {
        append(contentsOf: p.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always) mutating func append(contentsOf a: [UInt8]) {
        a.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// `v` in decimal, as `"\(v)"` prints it, written straight into the buffer (no String per number).
    package mutating func appendDecimal(_ v: UInt64) {
        if v < 10 { append(48 + UInt8(v)); return }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while n > 0 { buf[19 - count] = 48 + UInt8(n % 10); n /= 10; count += 1 }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(20 - count)...]))
        }
    }

    /// Empties the buffer, keeping its memory (the next chunk reuses the same, already touched, pages).
    package mutating func removeAll() { used = 0 }

    @usableFromInline @inline(never) mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.initialize(from: base, count: used)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }
}
