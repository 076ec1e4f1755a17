/// nf_tables wire constants (linux/netfilter/nf_tables.h, nfnetlink.h) and the read-only requests built from them.
///
/// The numbers are spelled out here rather than imported from the C headers so the decoder (which also runs on
/// recorded captures) is plain Swift, and so every value the reader depends on is visible in one place.
enum NFT {
    static let subsystem: UInt16 = 10  // NFNL_SUBSYS_NFTABLES

    // enum nf_tables_msg_types
    static let newTable: UInt16 = 0, getTable: UInt16 = 1
    static let newChain: UInt16 = 3, getChain: UInt16 = 4
    static let newRule: UInt16 = 6, getRule: UInt16 = 7
    static let newSet: UInt16 = 9, getSet: UInt16 = 10
    static let newSetElem: UInt16 = 12, getSetElem: UInt16 = 13
    static let newGen: UInt16 = 15, getGen: UInt16 = 16
    /// The only message types this tool ever sends: nf_tables GET requests.
    static let readOnlyTypes: Set<UInt16> = [getTable, getChain, getRule, getSet, getSetElem, getGen]

    // netlink flags
    static let request: UInt16 = 0x1, ack: UInt16 = 0x4, dump: UInt16 = 0x300

    // NFPROTO_*
    static let unspec: UInt8 = 0

    static func messageType(_ nftType: UInt16) -> UInt16 { subsystem << 8 | nftType }
}

/// Attribute numbers, one namespace per nf_tables object.
enum NFTA {
    static let listElem: UInt16 = 1  // NFTA_LIST_ELEM
    enum Table { static let name: UInt16 = 1, flags: UInt16 = 2, handle: UInt16 = 4 }
    enum Chain {
        static let table: UInt16 = 1, handle: UInt16 = 2, name: UInt16 = 3, hook: UInt16 = 4, policy: UInt16 = 5
        static let type: UInt16 = 7, flags: UInt16 = 10
    }
    enum Hook { static let hooknum: UInt16 = 1, priority: UInt16 = 2, dev: UInt16 = 3, devs: UInt16 = 4 }
    static let deviceName: UInt16 = 1  // NFTA_DEVICE_NAME
    enum Rule {
        static let table: UInt16 = 1, chain: UInt16 = 2, handle: UInt16 = 3, expressions: UInt16 = 4, userdata: UInt16 = 7
    }
    enum Expr { static let name: UInt16 = 1, data: UInt16 = 2 }
    enum Set {
        static let table: UInt16 = 1, name: UInt16 = 2, flags: UInt16 = 3, keyType: UInt16 = 4, keyLen: UInt16 = 5
        static let dataType: UInt16 = 6, dataLen: UInt16 = 7, desc: UInt16 = 9, userdata: UInt16 = 13
        static let objType: UInt16 = 15, handle: UInt16 = 16
    }
    enum SetDesc { static let concat: UInt16 = 2 }
    static let setFieldLen: UInt16 = 1  // NFTA_SET_FIELD_LEN
    enum SetElemList { static let table: UInt16 = 1, set: UInt16 = 2, elements: UInt16 = 3 }
    enum SetElem {
        static let key: UInt16 = 1, data: UInt16 = 2, flags: UInt16 = 3, objref: UInt16 = 9, keyEnd: UInt16 = 10
    }
    enum Data { static let value: UInt16 = 1, verdict: UInt16 = 2 }
    enum Verdict { static let code: UInt16 = 1, chain: UInt16 = 2 }
    static let genID: UInt16 = 1  // NFTA_GEN_ID
}

/// The nf_tables requests this tool sends. Only GET requests can be built: there is no way to express a change.
public enum NftablesRequest: Equatable, Sendable {
    /// The ruleset generation (not a dump: answered by one NEWGEN, then the ACK we ask for).
    case generation
    case tables
    case chains
    case sets
    /// The elements of one set; the kernel looks the table up per family, so it must be the table's family.
    case setElements(family: UInt8, table: String, set: String)
    /// Every rule of every chain (one dump; quadratic in the kernel for big rulesets).
    case allRules
    /// The rules of one chain (linear overall when issued per chain).
    case chainRules(family: UInt8, table: String, chain: String)

    /// The NFT_MSG_GET* message type.
    var nftType: UInt16 {
        switch self {
        case .generation: NFT.getGen
        case .tables: NFT.getTable
        case .chains: NFT.getChain
        case .sets: NFT.getSet
        case .setElements: NFT.getSetElem
        case .allRules, .chainRules: NFT.getRule
        }
    }

    /// The netlink message bytes for sequence number `seq`.
    public func bytes(seq: UInt32) -> [UInt8] {
        let family: UInt8
        switch self {
        case .setElements(let f, _, _), .chainRules(let f, _, _): family = f
        default: family = NFT.unspec
        }
        let flags: UInt16 = self == .generation ? NFT.request | NFT.ack : NFT.request | NFT.dump
        // struct nfgenmsg: family, version NFNETLINK_V0, res_id 0.
        var b = RequestBuilder(type: NFT.messageType(nftType), flags: flags, seq: seq, header: [family, 0, 0, 0])
        switch self {
        case .setElements(_, let table, let set):
            b.attribute(NFTA.SetElemList.table, string: table)
            b.attribute(NFTA.SetElemList.set, string: set)
        case .chainRules(_, let table, let chain):
            b.attribute(NFTA.Rule.table, string: table)
            b.attribute(NFTA.Rule.chain, string: chain)
        default: break
        }
        return b.bytes
    }

