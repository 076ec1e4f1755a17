internal import CNetfilter

/// Handing one reply message to a libnftnl parser, and copying a message without the attributes libnftnl must not see.
enum NftnlMessage {
    /// One kind of libnftnl object: how to allocate, parse into and free it.
    struct Parser: Sendable {
        let what: String
        let alloc: @Sendable () -> OpaquePointer?
        let free: @Sendable (OpaquePointer) -> Void
        let parse: @Sendable (UnsafePointer<nlmsghdr>, OpaquePointer) -> Int32

        static let gen = Parser(
            what: "NEWGEN", alloc: { nftnl_gen_alloc() }, free: { nftnl_gen_free($0) }, parse: { nftnl_gen_nlmsg_parse($0, $1) })
        static let table = Parser(
            what: "a table", alloc: { nftnl_table_alloc() }, free: { nftnl_table_free($0) }, parse: { nftnl_table_nlmsg_parse($0, $1) })
        static let chain = Parser(
            what: "a chain", alloc: { nftnl_chain_alloc() }, free: { nftnl_chain_free($0) }, parse: { nftnl_chain_nlmsg_parse($0, $1) })
        static let set = Parser(
            what: "a set", alloc: { nftnl_set_alloc() }, free: { nftnl_set_free($0) }, parse: { nftnl_set_nlmsg_parse($0, $1) })
        static let elements = Parser(
            what: "a set element list", alloc: { nftnl_set_alloc() }, free: { nftnl_set_free($0) },
            parse: { nftnl_set_elems_nlmsg_parse($0, $1) })
        static let rule = Parser(
            what: "a rule", alloc: { nftnl_rule_alloc() }, free: { nftnl_rule_free($0) }, parse: { nftnl_rule_nlmsg_parse($0, $1) })
    }

    /// Parses `message` into a fresh libnftnl object, calls `body` with it and frees it.
    /// - Throws: `NetlinkError.malformed` when libnftnl refuses the message.
    static func parse<R>(_ message: UnsafeRawBufferPointer, _ parser: Parser, _ body: (OpaquePointer) throws -> R) throws -> R {
        guard let object = parser.alloc() else { throw NetlinkError.malformed("\(parser.what): out of memory") }
        defer { parser.free(object) }
        guard let base = message.baseAddress, message.count >= MemoryLayout<nlmsghdr>.size else {
            throw NetlinkError.malformed("\(parser.what): truncated message")
        }
        // libmnl reads the top-level attributes up to the message length rounded up to 4 bytes, past what was checked;
        // the kernel's messages always end aligned (found by make fuzz-nftables: an attribute header across the end).
        let length = base.loadUnaligned(as: UInt32.self)
        guard length % 4 == 0, Int(length) <= message.count else {
            throw NetlinkError.malformed("\(parser.what): message length \(length) is not a multiple of 4 within \(message.count) bytes")
        }
        guard parser.parse(base.assumingMemoryBound(to: nlmsghdr.self), object) >= 0 else {
            throw NetlinkError.malformed("libnftnl could not parse \(parser.what)")
        }
        return try body(object)
    }

    /// Calls `body` with (type with its NESTED/BYTEORDER bits, value) for each attribute of one level.
    static func forEachRaw(_ buffer: UnsafeRawBufferPointer, _ body: (UInt16, UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while offset + 4 <= buffer.count {
            let len = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard len >= 4, offset + len <= buffer.count else {
                throw NetlinkError.malformed("attribute length \(len) at offset \(offset) of \(buffer.count) bytes")
            }
            let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            try body(type, UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + len)]))
            offset += (len + 3) & ~3
        }
    }

    /// Appends one attribute (header, value, padding) to `out`.
    static func append(_ out: inout [UInt8], type: UInt16, _ value: UnsafeRawBufferPointer) {
        let len = 4 + value.count
        out += [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(type & 0xff), UInt8(type >> 8)]
        out.append(contentsOf: value)
        while out.count % 4 != 0 { out.append(0) }
    }

    /// A copy of `message` (header and nfgenmsg as they are) whose top-level attributes are what `transform` returns
    /// for each: the value unchanged (`nil`), another value, or nothing (an empty array drops the attribute).
    static func rewrite(
        _ message: UnsafeRawBufferPointer, _ transform: (UInt16, UnsafeRawBufferPointer) throws -> [UInt8]?
    ) throws -> [UInt8] {
        let headerLength = 16 + 4  // nlmsghdr + nfgenmsg
        var out = Array(message[0..<min(headerLength, message.count)])
        try forEachRaw(UnsafeRawBufferPointer(rebasing: message[headerLength...])) { type, value in
            guard let replaced = try transform(type & nlaTypeMask, value) else { return append(&out, type: type, value) }
            if replaced.isEmpty { return }
            replaced.withUnsafeBytes { append(&out, type: type, $0) }
        }
        let len = UInt32(out.count)
        for k in 0..<4 { out[k] = UInt8(len >> (8 * UInt32(k)) & 0xff) }
        return out
    }
}
