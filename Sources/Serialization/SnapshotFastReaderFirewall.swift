import HostModel

/// The firewall part of `SnapshotFastReader`: tables, chains, rules, sets and every expression kind, members in
/// sorted-key order as the writer puts them; anything else declines to `JSONDecoder`.
extension SnapshotFastReader {
    mutating func firewall() throws(Declined) -> Firewall {
        var status = Slot<Firewall.Status>(), generation = Slot<UInt32>(), tables = Slot<[Table]>(), error = Slot<String>(),
            legacyTables = Slot<LegacyTables>(), recentLists = Slot<[RecentList]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("generation") {
                try generation.set(r.nullable { r throws(Declined) in try r.uint() })
            } else if r.isKey("legacyTables") {
                try legacyTables.set(
                    r.object { r throws(Declined) in
                        LegacyTables(
                            ipv4: try r.decode("ipv4") { r throws(Declined) in try r.strings() },
                            ipv6: try r.decode("ipv6") { r throws(Declined) in try r.strings() },
                            arp: try r.decode("arp") { r throws(Declined) in try r.strings() })
                    })
            } else if r.isKey("recentLists") {
                try recentLists.set(
                    r.array { r throws(Declined) in
                        try r.object { r throws(Declined) in
                            let addresses = try r.decode("addresses") { r throws(Declined) in try r.strings() }
                            return RecentList(name: try r.decode("name") { r throws(Declined) in try r.string() }, addresses: addresses)
                        }
                    })
            } else if r.isKey("status") {
                try status.set(r.enumValue())
            } else if r.isKey("tables") {
                try tables.set(r.array { r throws(Declined) in try r.table() })
            } else if r.isKey("error") {
                try error.set(r.nullable { r throws(Declined) in try r.string() })
            } else {
                throw Declined()
            }
        }
        return Firewall(
            status: try status.get(), generation: generation.value, tables: try tables.get(), error: error.value,
            legacyTables: try legacyTables.get(), recentLists: recentLists.value)
    }

    mutating func table() throws(Declined) -> Table {
        var family = Slot<TableFamily>(), name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(),
            chains = Slot<[Chain]>(), sets = Slot<[NFTSet]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("chains") {
                try chains.set(r.array { r throws(Declined) in try r.chain() })
            } else if r.isKey("family") {
                try family.set(r.enumValue())
            } else if r.isKey("flags") {
                try flags.set(r.uint())
            } else if r.isKey("handle") {
                try handle.set(r.uint())
            } else if r.isKey("name") {
                try name.set(r.string())
            } else if r.isKey("sets") {
                try sets.set(r.array { r throws(Declined) in try r.set() })
            } else {
                throw Declined()
            }
        }
        return Table(
            family: try family.get(), name: try name.get(), handle: try handle.get(), flags: try flags.get(),
            chains: try chains.get(), sets: try sets.get())
    }

    mutating func chain() throws(Declined) -> Chain {
        var name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(), base = Slot<BaseChain>(), rules = Slot<[Rule]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("base") {
                try base.set(r.nullable { r throws(Declined) in try r.baseChain() })
            } else if r.isKey("flags") {
                try flags.set(r.uint())
            } else if r.isKey("handle") {
                try handle.set(r.uint())
            } else if r.isKey("name") {
                try name.set(r.string())
            } else if r.isKey("rules") {
                try rules.set(r.array { r throws(Declined) in try r.rule() })
            } else {
                throw Declined()
            }
        }
        return Chain(name: try name.get(), handle: try handle.get(), flags: try flags.get(), base: base.value, rules: try rules.get())
    }

    mutating func baseChain() throws(Declined) -> BaseChain {
        try object { r throws(Declined) in
            BaseChain(
                type: try r.string("type"), hook: try r.enumValue("hook"), priority: try r.int32("priority"),
                policy: try r.enumValue("policy"), devices: try r.decode("devices") { r throws(Declined) in try r.strings() })
        }
    }

    mutating func rule() throws(Declined) -> Rule {
        var handle = Slot<UInt64>(), expressions = Slot<[Expression]>(), comment = Slot<String>()
        try forEachMember { r throws(Declined) in
            if r.isKey("comment") {
                try comment.set(r.nullable { r throws(Declined) in try r.string() })
            } else if r.isKey("expressions") {
                try expressions.set(r.array { r throws(Declined) in try r.expression() })
            } else if r.isKey("handle") {
                try handle.set(r.uint())
            } else {
                throw Declined()
            }
        }
        return Rule(handle: try handle.get(), expressions: try expressions.get(), comment: comment.value)
    }

    mutating func set() throws(Declined) -> NFTSet {
        var name = Slot<String>(), handle = Slot<UInt64>(), flags = Slot<UInt32>(), keyType = Slot<UInt32>(), keyLength = Slot<UInt32>(),
            dataType = Slot<UInt32>(), dataLength = Slot<UInt32>(), objectType = Slot<UInt32>(), concatLengths = Slot<[UInt32]>(),
            keyByteOrder = Slot<String>(), elements = Slot<[SetElement]>()
        try forEachMember { r throws(Declined) in
            if r.isKey("elements") {
                try elements.set(r.array { r throws(Declined) in try r.element() })
            } else if r.isKey("concatLengths") {
                try concatLengths.set(r.array { r throws(Declined) in try r.uint() })
            } else if r.isKey("dataLength") {
                try dataLength.set(r.nullable { r throws(Declined) in try r.uint() })
            } else if r.isKey("dataType") {
                try dataType.set(r.nullable { r throws(Declined) in try r.uint() })
            } else if r.isKey("flags") {
                try flags.set(r.uint())
            } else if r.isKey("handle") {
                try handle.set(r.uint())
            } else if r.isKey("keyByteOrder") {
                try keyByteOrder.set(r.nullable { r throws(Declined) in try r.string() })
            } else if r.isKey("keyLength") {
                try keyLength.set(r.uint())
            } else if r.isKey("keyType") {
                try keyType.set(r.uint())
            } else if r.isKey("name") {
                try name.set(r.string())
            } else if r.isKey("objectType") {
                try objectType.set(r.nullable { r throws(Declined) in try r.uint() })
            } else {
                throw Declined()
            }
        }
        return NFTSet(
            name: try name.get(), handle: try handle.get(), flags: try flags.get(), keyType: try keyType.get(),
            keyLength: try keyLength.get(), dataType: dataType.value, dataLength: dataLength.value,
            objectType: objectType.value, concatLengths: try concatLengths.get(), keyByteOrder: keyByteOrder.value,
            elements: try elements.get())
    }

    mutating func element() throws(Declined) -> SetElement {
        try object { r throws(Declined) in
            SetElement(
                key: try r.bytes("key"), keyEnd: try r.bytesIfPresent("keyEnd"), flags: try r.uint("flags"),
                verdict: try r.decodeIfPresent("verdict") { r throws(Declined) in try r.verdict() },
                data: try r.bytesIfPresent("data"), objref: try r.stringIfPresent("objref"))
        }
    }

    /// Mirrors `Verdict.init(from:)`, which reads `chain` or `code` only for the verdicts that carry one.
    mutating func verdict() throws(Declined) -> Verdict {
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
    mutating func expression() throws(Declined) -> Expression {
        try object { r throws(Declined) in
            let type = try r.string("type")
            if let e = try r.registerExpression(type) { return e }
            if let e = try r.statefulExpression(type) { return e }
            if let e = try r.otherExpression(type) { return e }
            throw Declined()
        }
    }

    /// Loads, compares and register operations (nil: another kind).
    mutating func registerExpression(_ type: String) throws(Declined) -> Expression? {
        switch type {
        case "payload":
            .payload(
                Payload(
                    base: try enumValue("base"), offset: try uint("offset"), length: try uint("length"),
                    dreg: try uintIfPresent("dreg"), sreg: try uintIfPresent("sreg")))
        case "meta": .meta(Meta(key: try uint("key"), dreg: try uintIfPresent("dreg"), sreg: try uintIfPresent("sreg")))
        case "cmp": .cmp(Cmp(sreg: try uint("sreg"), op: try enumValue("op"), data: try bytes("data")))
        case "bitwise":
            .bitwise(
                Bitwise(
                    sreg: try uint("sreg"), dreg: try uint("dreg"), length: try uint("length"), op: try uint("op"),
                    mask: try bytesIfPresent("mask"), xor: try bytesIfPresent("xor"), data: try bytesIfPresent("data")))
        case "byteorder":
            .byteorder(
                Byteorder(
                    sreg: try uint("sreg"), dreg: try uint("dreg"), op: try uint("op"),
                    length: try uint("length"), size: try uint("size")))
        case "range":
            .range(RangeExpr(sreg: try uint("sreg"), inverted: try bool("inverted"), from: try bytes("from"), to: try bytes("to")))
        case "lookup":
            .lookup(
                Lookup(
                    sreg: try uint("sreg"), dreg: try uintIfPresent("dreg"), set: try string("set"),
                    setId: try uintIfPresent("setId"), inverted: try bool("inverted")))
        case "immediate":
            .immediate(
                Immediate(
                    dreg: try uint("dreg"), data: try bytesIfPresent("data"),
                    verdict: try decodeIfPresent("verdict") { r throws(Declined) in try r.verdict() }))
        default: nil
        }
    }

    /// Conntrack, fib, NAT, reject, logging and limits (nil: another kind).
    mutating func statefulExpression(_ type: String) throws(Declined) -> Expression? {
        switch type {
        case "ct":
            .ct(
                Ct(
                    key: try uint("key"), dreg: try uintIfPresent("dreg"), sreg: try uintIfPresent("sreg"),
                    direction: try uintIfPresent("direction")))
        case "fib": .fib(Fib(dreg: try uint("dreg"), result: try uint("result"), flags: try uint("flags")))
        case "nat":
            .nat(
                Nat(
                    type: try uint("natType"), family: try uint("family"), regAddrMin: try uintIfPresent("regAddrMin"),
                    regAddrMax: try uintIfPresent("regAddrMax"), regProtoMin: try uintIfPresent("regProtoMin"),
                    regProtoMax: try uintIfPresent("regProtoMax"), flags: try uintIfPresent("flags")))
        case "redir": .redir(try redir())
        case "masq": .masq(try redir())
        case "reject": .reject(Reject(type: try uint("rejectType"), code: try uintIfPresent("code")))
        case "counter": .counter
        case "notrack": .notrack
        case "log":
            .log(Log(prefix: try stringIfPresent("prefix"), group: try uintIfPresent("group"), level: try uintIfPresent("level")))
        case "limit":
            .limit(
                Limit(
                    rate: try uint("rate"), unit: try uint("unit"), burst: try uint("burst"), type: try uint("limitType"),
                    inverted: try bool("inverted")))
        case "quota": .quota(Quota(bytes: try uint("bytes"), inverted: try bool("inverted"), consumed: try uintIfPresent("consumed")))
        case "connlimit": .connlimit(Connlimit(count: try uint("count"), inverted: try bool("inverted")))
        default: nil
        }
    }

    /// Generated values, sets, objects, queues, headers, xt and unknown expressions (nil: none of these).
    mutating func otherExpression(_ type: String) throws(Declined) -> Expression? {
        switch type {
        case "numgen":
            .numgen(
                Numgen(
                    dreg: try uint("dreg"), modulus: try uint("modulus"), type: try uint("numgenType"),
                    offset: try uint("offset")))
        case "hash": .hash(HashExpr(dreg: try uint("dreg"), modulus: try uint("modulus"), type: try uint("hashType")))
        case "socket": .socket(SocketExpr(key: try uint("key"), dreg: try uint("dreg"), level: try uintIfPresent("level")))
        case "dynset":
            .dynset(
                Dynset(
                    op: try uint("op"), set: try string("set"), sregKey: try uint("sregKey"),
                    sregData: try uintIfPresent("sregData"), timeout: try uintIfPresent("timeout"),
                    expressions: try decode("expressions") { r throws(Declined) in try r.strings() }))
        case "objref":
            .objref(
                Objref(
                    objectType: try uintIfPresent("objectType"), name: try stringIfPresent("name"),
                    setSreg: try uintIfPresent("setSreg"), set: try stringIfPresent("set")))
        case "queue": .queue(Queue(number: try uint("number"), total: try uint("total"), flags: try uint("flags")))
        case "exthdr":
            .exthdr(
                Exthdr(
                    dreg: try uintIfPresent("dreg"), type: try uint("exthdrType"), offset: try uint("offset"),
                    length: try uint("length"), op: try uint("op"), flags: try uint("flags")))
        case "match": .match(try xt())
        case "target": .target(try xt())
        case "unknown":
            .unknown(
                Unknown(
                    name: try string("name"),
                    attributes: try decode("attributes") { r throws(Declined) in
                        try r.array { r throws(Declined) in
                            try r.object { r throws(Declined) in RawAttribute(type: try r.uint("type"), value: try r.bytes("value")) }
                        }
                    }))
        default: nil
        }
    }

    /// The members of `redir` and `masq`, read from the expression object being read.
    mutating func redir() throws(Declined) -> Redir {
        Redir(regProtoMin: try uintIfPresent("regProtoMin"), regProtoMax: try uintIfPresent("regProtoMax"), flags: try uintIfPresent("flags"))
    }

    mutating func xt() throws(Declined) -> Xt {
        Xt(name: try string("name"), revision: try uint("revision"), info: try bytes("info"))
    }
}