    /// Whether `message` (raw bytes of one request) is an nf_tables GET: the gate every send goes through.
    static func isReadOnly(_ message: [UInt8]) -> Bool {
        guard message.count >= 16 else { return false }
        let type = UInt16(message[4]) | UInt16(message[5]) << 8
        return type >> 8 == NFT.subsystem && NFT.readOnlyTypes.contains(type & 0xff)
    }

    var label: String {
        switch self {
        case .generation: "NFT_MSG_GETGEN"
        case .tables: "the nf_tables table dump"
        case .chains: "the nf_tables chain dump"
        case .sets: "the nf_tables set dump"
        case .setElements(_, let t, let s): "the element dump of set \(t)/\(s)"
        case .allRules: "the nf_tables rule dump"
        case .chainRules(_, let t, let c): "the rule dump of chain \(t)/\(c)"
        }
    }
}

// MARK: - Allocation-free attribute walking

/// Calls `body` with (type without the NESTED/BYTEORDER bits, value) for each `nlattr` in `buffer`.
/// - Throws: `NetlinkError.malformed` on a truncated attribute, so a damaged reply is never half-read silently.
@inline(__always)
func forEachAttribute(_ buffer: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) throws -> Void) throws {
    var offset = 0
    let count = buffer.count
    while offset + 4 <= count {
        let len = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        guard len >= 4, offset + len <= count else {
            throw NetlinkError.malformed("attribute length \(len) at offset \(offset) of \(count) bytes")
        }
        let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
        try body(type, UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + len)]))
        offset += (len + 3) & ~3
    }
}

/// Reading fixed-size nf_tables attribute values (big endian on the wire) without trusting their length.
enum Wire {
    static func be32(_ v: UnsafeRawBufferPointer) throws -> UInt32 {
        guard v.count == 4 else { throw NetlinkError.malformed("expected a 4-byte attribute, found \(v.count) bytes") }
        return UInt32(bigEndian: v.loadUnaligned(as: UInt32.self))
    }
    static func be64(_ v: UnsafeRawBufferPointer) throws -> UInt64 {
        guard v.count == 8 else { throw NetlinkError.malformed("expected an 8-byte attribute, found \(v.count) bytes") }
        return UInt64(bigEndian: v.loadUnaligned(as: UInt64.self))
    }
    static func be16(_ v: UnsafeRawBufferPointer) throws -> UInt16 {
        guard v.count == 2 else { throw NetlinkError.malformed("expected a 2-byte attribute, found \(v.count) bytes") }
        return UInt16(bigEndian: v.loadUnaligned(as: UInt16.self))
    }
    static func u8(_ v: UnsafeRawBufferPointer) throws -> UInt8 {
        guard v.count == 1 else { throw NetlinkError.malformed("expected a 1-byte attribute, found \(v.count) bytes") }
        return v[0]
    }
    /// A NUL-terminated string (the terminator and anything after it are not part of the value).
    static func string(_ v: UnsafeRawBufferPointer) -> String {
        let end = v.firstIndex(of: 0) ?? v.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: v[0..<end]), as: UTF8.self)
    }

    /// `struct nft_data` nested attribute: either NFTA_DATA_VALUE bytes or an NFTA_DATA_VERDICT.
    enum DataValue { case value([UInt8]), verdict(HostModel.Verdict) }

    static func data(_ v: UnsafeRawBufferPointer) throws -> DataValue {
        var result: DataValue?
        try forEachAttribute(v) { t, inner in
            switch t {
            case NFTA.Data.value: result = .value(Array(inner))
            case NFTA.Data.verdict: result = .verdict(try verdict(inner))
            default: throw NetlinkError.malformed("unexpected nft_data attribute \(t)")
            }
        }
        guard let result else { throw NetlinkError.malformed("empty nft_data attribute") }
        return result
    }

    static func dataBytes(_ v: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard case .value(let b) = try data(v) else { throw NetlinkError.malformed("expected data, found a verdict") }
        return b
    }

    static func verdict(_ v: UnsafeRawBufferPointer) throws -> HostModel.Verdict {
        var code: Int32?
        var chain: String?
        try forEachAttribute(v) { t, inner in
            switch t {
            case NFTA.Verdict.code: code = Int32(bitPattern: try be32(inner))
            case NFTA.Verdict.chain: chain = string(inner)
            default: break  // NFTA_VERDICT_CHAIN_ID only appears in requests
            }
        }
        guard let code else { throw NetlinkError.malformed("verdict without a code") }
        return HostModel.Verdict(code: code, chain: chain)
    }
}

import HostModel
