/// An IPv4 address as a host-order integer; parsing and formatting without Foundation or libc.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 4, "IPv4Address needs 4 bytes")
        value = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }

    /// Dotted-quad only (no shorthand forms), as the kernel and nft print addresses.
    public init?(_ text: String) {
        guard let v = withUTF8Bytes(text, { IPv4Address.parse($0, 0, $0.count) }) else { return nil }
        value = v
    }

    /// Parses `b[start..<end]` as a dotted quad (1-3 digits per part, each at most 255; leading zeros allowed),
    /// without allocating: batch `trace` parses two addresses per probe. Shared with the IPv6 embedded form.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32? {
        var value: UInt32 = 0, current: UInt32 = 0
        var digits = 0, parts = 0
        var i = start
        while i < end {
            let c = b[i]
            if c == UInt8(ascii: ".") {
                // A fifth part can never make a valid address, so stop at the fourth dot.
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | current
                parts += 1; current = 0; digits = 0
            } else if c &- 48 < 10 {
                current = current * 10 + UInt32(c &- 48)
                digits += 1
                guard digits <= 3, current <= 255 else { return nil }
            } else {
                return nil
            }
            i += 1
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | current
    }

    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    public var description: String { bytes.map(String.init).joined(separator: ".") }
    public var isUnspecified: Bool { value == 0 }
    public var isLoopback: Bool { value >> 24 == 127 }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv6 address as 16 bytes; RFC 5952 formatting.
public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "IPv6Address needs 16 bytes")
        self.bytes = bytes
    }

    /// Colon-hex with one `::` and an optional trailing dotted quad. What it accepts is exactly what the original
    /// split-based parser accepted, quirks included (a lone leading or trailing `:` stands for a gap, so `1:` is
    /// `1::`; groups may carry a `+` sign, or `-` when zero, as `UInt16(_:radix:)` allows); HostModelTests compare
    /// the two on many inputs.
    public init?(_ text: String) {
        guard let b = withUTF8Bytes(text, { IPv6Address.parse($0) }) else { return nil }
        bytes = b
    }

    /// Byte-level parser: no substrings or intermediate arrays, only the 16-byte result is allocated.
    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = b.count
        if count == 0 { return nil }
        var colons = 0
        for c in b {
            // No valid group or dotted quad holds a non-ASCII byte.
            if c >= 0x80 { return nil }
            if c == UInt8(ascii: ":") { colons += 1 }
        }
        let pieces = colons + 1
        var head = SIMD8<UInt16>(), tail = SIMD8<UInt16>()
        var headCount = 0, tailCount = 0
        var sawGap = false
        /// Whether the piece starting at `p` is empty.
        func emptyPiece(_ p: Int) -> Bool { p >= count || b[p] == UInt8(ascii: ":") }
        /// Appends a group; false once more than 8 groups were seen (the address can no longer be valid).
        func append(_ v: UInt16) -> Bool {
            guard headCount + tailCount < 8 else { return false }
            if sawGap { tail[tailCount] = v; tailCount += 1 } else { head[headCount] = v; headCount += 1 }
            return true
        }
        var i = 0, start = 0  // index of the current piece and its first byte
        while i < pieces {
            var end = start
            while end < count && b[end] != UInt8(ascii: ":") { end += 1 }
            if end == start {
                var cur = start
                if i == 0, pieces > 1, emptyPiece(1) { i += 1; cur = 1 }  // leading "::"
                if sawGap {
                    if i == pieces - 1 { break }  // trailing "::"
                    return nil
                }
                sawGap = true
                if i == pieces - 2, emptyPiece(cur + 1) { break }
                i += 1
                start = cur + 1
                continue
            }
            var hasDot = false
            for k in start..<end where b[k] == UInt8(ascii: ".") { hasDot = true; break }
            if hasDot {
                guard i == pieces - 1, let v4 = IPv4Address.parse(b, start, end),
                    append(UInt16(v4 >> 16)), append(UInt16(v4 & 0xffff))
                else { return nil }
            } else {
                guard end - start <= 4, let v = hexGroup(b, start, end), append(v) else { return nil }
            }
            i += 1
            start = end + 1
        }
        let total = headCount + tailCount
        if sawGap { guard total <= 7 else { return nil } } else { guard total == 8 else { return nil } }
        return [UInt8](unsafeUninitializedCapacity: 16) { out, n in
            for k in 0..<16 { out[k] = 0 }
            for k in 0..<headCount {
                out[2 * k] = UInt8(head[k] >> 8); out[2 * k + 1] = UInt8(head[k] & 0xff)
            }
            let base = 8 - tailCount
            for k in 0..<tailCount {
                out[2 * (base + k)] = UInt8(tail[k] >> 8); out[2 * (base + k) + 1] = UInt8(tail[k] & 0xff)
            }
            n = 16
        }
    }

    /// `UInt16(_:radix: 16)` on `b[start..<end]`: an optional sign, then hex digits; `-` only with the value zero.
    static func hexGroup(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt16? {
        var k = start
        var negative = false
        if b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-") { negative = b[k] == UInt8(ascii: "-"); k += 1 }
        guard k < end else { return nil }
        var v: UInt32 = 0
        while k < end {
            let d = Bytes.hexValue(b[k])
            guard d < 16 else { return nil }
            v = v << 4 | UInt32(d)
            guard v <= 0xffff else { return nil }
            k += 1
        }
        if negative && v != 0 { return nil }
        return UInt16(v)
    }

    public var groups: [UInt16] { (0..<8).map { UInt16(bytes[$0 * 2]) << 8 | UInt16(bytes[$0 * 2 + 1]) } }

    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:\(v4)" }
        let g = groups
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { range.map { String(g[$0], radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }

    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
    public var isLoopback: Bool { bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1 }
    public var isLinkLocal: Bool { bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 }

    /// The IPv4 address of a v4-mapped address (`::ffff:a.b.c.d`).
    public var mappedIPv4: IPv4Address? {
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return nil }
        return IPv4Address(bytes: Array(bytes[12..<16]))
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// An address of either family, as raw network-order bytes (4 or 16).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// IPv4 first, then IPv6, over one view of the bytes.
    public init?(_ text: String) {
        let parsed = withUTF8Bytes(text) { b -> IPAddress? in
            if let v = IPv4Address.parse(b, 0, b.count) { return .v4(IPv4Address(v)) }
            if let g = IPv6Address.parse(b) { return .v6(IPv6Address(bytes: g)) }
            return nil
        }
        guard let parsed else { return nil }
        self = parsed
    }

    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}

/// An address prefix such as `192.0.2.0/24` or `2001:db8::/32`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Accepts `a.b.c.d/n`, `x::y/n` or a bare address (a host prefix).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let addr = IPAddress(first) else { return nil }
        let maxLen = addr.family == .ipv4 ? 32 : 128
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0, n <= maxLen else { return nil }
            prefixLength = n
        } else {
            prefixLength = maxLen
        }
        address = addr
    }

    public var family: IPFamily { address.family }

    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `other` (of the same family) falls inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        guard other.family == family else { return false }
        let a = address.bytes, b = other.bytes
        var bits = prefixLength
        var i = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xff : UInt8(0xff << (8 - bits) & 0xff)
            if a[i] & mask != b[i] & mask { return false }
            bits -= 8
            i += 1
        }
        return true
    }
}

/// Runs `body` on the UTF-8 bytes of `text` in place (native strings are contiguous; others are copied once).
@inline(__always)
func withUTF8Bytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = text.utf8.withContiguousStorageIfAvailable(body) { return r }
    return Array(text.utf8).withUnsafeBufferPointer(body)
}
