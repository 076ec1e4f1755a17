internal import CNetfilter
import HostModel

/// Generations, tables, chains and sets parsed by libnftnl (`nftnl_*_nlmsg_parse`) and converted at once into
/// HostModel values; the libnftnl object is freed before returning. Each message is checked first
/// (`AttrCheck`): libnftnl ends the process on a mis-sized attribute.
enum NftnlObjects {
    static func generation(_ message: Message) throws -> UInt32 {
        try AttrCheck.check(attributes(message), [nil, .u32], "NEWGEN")  // NFTA_GEN_ID
        return try NftnlMessage.parse(message.bytes, .gen) { g in
            guard nftnl_gen_is_set(g, UInt16(NFTNL_GEN_ID)) else { throw NetlinkError.malformed("NEWGEN without NFTA_GEN_ID") }
            return nftnl_gen_get_u32(g, UInt16(NFTNL_GEN_ID))
        }
    }

    struct TableInfo { var name: String, flags: UInt32, handle: UInt64 }

    private static let tableKinds = AttrCheck.kinds([
        (nla(NFTA_TABLE_NAME), .string), (nla(NFTA_TABLE_FLAGS), .u32), (nla(NFTA_TABLE_USE), .u32),
        (nla(NFTA_TABLE_HANDLE), .u64), (nla(NFTA_TABLE_USERDATA), .binary), (nla(NFTA_TABLE_OWNER), .u32)
    ])

    static func table(_ message: Message) throws -> TableInfo {
        try AttrCheck.check(attributes(message), tableKinds, "table")
        return try NftnlMessage.parse(message.bytes, .table) { t in
            func has(_ a: nftnl_table_attr) -> Bool { nftnl_table_is_set(t, nla(a)) }
            guard has(NFTNL_TABLE_NAME), let name = nftnl_table_get_str(t, nla(NFTNL_TABLE_NAME)) else {
                throw NetlinkError.malformed("table without a name")
            }
            return TableInfo(
                name: String(cString: name),
                flags: has(NFTNL_TABLE_FLAGS) ? nftnl_table_get_u32(t, nla(NFTNL_TABLE_FLAGS)) : 0,
                handle: has(NFTNL_TABLE_HANDLE) ? nftnl_table_get_u64(t, nla(NFTNL_TABLE_HANDLE)) : 0)
        }
    }

    struct ChainInfo {
        var table: String, name: String, handle: UInt64, flags: UInt32
        /// Present for a base chain (the message had NFTA_CHAIN_HOOK).
        var hook: (number: UInt32, priority: Int32, devices: [String], policy: UInt32?, type: String?)?
    }

    private static let chainKinds = AttrCheck.kinds([
        (nla(NFTA_CHAIN_TABLE), .string), (nla(NFTA_CHAIN_HANDLE), .u64), (nla(NFTA_CHAIN_NAME), .string),
        (nla(NFTA_CHAIN_POLICY), .u32), (nla(NFTA_CHAIN_USE), .u32), (nla(NFTA_CHAIN_TYPE), .string),
        (nla(NFTA_CHAIN_FLAGS), .u32), (nla(NFTA_CHAIN_ID), .u32), (nla(NFTA_CHAIN_USERDATA), .binary),
        (nla(NFTA_CHAIN_HOOK), .nested), (nla(NFTA_CHAIN_COUNTERS), .nested)
    ])

    static func chain(_ message: Message) throws -> ChainInfo {
        let attrs = attributes(message)
        try AttrCheck.check(attrs, chainKinds, "chain")
        let hasHook = try checkChainNests(attrs)
        return try NftnlMessage.parse(message.bytes, .chain) { c in
            func has(_ a: nftnl_chain_attr) -> Bool { nftnl_chain_is_set(c, nla(a)) }
            func str(_ a: nftnl_chain_attr) -> String? { has(a) ? nftnl_chain_get_str(c, nla(a)).map { String(cString: $0) } : nil }
            guard let table = str(NFTNL_CHAIN_TABLE), let name = str(NFTNL_CHAIN_NAME) else {
                throw NetlinkError.malformed("chain without table or name")
            }
            var info = ChainInfo(
                table: table, name: name,
                handle: has(NFTNL_CHAIN_HANDLE) ? nftnl_chain_get_u64(c, nla(NFTNL_CHAIN_HANDLE)) : 0,
                flags: has(NFTNL_CHAIN_FLAGS) ? nftnl_chain_get_u32(c, nla(NFTNL_CHAIN_FLAGS)) : 0)
            guard hasHook else { return info }
            var devices: [String] = []
            if has(NFTNL_CHAIN_DEVICES), var p = nftnl_chain_get_array(c, nla(NFTNL_CHAIN_DEVICES)) {
                while let dev = p.pointee { devices.append(String(cString: dev)); p += 1 }
            }
            if let single = str(NFTNL_CHAIN_DEV), !devices.contains(single) { devices.insert(single, at: 0) }
            info.hook = (
                number: nftnl_chain_get_u32(c, nla(NFTNL_CHAIN_HOOKNUM)),
                priority: has(NFTNL_CHAIN_PRIO) ? nftnl_chain_get_s32(c, nla(NFTNL_CHAIN_PRIO)) : 0,
                devices: devices,
                policy: has(NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, nla(NFTNL_CHAIN_POLICY)) : nil,
                type: str(NFTNL_CHAIN_TYPE)
            )
            return info
        }
    }

    /// Checks NFTA_CHAIN_HOOK and NFTA_CHAIN_COUNTERS; returns whether the chain has a hook.
    /// - Throws: `NetlinkError.malformed` for a hook without a hook number or a mis-formed nested attribute.
    private static func checkChainNests(_ attrs: UnsafeRawBufferPointer) throws -> Bool {
        var hasHook = false
        let hookKinds = AttrCheck.kinds([(nla(NFTA_HOOK_HOOKNUM), .u32), (nla(NFTA_HOOK_PRIORITY), .u32), (nla(NFTA_HOOK_DEV), .string)])
        try forEachAttribute(attrs) { t, v in
            switch t {
            case nla(NFTA_CHAIN_HOOK):
                try AttrCheck.check(v, hookKinds, "chain hook")
                var number = false
                try forEachAttribute(v) { ht, hv in
                    if ht == nla(NFTA_HOOK_HOOKNUM) { number = true }
                    if ht == nla(NFTA_HOOK_DEVS) {
                        let ok = try AttrCheck.everyListElementOfType(hv, nla(NFTA_DEVICE_NAME)) { AttrCheck.isString($0) }
                        guard ok else { throw NetlinkError.malformed("chain hook: a device that is not a name") }
                    }
                }
                guard number else { throw NetlinkError.malformed("chain hook without a hook number") }
                hasHook = true
            case nla(NFTA_CHAIN_COUNTERS):
                try AttrCheck.check(v, AttrCheck.kinds([(nla(NFTA_COUNTER_BYTES), .u64), (nla(NFTA_COUNTER_PACKETS), .u64)]), "chain counters")
            default: break
            }
        }
        return hasHook
    }

    /// The attributes after `nfgenmsg`.
    static func attributes(_ message: Message) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: message.payload[4...])
    }
}
