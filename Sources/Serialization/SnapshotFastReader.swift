import Foundation
import HostModel

/// The fast reader met something it does not fully understand; `SnapshotCodec.decode` then decodes the same bytes
/// with `JSONDecoder`, which accepts them or reports the error exactly as it always has.
struct SnapshotFastPathDeclined: Error {}

/// A strict byte-level reader for snapshot JSON that builds the model directly, several times faster than
/// `JSONDecoder` and without its whole-document index (which for a large snapshot outweighs the file itself).
///
/// It accepts only what it can decode exactly as the `Codable` conformances do: UTF-8 text, objects whose keys are
/// all read by the conformance and none repeated (plain keys, no escapes), no null for a non-optional field,
/// integers as plain in-range digits, hex strings for `Bytes`, known enum names, and the current schema. Whatever it
/// accepts decodes to a value equal to `JSONDecoder`'s (`SnapshotFastReaderTests` compares both over many
/// snapshots); anything else declines, so malformed or hostile files still get `JSONDecoder`'s diagnostics.
///
/// Leaf objects (listeners, set elements, expressions, …) are read with `object`: their members are located first,
/// then looked up by key like a keyed container, so a conformance reads as one line. Objects holding the large arrays
/// (snapshot, firewall, table, chain, rule, set) use `forEachMember` instead, which never skips over a value and so
/// reads those arrays only once.
package struct SnapshotFastReader {
    typealias Declined = SnapshotFastPathDeclined

    /// The snapshot in `data`, or nil when the fast path declines.
    package static func decode(_ data: Data) -> Snapshot? {
        data.withUnsafeBytes { raw -> Snapshot? in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            var reader = SnapshotFastReader(base: base, end: raw.count)
            do {
                let snapshot = try reader.snapshot()
                reader.skipSpace()
                return reader.i == reader.end ? snapshot : nil
            } catch {
                return nil
            }
        }
    }

    /// A member of an object read with `object`: where its key and value are in the input.
    struct Member {
        var keyStart: Int
        var keyCount: Int
        var valueStart: Int
        var valueEnd: Int
        var used = false
    }

    private let base: UnsafePointer<UInt8>
    private let end: Int
    private var i = 0
    /// Members of the objects being read with `object`, innermost last; the current one's start at `frame`.
    private var members: [Member] = []
    private var frame = 0
    /// The key `forEachMember` is at.
    private var keyStart = 0
    private var keyCount = 0

    init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
        members.reserveCapacity(64)
    }

    // MARK: - The model

    mutating func snapshot() throws(Declined) -> Snapshot {
        var schema = Slot<String>(), host = Slot<HostInfo>(), listeners = Slot<[Listener]>(), interfaces = Slot<[Interface]>(),
            routes = Slot<Routing>(), sysctls = Slot<Sysctls>(), firewall = Slot<Firewall>(), privileges = Slot<Privileges>(),
            warnings = Slot<[String]>(), namespaces = Slot<[NetworkNamespace]>(), netns = Slot<NamespaceID>()
        try forEachMember { r throws(Declined) in
            if r.isKey("firewall") {
                try firewall.set(r.firewall())
            } else if r.isKey("host") {
                try host.set(
                    r.object { r throws(Declined) in
                        HostInfo(
                            hostname: try r.string("hostname"), kernel: try r.string("kernel"),
                            collectedAt: try r.string("collectedAt"), toolVersion: try r.string("toolVersion"))
                    })
            } else if r.isKey("interfaces") {
                try interfaces.set(r.array { r throws(Declined) in try r.interface() })
            } else if r.isKey("listeners") {
                try listeners.set(r.array { r throws(Declined) in try r.listener() })
            } else if r.isKey("namespaces") {
                try namespaces.set(r.array { r throws(Declined) in try r.namespace() })
            } else if r.isKey("netns") {
                try netns.set(r.namespaceID())
            } else if r.isKey("privileges") {
                try privileges.set(
                    r.object { r throws(Declined) in
                        Privileges(netAdmin: try r.bool("netAdmin"), procFds: try r.bool("procFds"))
                    })
            } else if r.isKey("routes") {
                try routes.set(r.routing())
            } else if r.isKey("schema") {
                try schema.set(r.string())
            } else if r.isKey("sysctls") {
                try sysctls.set(r.sysctls())
            } else if r.isKey("warnings") {
                try warnings.set(r.strings())
            } else {
                throw Declined()
            }
        }
        // Another schema is reported by the plain path, which checks it before anything else.
        let found = try schema.get()
        guard Snapshot.readableSchemas.contains(found) else { throw Declined() }
        var snapshot = Snapshot(
            host: try host.get(), listeners: try listeners.get(), interfaces: try interfaces.get(), routes: try routes.get(),
            sysctls: try sysctls.get(), firewall: try firewall.get(), privileges: try privileges.get(),
            warnings: try warnings.get(), netns: netns.value, namespaces: namespaces.value ?? [])
        snapshot.schema = found
        return snapshot
    }

    mutating func listener() throws(Declined) -> Listener {
        try object { r throws(Declined) in
            Listener(
                proto: try r.enumValue("proto"), family: try r.enumValue("family"), address: try r.string("address"),
                port: try r.uint("port"), v6only: try r.bool("v6only"), device: try r.stringIfPresent("device"),
                deviceIndex: try r.uint("deviceIndex"), uid: try r.uint("uid"), inode: try r.uint("inode"),
                cookie: try r.uint("cookie"),
                processes: try r.decode("processes") { r throws(Declined) in try r.array { r throws(Declined) in try r.process() } },
                owner: try r.enumValue("owner"))
        }
    }

    mutating func process() throws(Declined) -> HostModel.ProcessInfo {
        try object { r throws(Declined) in
            HostModel.ProcessInfo(
                pid: try r.int32("pid"), name: try r.string("name"), exe: try r.stringIfPresent("exe"),
                cmdline: try r.decode("cmdline") { r throws(Declined) in try r.strings() },
                unit: try r.stringIfPresent("unit"), container: try r.stringIfPresent("container"))
        }
    }

    // MARK: - Objects

    /// A member of an object read with `forEachMember`: set at most once, so a repeated key declines.
    struct Slot<T> {
        private(set) var value: T?
        private var seen = false

        mutating func set(_ newValue: T?) throws(Declined) {
            guard !seen else { throw Declined() }
            seen = true
            value = newValue
        }

        /// The value of a required member (absent or null declines, as `JSONDecoder` would fail).
        func get() throws(Declined) -> T {
            guard let value else { throw Declined() }
            return value
        }
    }

    /// Reads an object whose members `body` looks up by key (`uint("port")`, …), in any order. Every member must be
    /// read (an unknown key declines): a key `JSONDecoder` ignores may still hold anything, and it validates it.
    mutating func object<T>(_ body: (inout Self) throws(Declined) -> T) throws(Declined) -> T {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        let outer = frame
        frame = members.count
        skipSpace()
        if at(i) == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                let (start, count) = try key()
                var j = frame
                while j < members.count {
                    if members[j].keyCount == count, memcmp(base + members[j].keyStart, base + start, count) == 0 { throw Declined() }
                    j += 1
                }
                let valueStart = i
                try skipValue()
                members.append(Member(keyStart: start, keyCount: count, valueStart: valueStart, valueEnd: i))
                skipSpace()
                let c = at(i)
                i += 1
                if c == UInt8(ascii: "}") { break }
                guard c == UInt8(ascii: ",") else { throw Declined() }
                skipSpace()
            }
        }
        let after = i
        let value = try body(&self)
        for j in frame..<members.count where !members[j].used { throw Declined() }
        members.removeLast(members.count - frame)
        frame = outer
        i = after
        return value
    }

    /// Positions the reader at the value of `key` in the object being read with `object`, and returns where that
    /// value ends; nil when the key is absent.
    mutating func seek(_ key: StaticString) -> Int? {
        let count = key.utf8CodeUnitCount
        var j = frame
        while j < members.count {
            if members[j].keyCount == count, memcmp(base + members[j].keyStart, key.utf8Start, count) == 0 {
                members[j].used = true
                i = members[j].valueStart
                return members[j].valueEnd
            }
            j += 1
        }
        return nil
    }

    /// A required member (`decode(_:forKey:)`): absent, null or not exactly one value of the type declines.
    mutating func decode<T>(_ key: StaticString, _ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T {
        guard let valueEnd = seek(key) else { throw Declined() }
        let value = try parse(&self)
        guard i == valueEnd else { throw Declined() }
        return value
    }

    /// An optional member (`decodeIfPresent(_:forKey:)`): absent or null is nil.
    mutating func decodeIfPresent<T>(_ key: StaticString, _ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T? {
        guard let valueEnd = seek(key) else { return nil }
        if valueEnd - i == 4, isNull(at: i) { i = valueEnd; return nil }
        let value = try parse(&self)
        guard i == valueEnd else { throw Declined() }
        return value
    }

    mutating func uint<T: FixedWidthInteger & UnsignedInteger>(_ key: StaticString) throws(Declined) -> T {
        try decode(key) { r throws(Declined) in try r.uint() }
    }
    mutating func uintIfPresent<T: FixedWidthInteger & UnsignedInteger>(_ key: StaticString) throws(Declined) -> T? {
        try decodeIfPresent(key) { r throws(Declined) in try r.uint() }
    }
    mutating func int32(_ key: StaticString) throws(Declined) -> Int32 {
        try decode(key) { r throws(Declined) in try r.int32() }
    }
    mutating func bool(_ key: StaticString) throws(Declined) -> Bool {
        try decode(key) { r throws(Declined) in try r.bool() }
    }
    mutating func boolIfPresent(_ key: StaticString) throws(Declined) -> Bool? {
        try decodeIfPresent(key) { r throws(Declined) in try r.bool() }
    }
    mutating func string(_ key: StaticString) throws(Declined) -> String {
        try decode(key) { r throws(Declined) in try r.string() }
    }
    mutating func stringIfPresent(_ key: StaticString) throws(Declined) -> String? {
        try decodeIfPresent(key) { r throws(Declined) in try r.string() }
    }
    mutating func bytes(_ key: StaticString) throws(Declined) -> Bytes {
        try decode(key) { r throws(Declined) in try r.bytes() }
    }
    mutating func bytesIfPresent(_ key: StaticString) throws(Declined) -> Bytes? {
        try decodeIfPresent(key) { r throws(Declined) in try r.bytes() }
    }
    mutating func enumValue<E: RawRepresentable<String>>(_ key: StaticString) throws(Declined) -> E {
        try decode(key) { r throws(Declined) in try r.enumValue() }
    }

    /// Calls `body` at each member's value, in input order, with `isKey` telling which member it is; `body` must
    /// read exactly that value or decline.
    mutating func forEachMember(_ body: (inout Self) throws(Declined) -> Void) throws(Declined) {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        skipSpace()
        if at(i) == UInt8(ascii: "}") { i += 1; return }
        while true {
            (keyStart, keyCount) = try key()
            try body(&self)
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw Declined() }
            skipSpace()
        }
    }

    func isKey(_ key: StaticString) -> Bool {
        keyCount == key.utf8CodeUnitCount && memcmp(base + keyStart, key.utf8Start, keyCount) == 0
    }

    /// A member's key and the colon after it. Keys with escapes decline: no key of the format needs one.
    mutating func key() throws(Declined) -> (Int, Int) {
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { break }
            guard c >= 0x20, c != UInt8(ascii: "\\") else { throw Declined() }
            i += 1
        }
        let count = i - start
        i += 1
        skipSpace()
        guard at(i) == UInt8(ascii: ":") else { throw Declined() }
        i += 1
        skipSpace()
        return (start, count)
    }

    // MARK: - Values

    /// Arrays are read in one pass: their elements are never skipped.
    mutating func array<T>(_ element: (inout Self) throws(Declined) -> T) throws(Declined) -> [T] {
        skipSpace()
        guard at(i) == UInt8(ascii: "[") else { throw Declined() }
        i += 1
        skipSpace()
        var out: [T] = []
        if at(i) == UInt8(ascii: "]") { i += 1; return out }
        while true {
            out.append(try element(&self))
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "]") { return out }
            guard c == UInt8(ascii: ",") else { throw Declined() }
        }
    }

    mutating func strings() throws(Declined) -> [String] {
        try array { r throws(Declined) in try r.string() }
    }

    /// `[String: Bool]`; any string is a key here, and a key repeated (after unescaping) declines.
    mutating func boolDictionary() throws(Declined) -> [String: Bool] {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        skipSpace()
        var out: [String: Bool] = [:]
        if at(i) == UInt8(ascii: "}") { i += 1; return out }
        while true {
            let key = try string()
            skipSpace()
            guard at(i) == UInt8(ascii: ":") else { throw Declined() }
            i += 1
            guard out.updateValue(try bool(), forKey: key) == nil else { throw Declined() }
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "}") { return out }
            guard c == UInt8(ascii: ",") else { throw Declined() }
            skipSpace()
        }
    }

    /// `null` (then nil) or a value; for members of objects read with `forEachMember`.
    mutating func nullable<T>(_ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T? {
        skipSpace()
        if isNull(at: i) { i += 4; return nil }
        return try parse(&self)
    }

    func isNull(at j: Int) -> Bool {
        at(j) == UInt8(ascii: "n") && at(j + 1) == UInt8(ascii: "u") && at(j + 2) == UInt8(ascii: "l") && at(j + 3) == UInt8(ascii: "l")
    }

    mutating func bool() throws(Declined) -> Bool {
        skipSpace()
        if at(i) == UInt8(ascii: "t"), at(i + 1) == UInt8(ascii: "r"), at(i + 2) == UInt8(ascii: "u"), at(i + 3) == UInt8(ascii: "e") {
            i += 4
            return true
        }
        if at(i) == UInt8(ascii: "f"), at(i + 1) == UInt8(ascii: "a"), at(i + 2) == UInt8(ascii: "l"), at(i + 3) == UInt8(ascii: "s"),
            at(i + 4) == UInt8(ascii: "e")
        {
            i += 5
            return false
        }
        throw Declined()
    }

    /// Plain decimal digits without a leading zero, in range of `T`; a fraction or exponent is left unread, so the
    /// caller declines on it.
    mutating func uint<T: FixedWidthInteger & UnsignedInteger>() throws(Declined) -> T {
        skipSpace()
        let magnitude = try digits()
        guard let value = T(exactly: magnitude) else { throw Declined() }
        return value
    }

    mutating func int32() throws(Declined) -> Int32 {
        skipSpace()
        if at(i) == UInt8(ascii: "-") {
            i += 1
            let magnitude = try digits()
            // "-0" is left to JSONDecoder.
            guard magnitude > 0, magnitude <= UInt64(Int32.max) + 1 else { throw Declined() }
            return Int32(truncatingIfNeeded: 0 &- magnitude)
        }
        guard let value = Int32(exactly: try digits()) else { throw Declined() }
        return value
    }

    mutating func digits() throws(Declined) -> UInt64 {
        let first = at(i) &- 48
        guard first < 10 else { throw Declined() }
        i += 1
        var value = UInt64(first)
        while true {
            let d = at(i) &- 48
            if d >= 10 { break }
            guard value != 0 else { throw Declined() }  // a leading zero is not JSON
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { throw Declined() }
            value = sum
            i += 1
        }
        return value
    }

    mutating func enumValue<E: RawRepresentable<String>>() throws(Declined) -> E {
        guard let value = E(rawValue: try string()) else { throw Declined() }
        return value
    }

    /// `Bytes` from its hex string (either case, as `Bytes(hex:)` accepts); an escape declines.
    mutating func bytes() throws(Declined) -> Bytes {
        skipSpace()
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        while Bytes.hexValue(at(i)) < 16 { i += 1 }
        let count = i - start
        guard at(i) == UInt8(ascii: "\""), count & 1 == 0 else { throw Declined() }
        i += 1
        let source = base + start
        let out = [UInt8](unsafeUninitializedCapacity: count / 2) { buffer, initialized in
            for k in 0..<(count / 2) {
                buffer[k] = Bytes.hexValue(source[2 * k]) << 4 | Bytes.hexValue(source[2 * k + 1])
            }
            initialized = count / 2
        }
        return Bytes(out)
    }

    /// A JSON string. Plain ASCII (nearly every string here) is copied straight; other UTF-8 is validated, and
    /// escapes are decoded. Invalid UTF-8, raw control characters and lone surrogates decline.
    mutating func string() throws(Declined) -> String {
        skipSpace()
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        var ascii = true
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard c >= 0x20 else { throw Declined() }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        let text = UnsafeBufferPointer(start: base + start, count: i - start)
        i += 1
        if ascii { return String(decoding: text, as: UTF8.self) }
        guard let s = String(validating: text, as: UTF8.self) else { throw Declined() }
        return s
    }

    /// The rest of a string that has an escape at `i`, its text starting at `start`.
    mutating func escapedString(from start: Int) throws(Declined) -> String {
        var out = Array(UnsafeBufferPointer(start: base + start, count: i - start))
        while true {
            let c = at(i)
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw Declined() }
                return s
            case UInt8(ascii: "\\"):
                let e = at(i)
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        guard at(i) == UInt8(ascii: "\\"), at(i + 1) == UInt8(ascii: "u") else { throw Declined() }
                        i += 2
                        let low = UInt32(try hex4())
                        guard low >= 0xDC00, low < 0xE000 else { throw Declined() }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    } else if scalar >= 0xDC00, scalar < 0xE000 {
                        throw Declined()
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Declined() }
                    UTF8.encode(u) { out.append($0) }
                default: throw Declined()
                }
            default:
                guard c >= 0x20 else { throw Declined() }
                out.append(c)
            }
        }
    }

    mutating func hex4() throws(Declined) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            let d = Bytes.hexValue(at(i))
            guard d < 16 else { throw Declined() }
            value = value << 4 | UInt16(d)
            i += 1
        }
        return value
    }

    // MARK: - Bytes

    /// The byte at `j`, or 0 past the end: 0 is valid nowhere outside a string and raw inside one, so every check
    /// fails there without a separate bounds test.
    func at(_ j: Int) -> UInt8 { j < end ? base[j] : 0 }

    mutating func skipSpace() {
        while true {
            let c = at(i)
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Moves past one value without checking it beyond its extent; `object` reads every member strictly later.
    mutating func skipValue() throws(Declined) {
        let c = at(i)
        if c == UInt8(ascii: "\"") { return try skipString() }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while true {
                switch at(i) {
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; i += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    i += 1
                    if depth == 0 { return }
                case UInt8(ascii: "\""): try skipString()
                case 0: throw Declined()
                default: i += 1
                }
            }
        }
        let start = i
        while true {
            switch at(i) {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09, 0: break
            default: i += 1; continue
            }
            break
        }
        guard i > start else { throw Declined() }
    }

    mutating func skipString() throws(Declined) {
        i += 1
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { i += 1; return }
            guard c >= 0x20 else { throw Declined() }
            i += c == UInt8(ascii: "\\") ? 2 : 1
        }
    }
}
