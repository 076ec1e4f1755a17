/// The nftables ruleset as the kernel holds it, decoded from netlink.
public struct Firewall: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// The ruleset was read completely and consistently.
        case ok
        /// The ruleset could not be read (see `error`); nothing may be concluded about filtering.
        case unreadable
        /// nf_tables answered and holds no table at all.
        case absent
    }

    public var status: Status
    /// The ruleset generation id the snapshot was read at (the same before and after the dump).
    public var generation: UInt32?
    public var tables: [Table]
    /// Why the ruleset is unreadable, in words a user can act on.
    public var error: String?
    /// Legacy x_tables loaded beside nf_tables (`/proc/net/ip_tables_names` and friends): their rules are invisible here.
    public var legacyTables: LegacyTables
    /// The address lists of xt `recent` (`/proc/net/xt_recent/NAME`, ufw's `limit`): a source in none of them gets a
    /// first connection through `--update --hitcount N`. Nil when they were not read (older snapshots, no access).
    public var recentLists: [RecentList]?

    public init(
        status: Status, generation: UInt32? = nil, tables: [Table] = [], error: String? = nil, legacyTables: LegacyTables = LegacyTables(),
        recentLists: [RecentList]? = nil
    ) {
        self.status = status
        self.generation = generation
        self.tables = tables
        self.error = error
        self.legacyTables = legacyTables
        self.recentLists = recentLists
    }
}

/// One xt `recent` list: its name and the addresses in it when the snapshot was taken (as the kernel prints them).
public struct RecentList: Codable, Sendable, Equatable {
    public var name: String
    public var addresses: [String]
    public init(name: String, addresses: [String]) { self.name = name; self.addresses = addresses }
}

public struct LegacyTables: Codable, Sendable, Equatable {
    public var ipv4: [String]
    public var ipv6: [String]
    public var arp: [String]

    public init(ipv4: [String] = [], ipv6: [String] = [], arp: [String] = []) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.arp = arp
    }

    public var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty && arp.isEmpty }
}

/// nftables table family (NFPROTO_*).
public enum TableFamily: String, Codable, Sendable, Hashable, CaseIterable {
    case inet, ip, arp, netdev, bridge, ip6

    public init?(nfproto: UInt8) {
        switch nfproto {
        case 1: self = .inet
        case 2: self = .ip
        case 3: self = .arp
        case 5: self = .netdev
        case 7: self = .bridge
        case 10: self = .ip6
        default: return nil
        }
    }

    public var nfproto: UInt8 {
        switch self {
        case .inet: 1
        case .ip: 2
        case .arp: 3
        case .netdev: 5
        case .bridge: 7
        case .ip6: 10
        }
    }
}

public struct Table: Codable, Sendable, Equatable {
    public var family: TableFamily
    public var name: String
    public var handle: UInt64
    /// NFT_TABLE_F_* bits.
    public var flags: UInt32
    public var chains: [Chain]
    public var sets: [NFTSet]

    public init(family: TableFamily, name: String, handle: UInt64 = 0, flags: UInt32 = 0, chains: [Chain] = [], sets: [NFTSet] = []) {
        self.family = family
        self.name = name
        self.handle = handle
        self.flags = flags
        self.chains = chains
        self.sets = sets
    }

    /// A dormant table's base chains are not registered with the kernel: they filter nothing.
    public var dormant: Bool { flags & 0x1 != 0 }

    public func chain(named name: String) -> Chain? { chains.first { $0.name == name } }
    public func set(named name: String) -> NFTSet? { sets.first { $0.name == name } }
}

/// Netfilter hook of a base chain.
public enum Hook: String, Codable, Sendable, Hashable {
    case prerouting, input, forward, output, postrouting, ingress, egress
}

public enum ChainPolicy: String, Codable, Sendable, Hashable {
    case accept, drop
}

