internal import CNetfilter

/// nf_tables wire constants, by their names in linux/netfilter/nf_tables.h and nfnetlink.h (imported through
/// CNetfilter), and the read-only requests built from them.
enum NFT {
    static let subsystem = UInt16(NFNL_SUBSYS_NFTABLES)

    // enum nf_tables_msg_types
    static let newTable = nla(NFT_MSG_NEWTABLE), getTable = nla(NFT_MSG_GETTABLE)
    static let newChain = nla(NFT_MSG_NEWCHAIN), getChain = nla(NFT_MSG_GETCHAIN)
    static let newRule = nla(NFT_MSG_NEWRULE), getRule = nla(NFT_MSG_GETRULE)
    static let newSet = nla(NFT_MSG_NEWSET), getSet = nla(NFT_MSG_GETSET)
    static let newSetElem = nla(NFT_MSG_NEWSETELEM), getSetElem = nla(NFT_MSG_GETSETELEM)
    static let newGen = nla(NFT_MSG_NEWGEN), getGen = nla(NFT_MSG_GETGEN)
    /// The only message types this tool ever sends: nf_tables GET requests.
    static let readOnlyTypes: Set<UInt16> = [getTable, getChain, getRule, getSet, getSetElem, getGen]

    // netlink flags
    static let request = UInt16(NLM_F_REQUEST), ack = UInt16(NLM_F_ACK), dump = UInt16(NLM_F_DUMP)

    static let unspec = UInt8(NFPROTO_UNSPEC)

    static func messageType(_ nftType: UInt16) -> UInt16 { subsystem << 8 | nftType }
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
            b.attribute(nla(NFTA_SET_ELEM_LIST_TABLE), string: table)
            b.attribute(nla(NFTA_SET_ELEM_LIST_SET), string: set)
        case .chainRules(_, let table, let chain):
            b.attribute(nla(NFTA_RULE_TABLE), string: table)
            b.attribute(nla(NFTA_RULE_CHAIN), string: chain)
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
        let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & nlaTypeMask
        try body(type, UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + len)]))
        offset += (len + 3) & ~3
    }
}
