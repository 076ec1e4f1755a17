internal import CNetfilter
import HostModel

/// Sets and set elements parsed by libnftnl and converted at once into `NFTSet` and `SetElement`.
///
/// Set and element expressions (per-element counters, a set's `counter` or `timeout` statements) are not part of the
/// model and may name expressions libnftnl does not know (which fails the whole message), so they are removed from
/// the message before libnftnl sees it.
enum NftnlSets {
    private static let setKinds = AttrCheck.kinds([
        (nla(NFTA_SET_TABLE), .string), (nla(NFTA_SET_NAME), .string), (nla(NFTA_SET_FLAGS), .u32),
        (nla(NFTA_SET_KEY_TYPE), .u32), (nla(NFTA_SET_KEY_LEN), .u32), (nla(NFTA_SET_DATA_TYPE), .u32),
        (nla(NFTA_SET_DATA_LEN), .u32), (nla(NFTA_SET_POLICY), .u32), (nla(NFTA_SET_ID), .u32),
        (nla(NFTA_SET_TIMEOUT), .u64), (nla(NFTA_SET_GC_INTERVAL), .u32), (nla(NFTA_SET_USERDATA), .binary),
        (nla(NFTA_SET_OBJ_TYPE), .u32), (nla(NFTA_SET_HANDLE), .u64), (nla(NFTA_SET_DESC), .nested)
    ])
    private static let setExpressions: Set<UInt16> = [nla(NFTA_SET_EXPR), nla(NFTA_SET_EXPRESSIONS)]

    /// The set a NEWSET message describes, without elements, and its table's name.
    static func set(_ message: Message) throws -> (table: String, set: NFTSet) {
        let attrs = NftnlObjects.attributes(message)
        try AttrCheck.check(attrs, setKinds, "set")
        var hasExpressions = false
        try forEachAttribute(attrs) { t, v in
            if t == nla(NFTA_SET_DESC) { try checkDescription(v) }
            if setExpressions.contains(t) { hasExpressions = true }
        }
        if hasExpressions {
            let copy = try NftnlMessage.rewrite(message.bytes) { t, _ in setExpressions.contains(t) ? [] : nil }
            return try copy.withUnsafeBytes { try parseSet($0) }
        }
        return try parseSet(message.bytes)
    }

    private static func parseSet(_ bytes: UnsafeRawBufferPointer) throws -> (table: String, set: NFTSet) {
        try NftnlMessage.parse(bytes, .set) { s in
            func has(_ a: nftnl_set_attr) -> Bool { nftnl_set_is_set(s, nla(a)) }
            func u32(_ a: nftnl_set_attr) -> UInt32? { has(a) ? nftnl_set_get_u32(s, nla(a)) : nil }
            func str(_ a: nftnl_set_attr) -> String? { has(a) ? nftnl_set_get_str(s, nla(a)).map { String(cString: $0) } : nil }
            guard let table = str(NFTNL_SET_TABLE), let name = str(NFTNL_SET_NAME) else {
                throw NetlinkError.malformed("set without table or name")
            }
            var set = NFTSet(
                name: name, handle: has(NFTNL_SET_HANDLE) ? nftnl_set_get_u64(s, nla(NFTNL_SET_HANDLE)) : 0,
                flags: u32(NFTNL_SET_FLAGS) ?? 0, keyType: u32(NFTNL_SET_KEY_TYPE) ?? 0, keyLength: u32(NFTNL_SET_KEY_LEN) ?? 0,
                dataType: u32(NFTNL_SET_DATA_TYPE), dataLength: u32(NFTNL_SET_DATA_LEN), objectType: u32(NFTNL_SET_OBJ_TYPE))
            var count: UInt32 = 0
            if has(NFTNL_SET_DESC_CONCAT), let p = nftnl_set_get_data(s, nla(NFTNL_SET_DESC_CONCAT), &count) {
                // libnftnl gives the field count as the length of its array of u8 field lengths.
                set.concatLengths = UnsafeRawBufferPointer(start: p, count: Int(count)).map(UInt32.init)
            }
            if has(NFTNL_SET_USERDATA), let p = nftnl_set_get_data(s, nla(NFTNL_SET_USERDATA), &count) {
                set.keyByteOrder = UserData.keyByteOrder(UnsafeRawBufferPointer(start: p, count: Int(count)))
            }
            return (table, set)
        }
    }

    /// NFTA_SET_DESC: libnftnl ends the process on a mis-sized size or field length and keeps at most
    /// NFT_REG32_COUNT (16) field lengths in a fixed array of bytes.
    private static func checkDescription(_ v: UnsafeRawBufferPointer) throws {
        var fields = 0
        try forEachAttribute(v) { t, inner in
            switch t {
            case nla(NFTA_SET_DESC_SIZE):
                guard inner.count == 4 else { throw NetlinkError.malformed("set description: mis-sized size") }
            case nla(NFTA_SET_DESC_CONCAT):
                try forEachAttribute(inner) { et, field in
                    guard et == nla(NFTA_LIST_ELEM) else { return }
                    try forEachAttribute(field) { ft, fv in
                        guard ft == nla(NFTA_SET_FIELD_LEN) else { return }
                        guard fv.count == 4, UInt32(bigEndian: fv.loadUnaligned(as: UInt32.self)) <= UInt8.max else {
                            throw NetlinkError.malformed("set description: mis-sized field length")
                        }
                        fields += 1
                    }
                }
            default: break
            }
        }
        guard fields <= Int(NFT_REG32_15.rawValue - NFT_REG32_00.rawValue + 1) else {
            throw NetlinkError.malformed("set description: \(fields) concatenated fields, at most 16")
        }
    }

