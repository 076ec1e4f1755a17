#if canImport(Glibc)
    import Glibc
#endif
import HostModel
import Testing
import TestSupport

/// The byte-level address parsers must accept and reject exactly what the original split-based parsers did (kept
/// below as the reference), since probe files, snapshots and policies all go through them; inet_pton is a second,
/// independent check on the addresses it accepts.
@Suite struct AddressParserTests {
    // MARK: reference: the parsers as they were before the byte-level rewrite

    static func referenceV4(_ text: String) -> UInt32? {
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
        return parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
    }

    static func referenceV6(_ text: String) -> [UInt8]? {
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
                if i == 0, pieces.count > 1, pieces[1].isEmpty { i += 1 }
                if sawGap {
                    if i == pieces.count - 1 { break }
                    return nil
                }
                sawGap = true
                if i == pieces.count - 2, pieces[i + 1].isEmpty { break }
                i += 1
                continue
            }
            if p.contains(".") {
                guard i == pieces.count - 1, let v4 = referenceV4(p) else { return nil }
                embedded = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
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
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    // MARK: inputs

    static let edgeCases: [String] = [
        "", ":", "::", ":::", "::::", "1:", ":1", ":1:", "1::", "::1", "1:::", ":::1", "1::2", "1::2:", "::2:", "1::2::", "::1::",
        ":1::2", "1:2", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4::5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "::ffff:1.2.3.4",
        "::1.2.3.4", "1.2.3.4", "1.2.3.4::", "1.2.3.4:1::", "::1.2.3.4:1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5::1.2.3.4", "::01.002.3.4", "::1.2.3.256", "::1.2.3", "::1.2.3.4.5", "::1..2.3", "::.1.2.3", "::1.2.3.",
        "2001:db8::1", "2001:DB8::A", "fe80::1%eth0", "::ffff", "ffff::", "12345::", "::12345", "+1::", "::-0", "-0::1", "::+ffff",
        "::+", "::-", "::-1", "+::", "::0x1", "g::", "1:: ", " ::1", "::1\n", "\r\n", "1:\r\n:2", "::\u{301}", ":\u{301}:",
        "::1.2.3.\u{301}4", "١::", "0.0.0.0", "255.255.255.255", "256.0.0.0", "01.02.03.004", "1.2.3", "1.2.3.4.", ".1.2.3.4",
        "1..2.3", "1.2.3.4.5", "1.2.3.0004", "1.2.3.4 ", "1.2.3.+4", "１.2.3.4", "0:0:0:0:0:0:0:0", "0000:0000::", "00000::"
    ]

    /// Random strings over the characters that matter, and mutations of valid addresses.
    static func generated() -> [String] {
        var rng = SplitMix64(seed: 0x5eed_0001)  // seeded (SnapshotFastReaderTests.swift), so a failure reproduces
        let alphabet: [String] = ["0", "1", "2", "9", "a", "f", "F", "g", ":", ":", ":", ".", ".", "+", "-", " ", "x", "\u{301}", "é"]
        var out: [String] = []
        for _ in 0..<60_000 {
            let n = Int.random(in: 0...24, using: &rng)
            out.append((0..<n).map { _ in alphabet.randomElement(using: &rng) ?? "" }.joined())
        }
        func group() -> String {
            String(UInt16.random(in: 0...UInt16.max, using: &rng) >> (4 * UInt16.random(in: 0...3, using: &rng)), radix: 16)
        }
        func quad() -> String { (0..<4).map { _ in String(Int.random(in: 0...300, using: &rng)) }.joined(separator: ".") }
        for _ in 0..<60_000 {
            var groups = (0..<Int.random(in: 0...9, using: &rng)).map { _ in group() }
            if Bool.random(using: &rng) { groups.append(quad()) }
            var text = groups.joined(separator: ":")
            if Int.random(in: 0..<3, using: &rng) > 0 {
                let cut = groups.isEmpty ? 0 : Int.random(in: 0...groups.count, using: &rng)
                text = groups[..<cut].joined(separator: ":") + "::" + groups[cut...].joined(separator: ":")
            }
            var chars = Array(text)
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let pos = chars.isEmpty ? 0 : Int.random(in: 0..<chars.count, using: &rng)
                let c = Character(alphabet.randomElement(using: &rng) ?? ":")
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: chars.insert(c, at: pos)
                case 1: if !chars.isEmpty { chars.remove(at: pos) }
                case 2: if !chars.isEmpty { chars[pos] = c }
                default: break
                }
            }
            out.append(String(chars))
        }
        for _ in 0..<20_000 {
            out.append((0..<4).map { _ in String(Int.random(in: 0...300, using: &rng)) }.joined(separator: "."))
        }
        return out
    }

    static func pton6(_ s: String) -> [UInt8]? {
        #if canImport(Glibc)
            var a = in6_addr()
            guard inet_pton(AF_INET6, s, &a) == 1 else { return nil }
            return withUnsafeBytes(of: &a) { Array($0) }
        #else
            return nil
        #endif
    }

    static func pton4(_ s: String) -> UInt32? {
        #if canImport(Glibc)
            var a = in_addr()
            guard inet_pton(AF_INET, s, &a) == 1 else { return nil }
            return UInt32(bigEndian: a.s_addr)
        #else
            return nil
        #endif
    }

    // MARK: tests

    @Test func edgeCasesMatchTheReference() {
        for s in Self.edgeCases {
            #expect(IPv4Address(s)?.value == Self.referenceV4(s), "IPv4 \(s.debugDescription)")
            #expect(IPv6Address(s)?.bytes == Self.referenceV6(s), "IPv6 \(s.debugDescription)")
        }
    }

    @Test func quirksOfTheOriginalParserAreKept() {
        #expect(IPv6Address("1:")?.description == "1::")
        #expect(IPv6Address(":1")?.description == "::1")
        #expect(IPv6Address("1::2:")?.description == "1::2")
        #expect(IPv6Address(":")?.description == "::")
        #expect(IPv6Address("+ff::-0")?.description == "ff::")
        #expect(IPv6Address("::-1") == nil)
        #expect(IPv6Address("1:::") == nil)
        #expect(IPv4Address("01.02.03.004")?.description == "1.2.3.4")
    }

    @Test func generatedInputsMatchTheReference() {
        var accepted4 = 0, accepted6 = 0, mismatches: [String] = []
        for s in Self.generated() + Self.edgeCases {
            let v4 = IPv4Address(s)?.value, v6 = IPv6Address(s)?.bytes
            if v4 != Self.referenceV4(s) || v6 != Self.referenceV6(s) { mismatches.append(s) }
            let any = IPAddress(s)
            let expected: IPAddress? = Self.referenceV4(s).map { .v4(IPv4Address($0)) } ?? Self.referenceV6(s).map { .v6(IPv6Address(bytes: $0)) }
            if any != expected { mismatches.append(s) }
            if v4 != nil { accepted4 += 1 }
            if v6 != nil { accepted6 += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20).map(\.debugDescription))")
        // The generator must reach both outcomes often enough to mean something.
        #expect(accepted4 > 1_000)
        #expect(accepted6 > 10_000)
    }

    /// What inet_pton accepts, the parsers accept with the same value (they are more lenient, never stricter).
    @Test func agreesWithInetPtonOnWhatItAccepts() {
        #if canImport(Glibc)
            var checked = 0
            for s in Self.generated() + Self.edgeCases {
                if let p = Self.pton6(s) {
                    #expect(IPv6Address(s)?.bytes == p, "\(s.debugDescription)")
                    checked += 1
                }
                if let p = Self.pton4(s) {
                    #expect(IPv4Address(s)?.value == p, "\(s.debugDescription)")
                    #expect(IPAddress(s) == .v4(IPv4Address(p)), "\(s.debugDescription)")
                    checked += 1
                }
            }
            #expect(checked > 10_000)
        #endif
    }
}
