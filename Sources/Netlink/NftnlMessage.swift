internal import CNetfilter

/// Handing one reply message to a libnftnl parser, and copying a message without the attributes libnftnl must not see.
enum NftnlMessage {
    /// Runs libnftnl's `parse` for `message` into a fresh object, calls `body` with it and frees it.
    /// - Throws: `NetlinkError.malformed` naming `what` when libnftnl refuses the message.
    static func parse<R>(
        _ message: UnsafeRawBufferPointer, _ what: String,
        alloc: () -> OpaquePointer?, free: (OpaquePointer) -> Void,
        parse: (UnsafePointer<nlmsghdr>, OpaquePointer) -> Int32,
        _ body: (OpaquePointer) throws -> R
    ) throws -> R {
        guard let object = alloc() else { throw NetlinkError.malformed("\(what): out of memory") }
        defer { free(object) }
        guard let base = message.baseAddress, message.count >= MemoryLayout<nlmsghdr>.size else {
            throw NetlinkError.malformed("\(what): truncated message")
        }
        guard parse(base.assumingMemoryBound(to: nlmsghdr.self), object) >= 0 else {
            throw NetlinkError.malformed("libnftnl could not parse \(what)")
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
        append(&out, type: type, count: value.count) { $0.append(contentsOf: value) }
    }

    static func append(_ out: inout [UInt8], type: UInt16, count: Int, _ write: (inout [UInt8]) -> Void) {
        let len = 4 + count
        out += [UInt8(len & 0xff), UInt8(len >> 8 & 0xff), UInt8(type & 0xff), UInt8(type >> 8)]
        write(&out)
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
            guard let replaced = try transform(type & 0x3fff, value) else { return append(&out, type: type, value) }
            if replaced.isEmpty { return }
            replaced.withUnsafeBytes { append(&out, type: type, $0) }
        }
        let len = UInt32(out.count)
        for k in 0..<4 { out[k] = UInt8(len >> (8 * UInt32(k)) & 0xff) }
        return out
    }

    /// The attributes of `buffer` except those whose type is in `dropped`, re-encoded.
    static func without(_ dropped: Set<UInt16>, in buffer: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out: [UInt8] = []
        try forEachRaw(buffer) { type, value in
            if !dropped.contains(type & 0x3fff) { append(&out, type: type, value) }
        }
        return out
    }
}