    private static let listKinds = AttrCheck.kinds([
        (nla(NFTA_SET_ELEM_LIST_TABLE), .string), (nla(NFTA_SET_ELEM_LIST_SET), .string), (nla(NFTA_SET_ELEM_LIST_SET_ID), .u32),
        (nla(NFTA_SET_ELEM_LIST_ELEMENTS), .nested)
    ])
    private static let elementKinds = AttrCheck.kinds([
        (nla(NFTA_SET_ELEM_KEY), .value), (nla(NFTA_SET_ELEM_DATA), .valueOrVerdict), (nla(NFTA_SET_ELEM_FLAGS), .u32),
        (nla(NFTA_SET_ELEM_TIMEOUT), .u64), (nla(NFTA_SET_ELEM_EXPIRATION), .u64), (nla(NFTA_SET_ELEM_USERDATA), .binary),
        (nla(NFTA_SET_ELEM_OBJREF), .string), (nla(NFTA_SET_ELEM_KEY_END), .value)
    ])
    /// Element attributes libnftnl must not see: expressions, and types above the last one libnftnl 1.2 knows
    /// (its parser would store them past the end of its attribute table).
    private static func isDropped(elementAttribute t: UInt16) -> Bool {
        t == A.expr || t >= A.expressions
    }

    /// The element attribute numbers the hot loops compare with, computed once.
    private enum A {
        static let elements = nla(NFTA_SET_ELEM_LIST_ELEMENTS)
        static let key = nla(NFTA_SET_ELEM_KEY), keyEnd = nla(NFTA_SET_ELEM_KEY_END), flags = nla(NFTA_SET_ELEM_FLAGS)
        static let expr = nla(NFTA_SET_ELEM_EXPR), expressions = nla(NFTA_SET_ELEM_EXPRESSIONS)
        static let value = nla(NFTA_DATA_VALUE)
        // libnftnl's getters
        static let getKey = UInt16(NFTNL_SET_ELEM_KEY), getKeyEnd = UInt16(NFTNL_SET_ELEM_KEY_END)
        static let getFlags = UInt16(NFTNL_SET_ELEM_FLAGS), getVerdict = UInt16(NFTNL_SET_ELEM_VERDICT)
        static let getChain = UInt16(NFTNL_SET_ELEM_CHAIN), getData = UInt16(NFTNL_SET_ELEM_DATA)
        static let getObjref = UInt16(NFTNL_SET_ELEM_OBJREF)
    }

    /// A key (or key end) nest holding exactly one NFTA_DATA_VALUE of 1…64 bytes: the common case, checked inline.
    @inline(__always)
    private static func isPlainValue(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count >= 8 else { return false }
        let len = Int(v.loadUnaligned(as: UInt16.self))
        let type = v.loadUnaligned(fromByteOffset: 2, as: UInt16.self) & nlaTypeMask
        return type == A.value && len >= 5 && len <= 4 + 64 && (len + 3) & ~3 == v.count
    }

    /// What the check of a NEWSETELEM message found out about its elements.
    private struct ElementSurvey {
        /// How many elements the message lists (what the set's list grows by).
        var count = 0
        /// Every element carries only a plain key, key end and flags: three getters convert it.
        var allPlain = true
        /// Some element carries attributes libnftnl must not see: it parses a copy without them.
        var needsCopy = false
    }

    /// Checks every element attribute libnftnl will read; the common ones (a plain key or key end, 4-byte flags)
    /// inline, the others against `elementKinds`.
    /// - Throws: `NetlinkError.malformed` for a truncated or mis-formed attribute.
    private static func survey(_ attrs: UnsafeRawBufferPointer) throws -> ElementSurvey {
        var survey = ElementSurvey()
        var walk = AttributeWalk(attrs)
        while let (t, list) = try walk.next() {
            guard t == A.elements else { continue }
            var elements = AttributeWalk(list)
            while let (_, element) = try elements.next() {
                survey.count += 1
                var attributes = AttributeWalk(element)
                while let (et, v) = try attributes.next() {
                    if (et == A.key || et == A.keyEnd) && isPlainValue(v) || et == A.flags && v.count == 4 { continue }
                    survey.allPlain = false
                    if isDropped(elementAttribute: et) {
                        survey.needsCopy = true
                    } else {
                        try AttrCheck.checkOne(et, v, elementKinds, "set element")
                    }
                }
            }
        }
        return survey
    }

