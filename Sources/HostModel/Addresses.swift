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
        var parts: [UInt32] = []
        var current: UInt32 = 0
        var digits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                parts.append(current); current = 0; digits = 0
            } else if c >= 48 && c <= 57 {
                current = current * 10 + UInt32(c - 48)
                digits += 1
                guard digits <= 3, current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0 else { return nil }
        parts.append(current)
        guard parts.count == 4 else { return nil }
        value = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
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

    public init?(_ text: String) {
        if text.isEmpty { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        var embedded: [UInt16] = []
        while i < pieces.count {
            let p = pieces[i]
            if p.isEmpty {
                if i == 0, pieces.count > 1, pieces[1].isEmpty { i += 1 }   // leading "::"
                if sawGap {
                    if i == pieces.count - 1 { break }   // trailing "::"
                    return nil
                }
                sawGap = true
                if i == pieces.count - 2, pieces[i + 1].isEmpty { break }
                i += 1
                continue
            }
            if p.contains(".") {
                guard i == pieces.count - 1, let v4 = IPv4Address(p) else { return nil }
                embedded = [UInt16(v4.value >> 16), UInt16(v4.value & 0xffff)]
                i += 1
                continue
            }
            guard p.utf8.count <= 4, let v = UInt16(p, radix: 16) else { return nil }
            if sawGap { tail.append(v) } else { head.append(v) }
            i += 1
        }
        if sawGap { tail += embedded } else { head += embedded }
        let total = head.count + tail.count
        if sawGap { guard total <= 7 else { return nil } } else { guard total == 8 else { return nil } }
        let groups = head + Array(repeating: 0, count: 8 - total) + tail
        bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
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

    public init?(_ text: String) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
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
