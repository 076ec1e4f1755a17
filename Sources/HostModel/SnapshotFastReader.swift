import Foundation

/// The fast reader met something it does not fully understand; `SnapshotCodec.decode` then decodes the same bytes
/// with `JSONDecoder`, which accepts them or reports the error exactly as it always has.
struct SnapshotFastPathDeclined: Error {}

/// A strict byte-level reader for snapshot JSON that builds the model directly, several times faster than
/// `JSONDecoder` and without its whole-document index (which for a large snapshot outweighs the file itself).
///
/// It accepts only what it can decode exactly as the `Codable` conformances do: UTF-8 text, objects whose keys are
/// all read by the conformance and none repeated (plain keys, no escapes), no null for a non-optional field,
/// integers as plain in-range digits, hex strings for `Bytes`, known enum names, and the current schema. Whatever it
/// accepts decodes to a value equal to `JSONDecoder`'s (`SnapshotFastReaderTests` compares both over many
/// snapshots); anything else declines, so malformed or hostile files still get `JSONDecoder`'s diagnostics.
///
/// Leaf objects (listeners, set elements, expressions, …) are read with `object`: their members are located first,
/// then looked up by key like a keyed container, so a conformance reads as one line. Objects holding the large arrays
/// (snapshot, firewall, table, chain, rule, set) use `forEachMember` instead, which never skips over a value and so
/// reads those arrays only once.
struct SnapshotFastReader {
    typealias Declined = SnapshotFastPathDeclined

    /// The snapshot in `data`, or nil when the fast path declines.
    static func decode(_ data: Data) -> Snapshot? {
        data.withUnsafeBytes { raw -> Snapshot? in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
            var reader = SnapshotFastReader(base: base, end: raw.count)
            do {
                let snapshot = try reader.snapshot()
                reader.skipSpace()
                return reader.i == reader.end ? snapshot : nil
            } catch {
                return nil
            }
        }
    }

    /// A member of an object read with `object`: where its key and value are in the input.
    private struct Member {
        var keyStart: Int
        var keyCount: Int
        var valueStart: Int
        var valueEnd: Int
        var used = false
    }

    private let base: UnsafePointer<UInt8>
    private let end: Int
    private var i = 0
    /// Members of the objects being read with `object`, innermost last; the current one's start at `frame`.
    private var members: [Member] = []
    private var frame = 0
    /// The key `forEachMember` is at.
    private var keyStart = 0
    private var keyCount = 0