/// The registration of a base chain: where in the packet path it runs.
public struct BaseChain: Codable, Sendable, Equatable, Hashable {
    /// `filter`, `nat` or `route`.
    public var type: String
    public var hook: Hook
    /// Signed priority: lower runs first.
    public var priority: Int32
    public var policy: ChainPolicy
    /// Devices for netdev and inet ingress chains.
    public var devices: [String]

    public init(type: String, hook: Hook, priority: Int32, policy: ChainPolicy = .accept, devices: [String] = []) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
        self.devices = devices
    }
}

public struct Chain: Codable, Sendable, Equatable {
    public var name: String
    public var handle: UInt64
    /// NFT_CHAIN_* bits (BASE=1, HW_OFFLOAD=2, BINDING=4).
    public var flags: UInt32
    /// Present for base chains only.
    public var base: BaseChain?
    public var rules: [Rule]

    public init(name: String, handle: UInt64 = 0, flags: UInt32 = 0, base: BaseChain? = nil, rules: [Rule] = []) {
        self.name = name
        self.handle = handle
        self.flags = flags
        self.base = base
        self.rules = rules
    }
}

public struct Rule: Codable, Sendable, Equatable {
    public var handle: UInt64
    public var expressions: [Expression]
    /// The rule's comment from its user data, when it has one.
    public var comment: String?

    public init(handle: UInt64, expressions: [Expression], comment: String? = nil) {
        self.handle = handle
        self.expressions = expressions
        self.comment = comment
    }
}

/// A named or anonymous set or map.
public struct NFTSet: Codable, Sendable, Equatable {
    public var name: String
    public var handle: UInt64
    /// NFT_SET_* bits: ANONYMOUS=0x1 CONSTANT=0x2 INTERVAL=0x4 MAP=0x8 TIMEOUT=0x10 EVAL=0x20 OBJECT=0x40 CONCAT=0x80.
    public var flags: UInt32
    /// nft's datatype id of the key (concatenations pack 6 bits per component).
    public var keyType: UInt32
    public var keyLength: UInt32
    public var dataType: UInt32?
    public var dataLength: UInt32?
    public var objectType: UInt32?
    /// Component lengths of a concatenated key (NFTA_SET_DESC_CONCAT).
    public var concatLengths: [UInt32]
    /// Key byte order from the user data: `host` or `big`, when the producer recorded it.
    public var keyByteOrder: String?
    public var elements: [SetElement]

    public init(
        name: String, handle: UInt64 = 0, flags: UInt32 = 0, keyType: UInt32 = 0, keyLength: UInt32 = 0,
        dataType: UInt32? = nil, dataLength: UInt32? = nil, objectType: UInt32? = nil, concatLengths: [UInt32] = [],
        keyByteOrder: String? = nil, elements: [SetElement] = []
    ) {
        self.name = name
        self.handle = handle
        self.flags = flags
        self.keyType = keyType
        self.keyLength = keyLength
        self.dataType = dataType
        self.dataLength = dataLength
        self.objectType = objectType
        self.concatLengths = concatLengths
        self.keyByteOrder = keyByteOrder
        self.elements = elements
    }

    public var isAnonymous: Bool { flags & 0x1 != 0 }
    public var isInterval: Bool { flags & 0x4 != 0 }
    public var isMap: Bool { flags & 0x8 != 0 }
    /// Elements can be added at run time (timeouts, `add @set` from the packet path): membership is not fixed.
    public var isDynamic: Bool { flags & (0x10 | 0x20) != 0 }
    /// A verdict map (data type NFT_DATA_VERDICT).
    public var isVerdictMap: Bool { dataType == 0xffff_ff00 }
}

public struct SetElement: Codable, Sendable, Equatable {
    public var key: Bytes
    /// Inclusive end of a range element (concatenated ranges, "pipapo").
    public var keyEnd: Bytes?
    /// NFT_SET_ELEM_* bits: INTERVAL_END=1 (exclusive end of an rbtree interval), CATCHALL=2.
    public var flags: UInt32
    public var verdict: Verdict?
    public var data: Bytes?
    public var objref: String?