    /// Calls `body` with the table and set of one NEWSETELEM message and a function that appends its elements to
    /// a list (the set's own, so they are not copied again).
    static func elements(
        _ message: Message, _ body: (String, String, (inout [SetElement]) -> Void) throws -> Void
    ) throws {
        let attrs = NftnlObjects.attributes(message)
        try AttrCheck.check(attrs, listKinds, "set element list")
        let survey = try survey(attrs)
        guard survey.needsCopy else { return try parseElements(message.bytes, survey, body) }
        let copy = try NftnlMessage.rewrite(message.bytes) { t, list in
            guard t == nla(NFTA_SET_ELEM_LIST_ELEMENTS) else { return nil }
            var out: [UInt8] = []
            try NftnlMessage.forEachRaw(list) { type, element in
                let kept = try strip(element)
                kept.withUnsafeBytes { NftnlMessage.append(&out, type: type, $0) }
            }
            return out
        }
        try copy.withUnsafeBytes { try parseElements($0, survey, body) }
    }

    private static func strip(_ element: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out: [UInt8] = []
        try NftnlMessage.forEachRaw(element) { type, value in
            if !isDropped(elementAttribute: type & nlaTypeMask) { NftnlMessage.append(&out, type: type, value) }
        }
        return out
    }

    private static func parseElements(
        _ bytes: UnsafeRawBufferPointer, _ survey: ElementSurvey,
        _ body: (String, String, (inout [SetElement]) -> Void) throws -> Void
    ) throws {
        try NftnlMessage.parse(bytes, .elements) { s in
            func str(_ a: nftnl_set_attr) -> String? {
                nftnl_set_is_set(s, nla(a)) ? nftnl_set_get_str(s, nla(a)).map { String(cString: $0) } : nil
            }
            guard let table = str(NFTNL_SET_TABLE), let name = str(NFTNL_SET_NAME) else {
                throw NetlinkError.malformed("set element message without table or set")
            }
            try body(table, name) { list in
                // Grown geometrically: a large set arrives in hundreds of messages.
                let needed = list.count + survey.count
                if list.capacity < needed { list.reserveCapacity(max(needed, 2 * list.capacity)) }
                _ = withUnsafeMutablePointer(to: &list) { list in
                    // A C callback per element appends it to the list `context` points to.
                    if survey.allPlain {
                        nftnl_set_elem_foreach(
                            s,
                            { e, context in
                                guard let e, let context else { return -1 }
                                NftnlSets.appendPlain(e, to: &context.assumingMemoryBound(to: [SetElement].self).pointee)
                                return 0
                            }, list)
                    } else {
                        nftnl_set_elem_foreach(
                            s,
                            { e, context in
                                guard let e, let context else { return -1 }
                                context.assumingMemoryBound(to: [SetElement].self).pointee.append(NftnlSets.element(e))
                                return 0
                            }, list)
                    }
                }
            }
        }
    }

    /// Appends an element the survey found to carry only a key, a key end and flags (the common case: three
    /// getters instead of seven).
    private static func appendPlain(_ e: OpaquePointer, to list: inout [SetElement]) {
        var len: UInt32 = 0
        let key = nftnl_set_elem_get(e, A.getKey, &len).map { Bytes(Array(UnsafeRawBufferPointer(start: $0, count: Int(len)))) }
        let keyEnd = nftnl_set_elem_get(e, A.getKeyEnd, &len).map { Bytes(Array(UnsafeRawBufferPointer(start: $0, count: Int(len)))) }
        var flags: UInt32 = 0
        if let p = nftnl_set_elem_get(e, A.getFlags, &len), len == 4 { flags = p.loadUnaligned(as: UInt32.self) }
        list.append(SetElement(key: key ?? Bytes([]), keyEnd: keyEnd, flags: flags))
    }

    /// One element; a catch-all element (flag 2) has no key.
    private static func element(_ e: OpaquePointer) -> SetElement {
        // nftnl_set_elem_get says NULL for an attribute the element does not carry.
        var len: UInt32 = 0
        func bytes(_ p: UnsafeRawPointer) -> [UInt8] { Array(UnsafeRawBufferPointer(start: p, count: Int(len))) }
        var element = SetElement(key: Bytes([]))
        if let p = nftnl_set_elem_get(e, A.getKey, &len) { element.key = Bytes(bytes(p)) }
        if let p = nftnl_set_elem_get(e, A.getKeyEnd, &len) { element.keyEnd = Bytes(bytes(p)) }
        if let p = nftnl_set_elem_get(e, A.getFlags, &len), len == 4 { element.flags = p.loadUnaligned(as: UInt32.self) }
        if let p = nftnl_set_elem_get(e, A.getVerdict, &len), len == 4 {
            let code = Int32(bitPattern: p.loadUnaligned(as: UInt32.self))
            let chain = nftnl_set_elem_get(e, A.getChain, &len).map {
                rawString(UnsafeRawBufferPointer(start: $0, count: Int(len)))
            }
            element.verdict = Verdict(code: code, chain: chain)
        }
        if let p = nftnl_set_elem_get(e, A.getData, &len) { element.data = Bytes(bytes(p)) }
        if let p = nftnl_set_elem_get(e, A.getObjref, &len) {
            element.objref = rawString(UnsafeRawBufferPointer(start: p, count: Int(len)))
        }
        return element
    }
}