    private init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
        members.reserveCapacity(64)
    }

    // MARK: - The model

    private mutating func snapshot() throws(Declined) -> Snapshot {
        var schema = Slot<String>(), host = Slot<HostInfo>(), listeners = Slot<[Listener]>(), interfaces = Slot<[Interface]>(),
            routes = Slot<Routing>(), sysctls = Slot<Sysctls>(), firewall = Slot<Firewall>(), privileges = Slot<Privileges>(),
            warnings = Slot<[String]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("firewall") { try firewall.set(r.firewall()) }
            else if r.isKey("host") { try host.set(r.object { r throws(Declined) in
                HostInfo(hostname: try r.string("hostname"), kernel: try r.string("kernel"),
                         collectedAt: try r.string("collectedAt"), toolVersion: try r.string("toolVersion"))
            }) }
            else if r.isKey("interfaces") { try interfaces.set(r.array { r throws(Declined) in try r.interface() }) }
            else if r.isKey("listeners") { try listeners.set(r.array { r throws(Declined) in try r.listener() }) }
            else if r.isKey("privileges") { try privileges.set(r.object { r throws(Declined) in
                Privileges(netAdmin: try r.bool("netAdmin"), procFds: try r.bool("procFds"))
            }) }
            else if r.isKey("routes") { try routes.set(r.object { r throws(Declined) in
                Routing(routes: try r.decode("routes") { r throws(Declined) in try r.array { r throws(Declined) in try r.route() } },
                        rules: try r.decode("rules") { r throws(Declined) in try r.array { r throws(Declined) in try r.routingRule() } })
            }) }
            else if r.isKey("schema") { try schema.set(r.string()) }
            else if r.isKey("sysctls") { try sysctls.set(r.sysctls()) }
            else if r.isKey("warnings") { try warnings.set(r.strings()) }
            else { throw Declined() }
        }
        // Another schema is reported by the plain path, which checks it before anything else.
        let found = try schema.get()
        guard Snapshot.readableSchemas.contains(found) else { throw Declined() }
        var snapshot = Snapshot(host: try host.get(), listeners: try listeners.get(), interfaces: try interfaces.get(), routes: try routes.get(),
                        sysctls: try sysctls.get(), firewall: try firewall.get(), privileges: try privileges.get(),
                        warnings: try warnings.get())
        snapshot.schema = found
        return snapshot
    }

    private mutating func listener() throws(Declined) -> Listener {
        try object { r throws(Declined) in
            Listener(proto: try r.enumValue("proto"), family: try r.enumValue("family"), address: try r.string("address"),
                     port: try r.uint("port"), v6only: try r.bool("v6only"), device: try r.stringIfPresent("device"),
                     deviceIndex: try r.uint("deviceIndex"), uid: try r.uint("uid"), inode: try r.uint("inode"),
                     cookie: try r.uint("cookie"),
                     processes: try r.decode("processes") { r throws(Declined) in try r.array { r throws(Declined) in try r.process() } },
                     owner: try r.enumValue("owner"))
        }
    }

    private mutating func process() throws(Declined) -> ProcessInfo {
        try object { r throws(Declined) in
            ProcessInfo(pid: try r.int32("pid"), name: try r.string("name"), exe: try r.stringIfPresent("exe"),
                        cmdline: try r.decode("cmdline") { r throws(Declined) in try r.strings() },
                        unit: try r.stringIfPresent("unit"), container: try r.stringIfPresent("container"))
        }
    }

    private mutating func interface() throws(Declined) -> Interface {
        try object { r throws(Declined) in
            Interface(index: try r.uint("index"), name: try r.string("name"),
                      flags: try r.decode("flags") { r throws(Declined) in try r.strings() },
                      kind: try r.stringIfPresent("kind"),
                      addresses: try r.decode("addresses") { r throws(Declined) in
                          try r.array { r throws(Declined) in
                              try r.object { r throws(Declined) in
                                  InterfaceAddress(family: try r.enumValue("family"), address: try r.string("address"),
                                                   prefixLength: try r.uint("prefixLength"), scope: try r.string("scope"))
                              }
                          }
                      },
                      master: try r.stringIfPresent("master"))
        }
    }

    private mutating func route() throws(Declined) -> Route {
        try object { r throws(Declined) in
            Route(family: try r.enumValue("family"), table: try r.uint("table"), type: try r.string("type"),
                  destination: try r.string("destination"), prefixLength: try r.uint("prefixLength"),
                  gateway: try r.stringIfPresent("gateway"), device: try r.stringIfPresent("device"),
                  deviceIndex: try r.uint("deviceIndex"), preferredSource: try r.stringIfPresent("preferredSource"),
                  metric: try r.uint("metric"))
        }
    }

    private mutating func routingRule() throws(Declined) -> RoutingRule {
        try object { r throws(Declined) in
            RoutingRule(family: try r.enumValue("family"), priority: try r.uint("priority"), table: try r.uint("table"),
                        action: try r.string("action"), source: try r.stringIfPresent("source"),
                        sourcePrefixLength: try r.uint("sourcePrefixLength"), destination: try r.stringIfPresent("destination"),
                        destinationPrefixLength: try r.uint("destinationPrefixLength"), iifname: try r.stringIfPresent("iifname"),
                        oifname: try r.stringIfPresent("oifname"), fwmark: try r.uintIfPresent("fwmark"),
                        fwmask: try r.uintIfPresent("fwmask"), inverted: try r.bool("inverted"))
        }
    }

    private mutating func sysctls() throws(Declined) -> Sysctls {
        try object { r throws(Declined) in
            Sysctls(ipLocalPortRange: try r.decodeIfPresent("ipLocalPortRange") { r throws(Declined) in try r.portRange() },
                    ipLocalReservedPorts: try r.decode("ipLocalReservedPorts") { r throws(Declined) in
                        try r.array { r throws(Declined) in try r.portRange() }
                    },
                    ipUnprivilegedPortStart: try r.uintIfPresent("ipUnprivilegedPortStart"),
                    bindv6only: try r.boolIfPresent("bindv6only"), ipForward: try r.boolIfPresent("ipForward"),
                    ipv6Forwarding: try r.boolIfPresent("ipv6Forwarding"),
                    routeLocalnet: try r.decode("routeLocalnet") { r throws(Declined) in try r.boolDictionary() },
                    ipNonlocalBind: try r.boolIfPresent("ipNonlocalBind"), ipv6NonlocalBind: try r.boolIfPresent("ipv6NonlocalBind"),
                    tcpL3mdevAccept: try r.boolIfPresent("tcpL3mdevAccept"), udpL3mdevAccept: try r.boolIfPresent("udpL3mdevAccept"))
        }
    }

    private mutating func portRange() throws(Declined) -> PortRange {
        try object { r throws(Declined) in PortRange(first: try r.uint("first"), last: try r.uint("last")) }
    }

    private mutating func firewall() throws(Declined) -> Firewall {
        var status = Slot<Firewall.Status>(), generation = Slot<UInt32>(), tables = Slot<[Table]>(), error = Slot<String>(),
            legacyTables = Slot<LegacyTables>(), recentLists = Slot<[RecentList]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("generation") { try generation.set(r.nullable { r throws(Declined) in try r.uint() }) }
            else if r.isKey("legacyTables") { try legacyTables.set(r.object { r throws(Declined) in
                LegacyTables(ipv4: try r.decode("ipv4") { r throws(Declined) in try r.strings() },
                             ipv6: try r.decode("ipv6") { r throws(Declined) in try r.strings() },
                             arp: try r.decode("arp") { r throws(Declined) in try r.strings() })
            }) }
            else if r.isKey("recentLists") { try recentLists.set(r.array { r throws(Declined) in
                try r.object { r throws(Declined) in
                    let addresses = try r.decode("addresses") { r throws(Declined) in try r.strings() }
                    return RecentList(name: try r.decode("name") { r throws(Declined) in try r.string() }, addresses: addresses)
                }
            }) }
            else if r.isKey("status") { try status.set(r.enumValue()) }
            else if r.isKey("tables") { try tables.set(r.array { r throws(Declined) in try r.table() }) }
            else if r.isKey("error") { try error.set(r.nullable { r throws(Declined) in try r.string() }) }
            else { throw Declined() }
        }
        return Firewall(status: try status.get(), generation: generation.value, tables: try tables.get(), error: error.value,
                        legacyTables: try legacyTables.get(), recentLists: recentLists.value)
    }

    private mutating func table() throws(Declined) -> Table {
        var family = Slot<TableFamily>(), name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(),
            chains = Slot<[Chain]>(), sets = Slot<[NFTSet]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("chains") { try chains.set(r.array { r throws(Declined) in try r.chain() }) }
            else if r.isKey("family") { try family.set(r.enumValue()) }
            else if r.isKey("flags") { try flags.set(r.uint()) }
            else if r.isKey("handle") { try handle.set(r.uint()) }
            else if r.isKey("name") { try name.set(r.string()) }
            else if r.isKey("sets") { try sets.set(r.array { r throws(Declined) in try r.set() }) }
            else { throw Declined() }
        }
        return Table(family: try family.get(), name: try name.get(), handle: try handle.get(), flags: try flags.get(),
                     chains: try chains.get(), sets: try sets.get())
    }

    private mutating func chain() throws(Declined) -> Chain {
        var name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(), base = Slot<BaseChain>(), rules = Slot<[Rule]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("base") { try base.set(r.nullable { r throws(Declined) in try r.baseChain() }) }
            else if r.isKey("flags") { try flags.set(r.uint()) }
            else if r.isKey("handle") { try handle.set(r.uint()) }
            else if r.isKey("name") { try name.set(r.string()) }
            else if r.isKey("rules") { try rules.set(r.array { r throws(Declined) in try r.rule() }) }
            else { throw Declined() }
        }
        return Chain(name: try name.get(), handle: try handle.get(), flags: try flags.get(), base: base.value, rules: try rules.get())
    }

    private mutating func baseChain() throws(Declined) -> BaseChain {
        try object { r throws(Declined) in
            BaseChain(type: try r.string("type"), hook: try r.enumValue("hook"), priority: try r.int32("priority"),
                      policy: try r.enumValue("policy"), devices: try r.decode("devices") { r throws(Declined) in try r.strings() })
        }
    }

    private mutating func rule() throws(Declined) -> Rule {
        var handle = Slot<UInt64>(), expressions = Slot<[Expression]>(), comment = Slot<String>()
        try forEachMember { r throws(Declined) in
            if r.isKey("comment") { try comment.set(r.nullable { r throws(Declined) in try r.string() }) }
            else if r.isKey("expressions") { try expressions.set(r.array { r throws(Declined) in try r.expression() }) }
            else if r.isKey("handle") { try handle.set(r.uint()) }
            else { throw Declined() }
        }
        return Rule(handle: try handle.get(), expressions: try expressions.get(), comment: comment.value)
    }

    private mutating func set() throws(Declined) -> NFTSet {
        var name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(), keyType = Slot<UInt32>(), keyLength = Slot<UInt32>(),
            dataType = Slot<UInt32>(), dataLength = Slot<UInt32>(), objectType = Slot<UInt32>(), concatLengths = Slot<[UInt32]>(),
            keyByteOrder = Slot<String>(), elements = Slot<[SetElement]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("elements") { try elements.set(r.array { r throws(Declined) in try r.element() }) }
            else if r.isKey("concatLengths") { try concatLengths.set(r.array { r throws(Declined) in try r.uint() }) }
            else if r.isKey("dataLength") { try dataLength.set(r.nullable { r throws(Declined) in try r.uint() }) }
            else if r.isKey("dataType") { try dataType.set(r.nullable { r throws(Declined) in try r.uint() }) }
            else if r.isKey("flags") { try flags.set(r.uint()) }
            else if r.isKey("handle") { try handle.set(r.uint()) }
            else if r.isKey("keyByteOrder") { try keyByteOrder.set(r.nullable { r throws(Declined) in try r.string() }) }
            else if r.isKey("keyLength") { try keyLength.set(r.uint()) }
            else if r.isKey("keyType") { try keyType.set(r.uint()) }
            else if r.isKey("name") { try name.set(r.string()) }
            else if r.isKey("objectType") { try objectType.set(r.nullable { r throws(Declined) in try r.uint() }) }
            else { throw Declined() }
        }
        return NFTSet(name: try name.get(), handle: try handle.get(), flags: try flags.get(), keyType: try keyType.get(),
                      keyLength: try keyLength.get(), dataType: dataType.value, dataLength: dataLength.value,
                      objectType: objectType.value, concatLengths: try concatLengths.get(), keyByteOrder: keyByteOrder.value,
                      elements: try elements.get())
    }

    private mutating func element() throws(Declined) -> SetElement {
        try object { r throws(Declined) in
            SetElement(key: try r.bytes("key"), keyEnd: try r.bytesIfPresent("keyEnd"), flags: try r.uint("flags"),
                       verdict: try r.decodeIfPresent("verdict") { r throws(Declined) in try r.verdict() },
                       data: try r.bytesIfPresent("data"), objref: try r.stringIfPresent("objref"))
        }
    }

    /// Mirrors `Verdict.init(from:)`, which reads `chain` or `code` only for the verdicts that carry one.
    private mutating func verdict() throws(Declined) -> Verdict {
        try object { r throws(Declined) in
            switch try r.string("verdict") {
            case "accept": .accept
            case "drop": .drop
            case "queue": .queue
            case "stolen": .stolen
            case "repeat": .repeatVerdict
            case "continue": .continue
            case "break": .break
            case "return": .return
            case "jump": .jump(try r.string("chain"))
            case "goto": .goto(try r.string("chain"))
            case "other": .other(try r.int32("code"))
            default: throw Declined()
            }
        }
    }

    /// Mirrors `Expression.init(from:)`: the `type` member picks the payload type, which reads the other members
    /// of the same object.
    private mutating func expression() throws(Declined) -> Expression {
        try object { r throws(Declined) in
            switch try r.string("type") {
            case "payload":
                .payload(Payload(base: try r.enumValue("base"), offset: try r.uint("offset"), length: try r.uint("length"),
                                 dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg")))
            case "meta": .meta(Meta(key: try r.uint("key"), dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg")))
            case "cmp": .cmp(Cmp(sreg: try r.uint("sreg"), op: try r.enumValue("op"), data: try r.bytes("data")))
            case "bitwise":
                .bitwise(Bitwise(sreg: try r.uint("sreg"), dreg: try r.uint("dreg"), length: try r.uint("length"), op: try r.uint("op"),
                                 mask: try r.bytesIfPresent("mask"), xor: try r.bytesIfPresent("xor"), data: try r.bytesIfPresent("data")))
            case "byteorder":
                .byteorder(Byteorder(sreg: try r.uint("sreg"), dreg: try r.uint("dreg"), op: try r.uint("op"),
                                     length: try r.uint("length"), size: try r.uint("size")))
            case "range":
                .range(RangeExpr(sreg: try r.uint("sreg"), inverted: try r.bool("inverted"), from: try r.bytes("from"), to: try r.bytes("to")))
            case "lookup":
                .lookup(Lookup(sreg: try r.uint("sreg"), dreg: try r.uintIfPresent("dreg"), set: try r.string("set"),
                               setId: try r.uintIfPresent("setId"), inverted: try r.bool("inverted")))
            case "immediate":
                .immediate(Immediate(dreg: try r.uint("dreg"), data: try r.bytesIfPresent("data"),
                                     verdict: try r.decodeIfPresent("verdict") { r throws(Declined) in try r.verdict() }))
            case "ct":
                .ct(Ct(key: try r.uint("key"), dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg"),
                       direction: try r.uintIfPresent("direction")))
            case "fib": .fib(Fib(dreg: try r.uint("dreg"), result: try r.uint("result"), flags: try r.uint("flags")))
            case "nat":
                .nat(Nat(type: try r.uint("natType"), family: try r.uint("family"), regAddrMin: try r.uintIfPresent("regAddrMin"),
                         regAddrMax: try r.uintIfPresent("regAddrMax"), regProtoMin: try r.uintIfPresent("regProtoMin"),
                         regProtoMax: try r.uintIfPresent("regProtoMax"), flags: try r.uintIfPresent("flags")))
            case "redir": .redir(try r.redir())
            case "masq": .masq(try r.redir())
            case "reject": .reject(Reject(type: try r.uint("rejectType"), code: try r.uintIfPresent("code")))
            case "counter": .counter
            case "notrack": .notrack
            case "log":
                .log(Log(prefix: try r.stringIfPresent("prefix"), group: try r.uintIfPresent("group"), level: try r.uintIfPresent("level")))
            case "limit":
                .limit(Limit(rate: try r.uint("rate"), unit: try r.uint("unit"), burst: try r.uint("burst"), type: try r.uint("limitType"),
                             inverted: try r.bool("inverted")))
            case "quota": .quota(Quota(bytes: try r.uint("bytes"), inverted: try r.bool("inverted"), consumed: try r.uintIfPresent("consumed")))
            case "connlimit": .connlimit(Connlimit(count: try r.uint("count"), inverted: try r.bool("inverted")))
            case "numgen":
                .numgen(Numgen(dreg: try r.uint("dreg"), modulus: try r.uint("modulus"), type: try r.uint("numgenType"),
                               offset: try r.uint("offset")))
            case "hash": .hash(HashExpr(dreg: try r.uint("dreg"), modulus: try r.uint("modulus"), type: try r.uint("hashType")))
            case "socket": .socket(SocketExpr(key: try r.uint("key"), dreg: try r.uint("dreg"), level: try r.uintIfPresent("level")))
            case "dynset":
                .dynset(Dynset(op: try r.uint("op"), set: try r.string("set"), sregKey: try r.uint("sregKey"),
                               sregData: try r.uintIfPresent("sregData"), timeout: try r.uintIfPresent("timeout"),
                               expressions: try r.decode("expressions") { r throws(Declined) in try r.strings() }))
            case "objref":
                .objref(Objref(objectType: try r.uintIfPresent("objectType"), name: try r.stringIfPresent("name"),
                               setSreg: try r.uintIfPresent("setSreg"), set: try r.stringIfPresent("set")))
            case "queue": .queue(Queue(number: try r.uint("number"), total: try r.uint("total"), flags: try r.uint("flags")))
            case "exthdr":
                .exthdr(Exthdr(dreg: try r.uintIfPresent("dreg"), type: try r.uint("exthdrType"), offset: try r.uint("offset"),
                               length: try r.uint("length"), op: try r.uint("op"), flags: try r.uint("flags")))
            case "match": .match(try r.xt())
            case "target": .target(try r.xt())
            case "unknown":
                .unknown(Unknown(name: try r.string("name"), attributes: try r.decode("attributes") { r throws(Declined) in
                    try r.array { r throws(Declined) in
                        try r.object { r throws(Declined) in RawAttribute(type: try r.uint("type"), value: try r.bytes("value")) }
                    }
                }))
            default: throw Declined()
            }
        }
    }

    /// The members of `redir` and `masq`, read from the expression object being read.
    private mutating func redir() throws(Declined) -> Redir {
        Redir(regProtoMin: try uintIfPresent("regProtoMin"), regProtoMax: try uintIfPresent("regProtoMax"), flags: try uintIfPresent("flags"))
    }

    private mutating func xt() throws(Declined) -> Xt {
        Xt(name: try string("name"), revision: try uint("revision"), info: try bytes("info"))
    }

    // MARK: - Objects

    /// A member of an object read with `forEachMember`: set at most once, so a repeated key declines.
    private struct Slot<T> {
        private(set) var value: T?
        private var seen = false

        mutating func set(_ newValue: T?) throws(Declined) {
            guard !seen else { throw Declined() }
            seen = true
            value = newValue
        }

        /// The value of a required member (absent or null declines, as `JSONDecoder` would fail).
        func get() throws(Declined) -> T {
            guard let value else { throw Declined() }
            return value
        }
    }

    /// Reads an object whose members `body` looks up by key (`uint("port")`, …), in any order. Every member must be
    /// read (an unknown key declines): a key `JSONDecoder` ignores may still hold anything, and it validates it.
    private mutating func object<T>(_ body: (inout Self) throws(Declined) -> T) throws(Declined) -> T {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        let outer = frame
        frame = members.count
        skipSpace()
        if at(i) == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                let (start, count) = try key()
                var j = frame
                while j < members.count {
                    if members[j].keyCount == count, memcmp(base + members[j].keyStart, base + start, count) == 0 { throw Declined() }
                    j += 1
                }
                let valueStart = i
                try skipValue()
                members.append(Member(keyStart: start, keyCount: count, valueStart: valueStart, valueEnd: i))
                skipSpace()
                let c = at(i)
                i += 1
                if c == UInt8(ascii: "}") { break }
                guard c == UInt8(ascii: ",") else { throw Declined() }
                skipSpace()
            }
        }
        let after = i
        let value = try body(&self)
        for j in frame..<members.count where !members[j].used { throw Declined() }
        members.removeLast(members.count - frame)
        frame = outer
        i = after
        return value
    }

    /// Positions the reader at the value of `key` in the object being read with `object`, and returns where that
    /// value ends; nil when the key is absent.
    private mutating func seek(_ key: StaticString) -> Int? {
        let count = key.utf8CodeUnitCount
        var j = frame
        while j < members.count {
            if members[j].keyCount == count, memcmp(base + members[j].keyStart, key.utf8Start, count) == 0 {
                members[j].used = true
                i = members[j].valueStart
                return members[j].valueEnd
            }
            j += 1
        }
        return nil
    }

    /// A required member (`decode(_:forKey:)`): absent, null or not exactly one value of the type declines.
    private mutating func decode<T>(_ key: StaticString, _ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T {
        guard let valueEnd = seek(key) else { throw Declined() }
        let value = try parse(&self)
        guard i == valueEnd else { throw Declined() }
        return value
    }

    /// An optional member (`decodeIfPresent(_:forKey:)`): absent or null is nil.
    private mutating func decodeIfPresent<T>(_ key: StaticString, _ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T? {
        guard let valueEnd = seek(key) else { return nil }
        if valueEnd - i == 4, isNull(at: i) { i = valueEnd; return nil }
        let value = try parse(&self)
        guard i == valueEnd else { throw Declined() }
        return value
    }

    private mutating func uint<T: FixedWidthInteger & UnsignedInteger>(_ key: StaticString) throws(Declined) -> T {
        try decode(key) { r throws(Declined) in try r.uint() }
    }
    private mutating func uintIfPresent<T: FixedWidthInteger & UnsignedInteger>(_ key: StaticString) throws(Declined) -> T? {
        try decodeIfPresent(key) { r throws(Declined) in try r.uint() }
    }
    private mutating func int32(_ key: StaticString) throws(Declined) -> Int32 {
        try decode(key) { r throws(Declined) in try r.int32() }
    }
    private mutating func bool(_ key: StaticString) throws(Declined) -> Bool {
        try decode(key) { r throws(Declined) in try r.bool() }
    }
    private mutating func boolIfPresent(_ key: StaticString) throws(Declined) -> Bool? {
        try decodeIfPresent(key) { r throws(Declined) in try r.bool() }
    }
    private mutating func string(_ key: StaticString) throws(Declined) -> String {
        try decode(key) { r throws(Declined) in try r.string() }
    }
    private mutating func stringIfPresent(_ key: StaticString) throws(Declined) -> String? {
        try decodeIfPresent(key) { r throws(Declined) in try r.string() }
    }
    private mutating func bytes(_ key: StaticString) throws(Declined) -> Bytes {
        try decode(key) { r throws(Declined) in try r.bytes() }
    }
    private mutating func bytesIfPresent(_ key: StaticString) throws(Declined) -> Bytes? {
        try decodeIfPresent(key) { r throws(Declined) in try r.bytes() }
    }
    private mutating func enumValue<E: RawRepresentable<String>>(_ key: StaticString) throws(Declined) -> E {
        try decode(key) { r throws(Declined) in try r.enumValue() }
    }

    /// Calls `body` at each member's value, in input order, with `isKey` telling which member it is; `body` must
    /// read exactly that value or decline.
    private mutating func forEachMember(_ body: (inout Self) throws(Declined) -> Void) throws(Declined) {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        skipSpace()
        if at(i) == UInt8(ascii: "}") { i += 1; return }
        while true {
            (keyStart, keyCount) = try key()
            try body(&self)
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw Declined() }
            skipSpace()
        }
    }

    private func isKey(_ key: StaticString) -> Bool {
        keyCount == key.utf8CodeUnitCount && memcmp(base + keyStart, key.utf8Start, keyCount) == 0
    }

    /// A member's key and the colon after it. Keys with escapes decline: no key of the format needs one.
    private mutating func key() throws(Declined) -> (Int, Int) {
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { break }
            guard c >= 0x20, c != UInt8(ascii: "\\") else { throw Declined() }
            i += 1
        }
        let count = i - start
        i += 1
        skipSpace()
        guard at(i) == UInt8(ascii: ":") else { throw Declined() }
        i += 1
        skipSpace()
        return (start, count)
    }

    // MARK: - Values

    /// Arrays are read in one pass: their elements are never skipped.
    private mutating func array<T>(_ element: (inout Self) throws(Declined) -> T) throws(Declined) -> [T] {
        skipSpace()
        guard at(i) == UInt8(ascii: "[") else { throw Declined() }
        i += 1
        skipSpace()
        var out: [T] = []
        if at(i) == UInt8(ascii: "]") { i += 1; return out }
        while true {
            out.append(try element(&self))
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "]") { return out }
            guard c == UInt8(ascii: ",") else { throw Declined() }
        }
    }

    private mutating func strings() throws(Declined) -> [String] {
        try array { r throws(Declined) in try r.string() }
    }

    /// `[String: Bool]`; any string is a key here, and a key repeated (after unescaping) declines.
    private mutating func boolDictionary() throws(Declined) -> [String: Bool] {
        skipSpace()
        guard at(i) == UInt8(ascii: "{") else { throw Declined() }
        i += 1
        skipSpace()
        var out: [String: Bool] = [:]
        if at(i) == UInt8(ascii: "}") { i += 1; return out }
        while true {
            let key = try string()
            skipSpace()
            guard at(i) == UInt8(ascii: ":") else { throw Declined() }
            i += 1
            guard out.updateValue(try bool(), forKey: key) == nil else { throw Declined() }
            skipSpace()
            let c = at(i)
            i += 1
            if c == UInt8(ascii: "}") { return out }
            guard c == UInt8(ascii: ",") else { throw Declined() }
            skipSpace()
        }
    }

    /// `null` (then nil) or a value; for members of objects read with `forEachMember`.
    private mutating func nullable<T>(_ parse: (inout Self) throws(Declined) -> T) throws(Declined) -> T? {
        skipSpace()
        if isNull(at: i) { i += 4; return nil }
        return try parse(&self)
    }

    private func isNull(at j: Int) -> Bool {
        at(j) == UInt8(ascii: "n") && at(j + 1) == UInt8(ascii: "u") && at(j + 2) == UInt8(ascii: "l") && at(j + 3) == UInt8(ascii: "l")
    }

    private mutating func bool() throws(Declined) -> Bool {
        skipSpace()
        if at(i) == UInt8(ascii: "t"), at(i + 1) == UInt8(ascii: "r"), at(i + 2) == UInt8(ascii: "u"), at(i + 3) == UInt8(ascii: "e") {
            i += 4
            return true
        }
        if at(i) == UInt8(ascii: "f"), at(i + 1) == UInt8(ascii: "a"), at(i + 2) == UInt8(ascii: "l"), at(i + 3) == UInt8(ascii: "s"),
           at(i + 4) == UInt8(ascii: "e") {
            i += 5
            return false
        }
        throw Declined()
    }

    /// Plain decimal digits without a leading zero, in range of `T`; a fraction or exponent is left unread, so the
    /// caller declines on it.
    private mutating func uint<T: FixedWidthInteger & UnsignedInteger>() throws(Declined) -> T {
        skipSpace()
        let magnitude = try digits()
        guard let value = T(exactly: magnitude) else { throw Declined() }
        return value
    }

    private mutating func int32() throws(Declined) -> Int32 {
        skipSpace()
        if at(i) == UInt8(ascii: "-") {
            i += 1
            let magnitude = try digits()
            // "-0" is left to JSONDecoder.
            guard magnitude > 0, magnitude <= UInt64(Int32.max) + 1 else { throw Declined() }
            return Int32(truncatingIfNeeded: 0 &- magnitude)
        }
        guard let value = Int32(exactly: try digits()) else { throw Declined() }
        return value
    }

    private mutating func digits() throws(Declined) -> UInt64 {
        let first = at(i) &- 48
        guard first < 10 else { throw Declined() }
        i += 1
        var value = UInt64(first)
        while true {
            let d = at(i) &- 48
            if d >= 10 { break }
            guard value != 0 else { throw Declined() }   // a leading zero is not JSON
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { throw Declined() }
            value = sum
            i += 1
        }
        return value
    }

    private mutating func enumValue<E: RawRepresentable<String>>() throws(Declined) -> E {
        guard let value = E(rawValue: try string()) else { throw Declined() }
        return value
    }

    /// `Bytes` from its hex string (either case, as `Bytes(hex:)` accepts); an escape declines.
    private mutating func bytes() throws(Declined) -> Bytes {
        skipSpace()
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        while Bytes.hexValue(at(i)) < 16 { i += 1 }
        let count = i - start
        guard at(i) == UInt8(ascii: "\""), count & 1 == 0 else { throw Declined() }
        i += 1
        let source = base + start
        let out = [UInt8](unsafeUninitializedCapacity: count / 2) { buffer, initialized in
            for k in 0..<(count / 2) {
                buffer[k] = Bytes.hexValue(source[2 * k]) << 4 | Bytes.hexValue(source[2 * k + 1])
            }
            initialized = count / 2
        }
        return Bytes(out)
    }

    /// A JSON string. Plain ASCII (nearly every string here) is copied straight; other UTF-8 is validated, and
    /// escapes are decoded. Invalid UTF-8, raw control characters and lone surrogates decline.
    private mutating func string() throws(Declined) -> String {
        skipSpace()
        guard at(i) == UInt8(ascii: "\"") else { throw Declined() }
        i += 1
        let start = i
        var ascii = true
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard c >= 0x20 else { throw Declined() }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        let text = UnsafeBufferPointer(start: base + start, count: i - start)
        i += 1
        if ascii { return String(decoding: text, as: UTF8.self) }
        guard let s = String(validating: text, as: UTF8.self) else { throw Declined() }
        return s
    }

    /// The rest of a string that has an escape at `i`, its text starting at `start`.
    private mutating func escapedString(from start: Int) throws(Declined) -> String {
        var out = Array(UnsafeBufferPointer(start: base + start, count: i - start))
        while true {
            let c = at(i)
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw Declined() }
                return s
            case UInt8(ascii: "\\"):
                let e = at(i)
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        guard at(i) == UInt8(ascii: "\\"), at(i + 1) == UInt8(ascii: "u") else { throw Declined() }
                        i += 2
                        let low = UInt32(try hex4())
                        guard low >= 0xDC00, low < 0xE000 else { throw Declined() }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    } else if scalar >= 0xDC00, scalar < 0xE000 {
                        throw Declined()
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Declined() }
                    UTF8.encode(u) { out.append($0) }
                default: throw Declined()
                }
            default:
                guard c >= 0x20 else { throw Declined() }
                out.append(c)
            }
        }
    }

    private mutating func hex4() throws(Declined) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            let d = Bytes.hexValue(at(i))
            guard d < 16 else { throw Declined() }
            value = value << 4 | UInt16(d)
            i += 1
        }
        return value
    }

    // MARK: - Bytes

    /// The byte at `j`, or 0 past the end: 0 is valid nowhere outside a string and raw inside one, so every check
    /// fails there without a separate bounds test.
    private func at(_ j: Int) -> UInt8 { j < end ? base[j] : 0 }

    private mutating func skipSpace() {
        while true {
            let c = at(i)
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Moves past one value without checking it beyond its extent; `object` reads every member strictly later.
    private mutating func skipValue() throws(Declined) {
        let c = at(i)
        if c == UInt8(ascii: "\"") { return try skipString() }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while true {
                switch at(i) {
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; i += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    i += 1
                    if depth == 0 { return }
                case UInt8(ascii: "\""): try skipString()
                case 0: throw Declined()
                default: i += 1
                }
            }
        }
        let start = i
        while true {
            switch at(i) {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09, 0: break
            default: i += 1; continue
            }
            break
        }
        guard i > start else { throw Declined() }
    }

    private mutating func skipString() throws(Declined) {
        i += 1
        while true {
            let c = at(i)
            if c == UInt8(ascii: "\"") { i += 1; return }
            guard c >= 0x20 else { throw Declined() }
            i += c == UInt8(ascii: "\\") ? 2 : 1
        }
    }
}
