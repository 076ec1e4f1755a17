import HostModel

/// The concrete state of the packet being followed. Fields that NAT and statements change live here, so each branch
/// of a split evaluation carries its own copy.
struct PacketState: Sendable {
    var family: IPFamily
    var l4: UInt8
    /// Source address; in exposure mode a representative of the branch's region (rules see it symbolically).
    var saddr: [UInt8]
    var daddr: [UInt8]
    var sport: UInt16
    var sportKnown: Bool
    var dport: UInt16
    /// Input device as nft sees it at the current hook (0/"" on output and postrouting).
    var iifIndex: UInt32
    var iifName: String
    var iifType: UInt16
    var iifKind: String?
    /// Output device (only on the output path of host-local traffic).
    var oifIndex: UInt32
    var oifName: String
    /// The host talks to itself: the packet went out through output/postrouting and arrives on `lo`.
    var local: Bool
    /// The device the packet really arrived on (for socket device matching), `lo` for local traffic.
    var arrivalIndex: UInt32
    var arrivalName: String
    var origDaddr: [UInt8]
    var origDport: UInt16
    var dnat: Bool
    var notrack: Bool
    /// The packet mark where every bit is known (nil otherwise: a mark from outside is unknown).
    var mark: UInt32? {
        get { markKnown == .max ? markBits : nil }
        set { if let v = newValue { markBits = v; markKnown = .max } else { markBits = 0; markKnown = 0 } }
    }
    /// The mark bit by bit: `markBits` is valid where `markKnown` has a 1. Bits set on the path (kube-proxy's
    /// `--set-xmark 0x4000/0x4000`) become known while the rest stay unknown, so a later test of those bits is decided.
    var markBits: UInt32 = 0
    var markKnown: UInt32 = 0
    var ctMark: UInt32?
    /// NAT core already bound for this hook (later nat chains of the hook are skipped).
    var natBound: Set<Hook> = []
    /// Set when a statement changed the packet in a way this model cannot follow; the outcome is then conditional.
    var notModelled: String?
    /// Source NAT applied in postrouting (masquerade, snat): what the receiving namespace sees as the source.
    var sourceNat: SourceNat?

    var nfproto: UInt8 { family == .ipv4 ? 2 : 10 }
    var networkHeaderLength: Int { family == .ipv4 ? 20 : 40 }
    var transportHeaderLength: Int { l4 == 6 ? 40 : 8 }
}

/// The source a forwarded connection carries after the host's source NAT.
enum SourceNat: Sendable, Equatable {
    /// Rewritten to this address.
    case to([UInt8])
    /// Rewritten, to an address this model cannot pin down (a range, or one taken from packet data).
    case unknown(String)
}

/// Where a byte of a register came from: a constant, the (symbolic) source address, or something unknowable.
struct ByteTag: Sendable, Equatable {
    /// 0 concrete, 1 source-address byte `index` after `& mask ^ xor`, 2 unknown (reason `index`).
    var kind: UInt8
    var index: UInt8
    var mask: UInt8
    var xor: UInt8

    static let concrete = ByteTag(kind: 0, index: 0, mask: 0, xor: 0)
}

/// The value of one packet byte as a rule would load it.
enum PacketByte {
    case value(UInt8)
    case saddr(Int, UInt8)
    case unknown(String)
    /// Past the end of the packet: the load fails and the rule does not match.
    case beyond
}

extension PacketState {
    /// Byte `off` of the header at `base`, as the synthesized SYN / first datagram would carry it.
    func byte(base: PayloadBase, offset off: Int, symbolic: Bool) -> PacketByte {
        switch base {
        case .link:
            if off >= 14 { return network(off - 14, symbolic) }
            if off == 12 { return .value(family == .ipv4 ? 0x08 : 0x86) }
            if off == 13 { return .value(family == .ipv4 ? 0x00 : 0xdd) }
            if arrivalName == "lo" { return .value(0) }
            return .unknown("link-layer addresses")
        case .network:
            return network(off, symbolic)
        case .transport:
            return transport(off)
        case .inner:
            return .unknown("inner header payload")
        }
    }

    private func network(_ off: Int, _ symbolic: Bool) -> PacketByte {
        if family == .ipv4 {
            switch off {
            case 0: return .value(0x45)
            case 1: return .value(0)
            case 6: return .value(0x40)
            case 7: return .value(0)
            case 9: return .value(l4)
            case 12..<16: return symbolic ? .saddr(off - 12, saddr[off - 12]) : .value(saddr[off - 12])
            case 16..<20: return .value(daddr[off - 16])
            case 2..<6: return .unknown("IPv4 length/id field")
            case 8: return .unknown("IPv4 ttl")
            case 10, 11: return .unknown("IPv4 checksum")
            default: return transport(off - 20)
            }
        }
        switch off {
        case 0: return .value(0x60)
        case 6: return .value(l4)
        case 8..<24: return symbolic ? .saddr(off - 8, saddr[off - 8]) : .value(saddr[off - 8])
        case 24..<40: return .value(daddr[off - 24])
        case 1..<4: return .unknown("IPv6 traffic class/flow label")
        case 4, 5: return .unknown("IPv6 payload length")
        case 7: return .unknown("IPv6 hop limit")
        default: return transport(off - 40)
        }
    }

    private func transport(_ off: Int) -> PacketByte {
        switch off {
        case 0, 1:
            return sportKnown ? .value(off == 0 ? UInt8(sport >> 8) : UInt8(sport & 0xff)) : .unknown("source port")
        case 2: return .value(UInt8(dport >> 8))
        case 3: return .value(UInt8(dport & 0xff))
        default: break
        }
        if l4 == 6 {
            switch off {
            case 8..<12: return .value(0)
            case 13: return .value(0x02)
            case 18, 19: return .value(0)
            case 4..<8: return .unknown("TCP sequence number")
            case 12: return .unknown("TCP data offset")
            case 14..<18: return .unknown("TCP window/checksum")
            case 20..<40: return .unknown("TCP options")
            default: return .beyond
            }
        }
        if l4 == 17 {
            return .unknown(off < 8 ? "UDP length/checksum" : "UDP payload")
        }
        return .unknown("transport header")
    }
}
