internal import CNetfilter

/// An attribute number from the kernel headers (`NFTA_…`, `NFT_…` enum values) as netlink carries it.
@inline(__always)
func nla<T: RawRepresentable>(_ value: T) -> UInt16 where T.RawValue: BinaryInteger {
    UInt16(truncatingIfNeeded: value.rawValue)
}

/// NLA_TYPE_MASK (a macro Swift does not import): an attribute's type without its NESTED and BYTEORDER flags.
let nlaTypeMask = ~UInt16(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

/// The form an attribute value must have before libnftnl may read it.
///
/// libnftnl ends the whole process (`abi_breakage()`, `exit(1)`) on a mis-sized value, `strdup`s strings without a
/// length and copies nft_data into fixed buffers, so nothing reaches it that these checks did not pass first.
enum AttrKind {
    case u8, u16, u32, u64
    /// A NUL-terminated string (as the kernel's `nla_put_string` writes it).
    case string
    /// Any bytes.
    case binary
    /// Nested attributes: empty or at least one attribute header (libnftnl exits on 1…3 bytes); the content is
    /// checked by the caller.
    case nested
    /// `struct nft_data` holding bytes (NFTA_DATA_VALUE, 1…64 bytes).
    case value
    /// `struct nft_data` holding bytes or a verdict.
    case valueOrVerdict
    /// One nested expression (NFTA_LIST_ELEM content: name and data), e.g. NFTA_DYNSET_EXPR.
    case expression
    /// A list of nested expressions, e.g. NFTA_DYNSET_EXPRESSIONS.
    case expressions
}

/// The attributes of one level, one at a time, without a closure per level (the element walk is the hot path,
/// also in debug builds).
struct AttributeWalk {
    let buffer: UnsafeRawBufferPointer
    private var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    /// The next attribute's type (without flags) and value, or nil at the end.
    /// - Throws: `NetlinkError.malformed` on a truncated attribute, as `forEachAttribute` does.
    mutating func next() throws -> (type: UInt16, value: UnsafeRawBufferPointer)? {
        guard offset + 4 <= buffer.count else { return nil }
        let len = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        guard len >= 4, offset + len <= buffer.count else {
            throw NetlinkError.malformed("attribute length \(len) at offset \(offset) of \(buffer.count) bytes")
        }
        let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & nlaTypeMask
        let value = UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + len)])
        offset += (len + 3) & ~3
        return (type, value)
    }
}

enum AttrCheck {
    /// Whether `v` has the form `kind` requires. Never throws: a damaged nested value is just not valid.
    static func valid(_ kind: AttrKind, _ v: UnsafeRawBufferPointer) -> Bool {
        switch kind {
        case .u8: v.count == 1
        case .u16: v.count == 2
        case .u32: v.count == 4
        case .u64: v.count == 8
        case .string: isString(v)
        case .binary: true
        case .nested: isNested(v)
        case .value: dataKind(v) == .value
        case .valueOrVerdict: dataKind(v) != nil
        case .expression: ExpressionSchema.isValid(nested: v)
        case .expressions: (try? everyListElement(v) { ExpressionSchema.isValid(nested: $0) }) ?? false
        }
    }

    static func isString(_ v: UnsafeRawBufferPointer) -> Bool { v.count >= 1 && v[v.count - 1] == 0 }

    static func isNested(_ v: UnsafeRawBufferPointer) -> Bool { v.isEmpty || v.count >= 4 }

    enum DataKind { case value, verdict }

    /// What a `struct nft_data` nest holds: exactly one NFTA_DATA_VALUE or one valid NFTA_DATA_VERDICT.
    static func dataKind(_ v: UnsafeRawBufferPointer) -> DataKind? {
        var walk = AttributeWalk(v)
        guard let (t, inner) = try? walk.next() else { return nil }
        guard case .some(.none) = try? walk.next() else { return nil }  // exactly one attribute
        switch t {
        case nla(NFTA_DATA_VALUE) where (1...Int(NFT_DATA_VALUE_MAXLEN)).contains(inner.count): return .value
        case nla(NFTA_DATA_VERDICT) where isVerdict(inner): return .verdict
        default: return nil
        }
    }

    /// A verdict libnftnl accepts: a known code, and a chain for jump and goto.
    static func isVerdict(_ v: UnsafeRawBufferPointer) -> Bool {
        var code: Int32?, hasChain = false
        do {
            try forEachAttribute(v) { t, inner in
                switch t {
                case nla(NFTA_VERDICT_CODE):
                    guard inner.count == 4 else { throw NetlinkError.malformed("verdict code") }
                    code = Int32(bitPattern: UInt32(bigEndian: inner.loadUnaligned(as: UInt32.self)))
                case nla(NFTA_VERDICT_CHAIN):
                    guard isString(inner) else { throw NetlinkError.malformed("verdict chain") }
                    hasChain = true
                case nla(NFTA_VERDICT_CHAIN_ID):
                    guard inner.count == 4 else { throw NetlinkError.malformed("verdict chain id") }
                default: break
                }
            }
        } catch {
            return false
        }
        guard let code else { return false }
        switch code {
        case NF_ACCEPT, NF_DROP, NF_QUEUE, NFT_CONTINUE.rawValue, NFT_BREAK.rawValue, NFT_RETURN.rawValue: return true
        case NFT_JUMP.rawValue, NFT_GOTO.rawValue: return hasChain
        default: return false
        }
    }

    /// Calls `body` with each NFTA_LIST_ELEM of a list; any other type, or `body` saying no, makes the list invalid.
    static func everyListElement(_ v: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) throws -> Bool {
        try everyListElementOfType(v, nla(NFTA_LIST_ELEM), body)
    }

    /// Like `everyListElement`, for lists whose entries have another type (NFTA_DEVICE_NAME).
    static func everyListElementOfType(
        _ v: UnsafeRawBufferPointer, _ type: UInt16, _ body: (UnsafeRawBufferPointer) -> Bool
    ) throws -> Bool {
        var ok = true
        try forEachAttribute(v) { t, inner in
            if t != type || !body(inner) { ok = false }
        }
        return ok
    }

    /// Checks every attribute of one level against `kinds` (indexed by type); attributes of other types are left
    /// alone (libnftnl skips types above its maximum and does not read the others).
    /// - Throws: `NetlinkError.malformed` naming `what` for a truncated or mis-formed attribute.
    static func check(_ v: UnsafeRawBufferPointer, _ kinds: [AttrKind?], _ what: String) throws {
        try forEachAttribute(v) { t, inner in try checkOne(t, inner, kinds, what) }
    }

    /// Checks one attribute of type `t` against `kinds`, as `check` does for each.
    @inline(__always)
    static func checkOne(_ t: UInt16, _ v: UnsafeRawBufferPointer, _ kinds: [AttrKind?], _ what: String) throws {
        guard Int(t) < kinds.count, let kind = kinds[Int(t)] else { return }
        guard valid(kind, v) else { throw NetlinkError.malformed("\(what): attribute \(t) is not a valid \(kind)") }
    }

    /// A table of kinds indexed by attribute type.
    static func kinds(_ pairs: [(UInt16, AttrKind)]) -> [AttrKind?] {
        var table = [AttrKind?](repeating: nil, count: Int(pairs.map(\.0).max() ?? 0) + 1)
        for (t, k) in pairs { table[Int(t)] = k }
        return table
    }
}
