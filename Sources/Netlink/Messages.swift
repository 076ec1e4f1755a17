/// One netlink message inside a received datagram (only valid while the datagram lives).
public struct Message {
    public let type: UInt16
    public let flags: UInt16
    public let seq: UInt32
    public let portID: UInt32
    /// Everything after the 16-byte `nlmsghdr`.
    public let payload: UnsafeRawBufferPointer
    /// The whole message, `nlmsghdr` included: what libnftnl's parsers take.
    public let bytes: UnsafeRawBufferPointer

    /// NLM_F_DUMP_INTR: the dump was disturbed by a concurrent change; the whole read must be redone.
    public var isDumpInterrupted: Bool { flags & 0x10 != 0 }
}

public enum MessageKind: UInt16 {
    case noop = 1, error = 2, done = 3, overrun = 4
}

/// Splits a datagram into messages; stops at the first truncated header.
public func forEachMessage(in datagram: UnsafeRawBufferPointer, _ body: (Message) throws -> Void) throws {
    var offset = 0
    while offset + 16 <= datagram.count {
        let len = Int(datagram.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        guard len >= 16, offset + len <= datagram.count else {
            throw NetlinkError.malformed("message length \(len) at offset \(offset) of a \(datagram.count)-byte datagram")
        }
        let message = Message(
            type: datagram.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
            flags: datagram.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
            seq: datagram.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
            portID: datagram.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self),
            payload: UnsafeRawBufferPointer(rebasing: datagram[(offset + 16)..<(offset + len)]),
            bytes: UnsafeRawBufferPointer(rebasing: datagram[offset..<(offset + len)])
        )
        try body(message)
        offset += (len + 3) & ~3
    }
}