    public init(key: Bytes, keyEnd: Bytes? = nil, flags: UInt32 = 0, verdict: Verdict? = nil, data: Bytes? = nil, objref: String? = nil) {
        self.key = key
        self.keyEnd = keyEnd
        self.flags = flags
        self.verdict = verdict
        self.data = data
        self.objref = objref
    }

    public var isIntervalEnd: Bool { flags & 0x1 != 0 }
    public var isCatchAll: Bool { flags & 0x2 != 0 }
}

/// A netfilter verdict, as carried by `immediate` expressions and verdict maps.
public enum Verdict: Codable, Sendable, Equatable, Hashable {
    case accept, drop, queue, stolen, repeatVerdict
    case `continue`, `break`, `return`
    case jump(String)
    case goto(String)
    /// A code this tool does not know, kept as is.
    case other(Int32)

    public init(code: Int32, chain: String?) {
        switch code {
        case 0: self = .drop
        case 1: self = .accept
        case 2: self = .stolen
        case 3: self = .queue
        case 4: self = .repeatVerdict
        case -1: self = .continue
        case -2: self = .break
        case -3: self = .jump(chain ?? "")
        case -4: self = .goto(chain ?? "")
        case -5: self = .return
        default: self = .other(code)
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .queue: "queue"
        case .stolen: "stolen"
        case .repeatVerdict: "repeat"
        case .continue: "continue"
        case .break: "break"
        case .return: "return"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        case .other(let c): "verdict(\(c))"
        }
    }

    /// The name written in JSON's `verdict` field (`description` without the chain).
    package var codingName: String {
        switch self {
        case .jump: "jump"
        case .goto: "goto"
        case .other: "other"
        default: description
        }
    }

    private enum CodingKeys: String, CodingKey { case verdict, chain, code }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .jump(let chain): try c.encode("jump", forKey: .verdict); try c.encode(chain, forKey: .chain)
        case .goto(let chain): try c.encode("goto", forKey: .verdict); try c.encode(chain, forKey: .chain)
        case .other(let code): try c.encode("other", forKey: .verdict); try c.encode(code, forKey: .code)
        default: try c.encode(description, forKey: .verdict)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .verdict)
        switch name {
        case "accept": self = .accept
        case "drop": self = .drop
        case "queue": self = .queue
        case "stolen": self = .stolen
        case "repeat": self = .repeatVerdict
        case "continue": self = .continue
        case "break": self = .break
        case "return": self = .return
        case "jump": self = .jump(try c.decode(String.self, forKey: .chain))
        case "goto": self = .goto(try c.decode(String.self, forKey: .chain))
        case "other": self = .other(try c.decode(Int32.self, forKey: .code))
        default:
            throw DecodingError.dataCorruptedError(forKey: .verdict, in: c, debugDescription: "unknown verdict '\(name)'")
        }
    }
}

/// Raw bytes, written as a lowercase hex string in JSON.
public struct Bytes: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var description: String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for b in bytes {
            text.append(Bytes.hexDigits[Int(b >> 4)])
            text.append(Bytes.hexDigits[Int(b & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The ASCII lowercase hex digits, by value.
    package static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// 0…15 for an ASCII hex digit of either case, 16 or more otherwise (`| 0x20` folds only `A`…`F` onto `a`…`f`).
    @inlinable package static func hexValue(_ c: UInt8) -> UInt8 {
        let digit = c &- 48
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- 97
        return letter < 6 ? letter + 10 : 16
    }

    public init?(hex: String) {
        var out: [UInt8] = []
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        if high != nil { return nil }
        bytes = out
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let value = Bytes(hex: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an even-length hex string, found '\(text)'")
        }
        self = value
    }

    /// memcmp order, as the kernel compares keys and `cmp` data.
    public static func < (a: Bytes, b: Bytes) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
