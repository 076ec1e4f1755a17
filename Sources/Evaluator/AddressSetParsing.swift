import HostModel

extension AddressSet {
    /// The inverse of `describe`: `a`, `a/len` or `a-b` of `family` as a value range; nil when malformed.
    package static func parseRange(_ text: String, _ family: IPFamily) -> ClosedRange<UInt128>? {
        func value(_ s: Substring) -> UInt128? {
            if family == .ipv4 { return IPv4Address(String(s)).map { addressValue($0.bytes) } }
            return IPv6Address(String(s)).map { addressValue($0.bytes) }
        }
        if text.contains("/") {
            guard let c = CIDR(text), c.family == family else { return nil }
            return c.valueRange
        }
        if let dash = text.firstIndex(of: "-") {
            guard let lo = value(text[..<dash]), let hi = value(text[text.index(after: dash)...]), lo <= hi else { return nil }
            return lo...hi
        }
        return value(text[...]).map { $0...$0 }
    }
}

/// Address text from the 128-bit value.
func addressText(_ v: UInt128, _ family: IPFamily) -> String {
    let b = addressBytes(v, family)
    return family == .ipv4 ? IPv4Address(bytes: b).description : IPv6Address(bytes: b).description
}

/// Network-order bytes (4 or 16) of the value.
func addressBytes(_ v: UInt128, _ family: IPFamily) -> [UInt8] {
    let n = family == .ipv4 ? 4 : 16
    var out = [UInt8](repeating: 0, count: n)
    var x = v
    for i in stride(from: n - 1, through: 0, by: -1) {
        out[i] = UInt8(truncatingIfNeeded: x)
        x >>= 8
    }
    return out
}

/// The 128-bit value of network-order address bytes.
func addressValue(_ bytes: ArraySlice<UInt8>) -> UInt128 {
    var v: UInt128 = 0
    for b in bytes { v = v << 8 | UInt128(b) }
    return v
}

func addressValue(_ bytes: [UInt8]) -> UInt128 { addressValue(bytes[...]) }

/// A loopback address as a destination: 127.0.0.0/8 or ::1 (martian when it arrives from outside).
func isLoopback(_ family: IPFamily, _ v: UInt128) -> Bool { family == .ipv4 ? v >> 24 == 127 : v == 1 }

extension CIDR {
    /// The prefix as an inclusive range of address values.
    package var valueRange: ClosedRange<UInt128> {
        let bits = family == .ipv4 ? 32 : 128
        let base = addressValue(address.bytes)
        let hostBits = bits - prefixLength
        if hostBits >= 128 { return 0...UInt128.max }
        let hostMask: UInt128 = hostBits == 0 ? 0 : (UInt128(1) << hostBits) - 1
        return (base & ~hostMask)...(base | hostMask)
    }
}
