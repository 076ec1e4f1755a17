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
            switch try r.string("type") {
            case "payload":
                .payload(
                    Payload(
                        base: try r.enumValue("base"), offset: try r.uint("offset"), length: try r.uint("length"),
                        dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg")))
            case "meta": .meta(Meta(key: try r.uint("key"), dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg")))
            case "cmp": .cmp(Cmp(sreg: try r.uint("sreg"), op: try r.enumValue("op"), data: try r.bytes("data")))
            case "bitwise":
                .bitwise(
                    Bitwise(
                        sreg: try r.uint("sreg"), dreg: try r.uint("dreg"), length: try r.uint("length"), op: try r.uint("op"),
                        mask: try r.bytesIfPresent("mask"), xor: try r.bytesIfPresent("xor"), data: try r.bytesIfPresent("data")))
            case "byteorder":
                .byteorder(
                    Byteorder(
                        sreg: try r.uint("sreg"), dreg: try r.uint("dreg"), op: try r.uint("op"),
                        length: try r.uint("length"), size: try r.uint("size")))
            case "range":
                .range(RangeExpr(sreg: try r.uint("sreg"), inverted: try r.bool("inverted"), from: try r.bytes("from"), to: try r.bytes("to")))
            case "lookup":
                .lookup(
                    Lookup(
                        sreg: try r.uint("sreg"), dreg: try r.uintIfPresent("dreg"), set: try r.string("set"),
                        setId: try r.uintIfPresent("setId"), inverted: try r.bool("inverted")))
            case "immediate":
                .immediate(
                    Immediate(
                        dreg: try r.uint("dreg"), data: try r.bytesIfPresent("data"),
                        verdict: try r.decodeIfPresent("verdict") { r throws(Declined) in try r.verdict() }))
            case "ct":
                .ct(
                    Ct(
                        key: try r.uint("key"), dreg: try r.uintIfPresent("dreg"), sreg: try r.uintIfPresent("sreg"),
                        direction: try r.uintIfPresent("direction")))
            case "fib": .fib(Fib(dreg: try r.uint("dreg"), result: try r.uint("result"), flags: try r.uint("flags")))
            case "nat":
                .nat(
                    Nat(
                        type: try r.uint("natType"), family: try r.uint("family"), regAddrMin: try r.uintIfPresent("regAddrMin"),
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
                .limit(
                    Limit(
                        rate: try r.uint("rate"), unit: try r.uint("unit"), burst: try r.uint("burst"), type: try r.uint("limitType"),
                        inverted: try r.bool("inverted")))
            case "quota": .quota(Quota(bytes: try r.uint("bytes"), inverted: try r.bool("inverted"), consumed: try r.uintIfPresent("consumed")))
            case "connlimit": .connlimit(Connlimit(count: try r.uint("count"), inverted: try r.bool("inverted")))
            case "numgen":
                .numgen(
                    Numgen(
                        dreg: try r.uint("dreg"), modulus: try r.uint("modulus"), type: try r.uint("numgenType"),
                        offset: try r.uint("offset")))
            case "hash": .hash(HashExpr(dreg: try r.uint("dreg"), modulus: try r.uint("modulus"), type: try r.uint("hashType")))
            case "socket": .socket(SocketExpr(key: try r.uint("key"), dreg: try r.uint("dreg"), level: try r.uintIfPresent("level")))
            case "dynset":
                .dynset(
                    Dynset(
                        op: try r.uint("op"), set: try r.string("set"), sregKey: try r.uint("sregKey"),
                        sregData: try r.uintIfPresent("sregData"), timeout: try r.uintIfPresent("timeout"),
                        expressions: try r.decode("expressions") { r throws(Declined) in try r.strings() }))
            case "objref":
                .objref(
                    Objref(
                        objectType: try r.uintIfPresent("objectType"), name: try r.stringIfPresent("name"),
                        setSreg: try r.uintIfPresent("setSreg"), set: try r.stringIfPresent("set")))
            case "queue": .queue(Queue(number: try r.uint("number"), total: try r.uint("total"), flags: try r.uint("flags")))
            case "exthdr":
                .exthdr(
                    Exthdr(
                        dreg: try r.uintIfPresent("dreg"), type: try r.uint("exthdrType"), offset: try r.uint("offset"),
                        length: try r.uint("length"), op: try r.uint("op"), flags: try r.uint("flags")))
            case "match": .match(try r.xt())
            case "target": .target(try r.xt())
            case "unknown":
                .unknown(
                    Unknown(
                        name: try r.string("name"),
                        attributes: try r.decode("attributes") { r throws(Declined) in
                            try r.array { r throws(Declined) in
                                try r.object { r throws(Declined) in RawAttribute(type: try r.uint("type"), value: try r.bytes("value")) }
                            }
                        }))
            default: throw Declined()
            }
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
