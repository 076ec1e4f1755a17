/// One netlink attribute (`struct nlattr`) inside a received buffer. Only valid while that buffer lives: decoders
/// copy what they keep into Swift values at once.
public struct Attribute {
    public let type: UInt16
    public let isNested: Bool
    public let value: UnsafeRawBufferPointer

    public var bytes: [UInt8] { Array(value) }

    public var u8: UInt8? { value.count >= 1 ? value.load(as: UInt8.self) : nil }
    /// Host byte order (rtnetlink, sock_diag).
    public var u16: UInt16? { value.count >= 2 ? value.loadUnaligned(as: UInt16.self) : nil }
    public var u32: UInt32? { value.count >= 4 ? value.loadUnaligned(as: UInt32.self) : nil }
    public var u64: UInt64? { value.count >= 8 ? value.loadUnaligned(as: UInt64.self) : nil }
    /// Network byte order (nf_tables numbers are big endian).
    public var be16: UInt16? { u16.map { UInt16(bigEndian: $0) } }
    public var be32: UInt32? { u32.map { UInt32(bigEndian: $0) } }
    public var be64: UInt64? { u64.map { UInt64(bigEndian: $0) } }
    public var s32be: Int32? { be32.map { Int32(bitPattern: $0) } }

    /// A NUL-terminated string attribute.
    public var string: String {
        let end = value.firstIndex(of: 0) ?? value.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: value[0..<end]), as: UTF8.self)
    }

    /// The attributes nested inside this one.
    public var nested: AttributeTable { AttributeTable(value) }
}

/// The attributes of one level, indexed by type; the last one of a type wins, as in `mnl_attr_parse`.
public struct AttributeTable {
    public private(set) var all: [Attribute] = []
    private var byType: [Int] = []

    /// Parses `nlattr`s until the buffer ends; a truncated trailing attribute is ignored (the kernel never sends one).
    public init(_ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset + 4 <= buffer.count {
            let len = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let rawType = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            guard len >= 4, offset + len <= buffer.count else { break }
            let value = UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + len)])
            let type = rawType & 0x3fff  // NLA_TYPE_MASK
            let attr = Attribute(type: type, isNested: rawType & 0x8000 != 0, value: value)
            if Int(type) >= byType.count { byType += Array(repeating: -1, count: Int(type) + 1 - byType.count) }
            byType[Int(type)] = all.count
            all.append(attr)
            offset += (len + 3) & ~3
        }
    }

    public subscript(_ type: Int32) -> Attribute? { self[Int(type)] }
    public subscript(_ type: UInt32) -> Attribute? { self[Int(type)] }
    public subscript(_ type: Int) -> Attribute? {
        guard type >= 0, type < byType.count, byType[type] >= 0 else { return nil }
        return all[byType[type]]
    }
}

/// Builds a request: `nlmsghdr`, a fixed header, and attributes, with netlink alignment.
public struct RequestBuilder {
    public private(set) var bytes: [UInt8]

    public init(type: UInt16, flags: UInt16, seq: UInt32, header: [UInt8]) {
        bytes = Array(repeating: 0, count: 16)
        bytes += header
        pad()
        write16(at: 4, type)
        write16(at: 6, flags)
        write32(at: 8, seq)
        fixLength()
    }

    public mutating func attribute(_ type: UInt16, _ value: [UInt8]) {
        let len = 4 + value.count
        bytes += [UInt8(len & 0xff), UInt8(len >> 8), UInt8(type & 0xff), UInt8(type >> 8)]
        bytes += value
        pad()
        fixLength()
    }

    public mutating func attribute(_ type: UInt16, string: String) { attribute(type, Array(string.utf8) + [0]) }
    public mutating func attribute(_ type: UInt16, be32: UInt32) { attribute(type, withUnsafeBytes(of: be32.bigEndian) { Array($0) }) }
    public mutating func attribute(_ type: UInt16, u32: UInt32) { attribute(type, withUnsafeBytes(of: u32) { Array($0) }) }

    private mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }
    private mutating func write16(at i: Int, _ v: UInt16) { bytes[i] = UInt8(v & 0xff); bytes[i + 1] = UInt8(v >> 8) }
    private mutating func write32(at i: Int, _ v: UInt32) { for k in 0..<4 { bytes[i + k] = UInt8(v >> (8 * UInt32(k)) & 0xff) } }
    private mutating func fixLength() { write32(at: 0, UInt32(bytes.count)) }
}
