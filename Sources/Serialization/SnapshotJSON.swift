import HostModel

/// The whole snapshot through `SnapshotJSONWriter`: the same bytes as `JSONEncoder` (pretty, sorted keys, slashes
/// unescaped), written member by member from the model, so no encoder tree, no second copy of the output and, when
/// streaming, no full output buffer exist. Members are listed in sorted-key order (UTF-8 byte order); optionals are
/// left out when nil, as the synthesized `Codable` conformances do.
extension SnapshotJSONWriter {
    mutating func write(_ s: Snapshot) {
        var o = openObject(0)
        key(&o, "firewall"); write(s.firewall, indent: 2)
        key(&o, "host"); write(s.host, indent: 2)
        key(&o, "interfaces"); array(s.interfaces, indent: 2) { $0.write($1, indent: $2) }
        key(&o, "listeners"); drainingArray(s.listeners, indent: 2) { $0.write($1, indent: $2) }
        if !s.namespaces.isEmpty { key(&o, "namespaces"); array(s.namespaces, indent: 2) { $0.write($1, indent: $2) } }
        if let n = s.netns { key(&o, "netns"); write(n, indent: 2) }
        key(&o, "privileges")
        var p = openObject(2)
        key(&p, "netAdmin"); bool(s.privileges.netAdmin)
        key(&p, "procFds"); bool(s.privileges.procFds)
        closeObject(p)
        key(&o, "routes"); write(s.routes, indent: 2)
        key(&o, "schema"); string(s.schema)
        key(&o, "sysctls"); write(s.sysctls, indent: 2)
        key(&o, "warnings"); strings(s.warnings, indent: 2)
        closeObject(o)
    }

    package mutating func write(_ h: HostInfo, indent: Int) {
        var o = openObject(indent)
        key(&o, "collectedAt"); string(h.collectedAt)
        key(&o, "hostname"); string(h.hostname)
        key(&o, "kernel"); string(h.kernel)
        key(&o, "toolVersion"); string(h.toolVersion)
        closeObject(o)
    }

    // MARK: Namespaces

    private mutating func write(_ n: NetworkNamespace, indent: Int) {
        var o = openObject(indent)
        key(&o, "entered"); bool(n.entered)
        key(&o, "firewall"); write(n.firewall, indent: indent + 2)
        key(&o, "id"); write(n.id, indent: indent + 2)
        key(&o, "interfaces"); array(n.interfaces, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "listeners"); array(n.listeners, indent: indent + 2) { $0.write($1, indent: $2) }
        if let w = n.owner {
            key(&o, "owner")
            var ow = openObject(indent + 2)
            if let v = w.id { key(&ow, "id"); string(v) }
            if let v = w.name { key(&ow, "name"); string(v) }
            if let v = w.pod { key(&ow, "pod"); string(v) }
            if let v = w.podNamespace { key(&ow, "podNamespace"); string(v) }
            key(&ow, "runtime"); string(w.runtime)
            closeObject(ow)
        }
        key(&o, "pids"); array(n.pids, indent: indent + 2) { w, pid, _ in w.signed(Int64(pid)) }
        key(&o, "routes"); write(n.routes, indent: indent + 2)
        key(&o, "sysctls"); write(n.sysctls, indent: indent + 2)
        key(&o, "warnings"); strings(n.warnings, indent: indent + 2)
        closeObject(o)
    }

    private mutating func write(_ n: NamespaceID, indent: Int) {
        var o = openObject(indent)
        key(&o, "inode"); number(n.inode)
        if let v = n.name { key(&o, "name"); string(v) }
        closeObject(o)
    }

    // MARK: Network

    private mutating func write(_ i: Interface, indent: Int) {
        var o = openObject(indent)
        key(&o, "addresses"); array(i.addresses, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "flags"); strings(i.flags, indent: indent + 2)
        key(&o, "index"); number(i.index)
        if let k = i.kind { key(&o, "kind"); string(k) }
        if let m = i.master { key(&o, "master"); string(m) }
        key(&o, "name"); string(i.name)
        closeObject(o)
    }

    private mutating func write(_ a: InterfaceAddress, indent: Int) {
        var o = openObject(indent)
        key(&o, "address"); string(a.address)
        key(&o, "family"); string(a.family.rawValue)
        key(&o, "prefixLength"); number(a.prefixLength)
        key(&o, "scope"); string(a.scope)
        closeObject(o)
    }

    private mutating func write(_ r: Routing, indent: Int) {
        var o = openObject(indent)
        key(&o, "routes"); drainingArray(r.routes, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "rules"); array(r.rules, indent: indent + 2) { $0.write($1, indent: $2) }
        closeObject(o)
    }

    private mutating func write(_ r: Route, indent: Int) {
        var o = openObject(indent)
        key(&o, "destination"); string(r.destination)
        if let d = r.device { key(&o, "device"); string(d) }
        key(&o, "deviceIndex"); number(r.deviceIndex)
        key(&o, "family"); string(r.family.rawValue)
        if let g = r.gateway { key(&o, "gateway"); string(g) }
        key(&o, "metric"); number(r.metric)
        if let p = r.preferredSource { key(&o, "preferredSource"); string(p) }
        key(&o, "prefixLength"); number(r.prefixLength)
        key(&o, "table"); number(r.table)
        key(&o, "type"); string(r.type)
        closeObject(o)
    }

    private mutating func write(_ r: RoutingRule, indent: Int) {
        var o = openObject(indent)
        key(&o, "action"); string(r.action)
        if let d = r.destination { key(&o, "destination"); string(d) }
        key(&o, "destinationPrefixLength"); number(r.destinationPrefixLength)
        key(&o, "family"); string(r.family.rawValue)
        if let m = r.fwmark { key(&o, "fwmark"); number(m) }
        if let m = r.fwmask { key(&o, "fwmask"); number(m) }
        if let i = r.iifname { key(&o, "iifname"); string(i) }
        key(&o, "inverted"); bool(r.inverted)
        if let i = r.oifname { key(&o, "oifname"); string(i) }
        key(&o, "priority"); number(r.priority)
        if let s = r.source { key(&o, "source"); string(s) }
        key(&o, "sourcePrefixLength"); number(r.sourcePrefixLength)
        key(&o, "table"); number(r.table)
        closeObject(o)
    }

    private mutating func write(_ s: Sysctls, indent: Int) {
        var o = openObject(indent)
        if let v = s.bindv6only { key(&o, "bindv6only"); bool(v) }
        if let v = s.ipForward { key(&o, "ipForward"); bool(v) }
        if let v = s.ipLocalPortRange { key(&o, "ipLocalPortRange"); write(v, indent: indent + 2) }
        key(&o, "ipLocalReservedPorts"); array(s.ipLocalReservedPorts, indent: indent + 2) { $0.write($1, indent: $2) }
        if let v = s.ipNonlocalBind { key(&o, "ipNonlocalBind"); bool(v) }
        if let v = s.ipUnprivilegedPortStart { key(&o, "ipUnprivilegedPortStart"); number(v) }
        if let v = s.ipv6Forwarding { key(&o, "ipv6Forwarding"); bool(v) }
        if let v = s.ipv6NonlocalBind { key(&o, "ipv6NonlocalBind"); bool(v) }
        key(&o, "routeLocalnet")
        // `.sortedKeys` orders dictionary keys by their UTF-8 bytes (not by `String`'s Unicode ordering).
        var d = openObject(indent + 2)
        for (name, on) in s.routeLocalnet.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            key(&d, dynamic: name); bool(on)
        }
        closeObject(d)
        if let v = s.tcpL3mdevAccept { key(&o, "tcpL3mdevAccept"); bool(v) }
        if let v = s.udpL3mdevAccept { key(&o, "udpL3mdevAccept"); bool(v) }
        closeObject(o)
    }

    private mutating func write(_ r: PortRange, indent: Int) {
        var o = openObject(indent)
        key(&o, "first"); number(r.first)
        key(&o, "last"); number(r.last)
        closeObject(o)
    }

    // MARK: Firewall

    private mutating func write(_ f: Firewall, indent: Int) {
        var o = openObject(indent)
        if let e = f.error { key(&o, "error"); string(e) }
        if let g = f.generation { key(&o, "generation"); number(g) }
        key(&o, "legacyTables")
        var l = openObject(indent + 2)
        key(&l, "arp"); strings(f.legacyTables.arp, indent: indent + 4)
        key(&l, "ipv4"); strings(f.legacyTables.ipv4, indent: indent + 4)
        key(&l, "ipv6"); strings(f.legacyTables.ipv6, indent: indent + 4)
        closeObject(l)
        if let lists = f.recentLists {
            key(&o, "recentLists")
            array(lists, indent: indent + 2) { w, list, i in
                var r = w.openObject(i)
                w.key(&r, "addresses"); w.strings(list.addresses, indent: i + 2)
                w.key(&r, "name"); w.string(list.name)
                w.closeObject(r)
            }
        }
        key(&o, "status"); string(f.status.rawValue)
        key(&o, "tables"); array(f.tables, indent: indent + 2) { $0.write($1, indent: $2) }
        closeObject(o)
    }

    private mutating func write(_ t: Table, indent: Int) {
        var o = openObject(indent)
        key(&o, "chains"); array(t.chains, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "family"); string(t.family.rawValue)
        key(&o, "flags"); number(t.flags)
        key(&o, "handle"); number(t.handle)
        key(&o, "name"); string(t.name)
        key(&o, "sets"); array(t.sets, indent: indent + 2) { $0.write($1, indent: $2) }
        closeObject(o)
    }

    private mutating func write(_ c: Chain, indent: Int) {
        var o = openObject(indent)
        if let b = c.base {
            key(&o, "base")
            var bo = openObject(indent + 2)
            key(&bo, "devices"); strings(b.devices, indent: indent + 4)
            key(&bo, "hook"); string(b.hook.rawValue)
            key(&bo, "policy"); string(b.policy.rawValue)
            key(&bo, "priority"); signed(Int64(b.priority))
            key(&bo, "type"); string(b.type)
            closeObject(bo)
        }
        key(&o, "flags"); number(c.flags)
        key(&o, "handle"); number(c.handle)
        key(&o, "name"); string(c.name)
        key(&o, "rules"); drainingArray(c.rules, indent: indent + 2) { $0.write($1, indent: $2) }
        closeObject(o)
    }

    private mutating func write(_ r: Rule, indent: Int) {
        var o = openObject(indent)
        if let c = r.comment { key(&o, "comment"); string(c) }
        key(&o, "expressions"); array(r.expressions, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "handle"); number(r.handle)
        closeObject(o)
    }

    private mutating func write(_ s: NFTSet, indent: Int) {
        var o = openObject(indent)
        key(&o, "concatLengths")
        var a = openArray(indent + 2)
        for n in s.concatLengths { item(&a); number(n) }
        closeArray(a)
        if let v = s.dataLength { key(&o, "dataLength"); number(v) }
        if let v = s.dataType { key(&o, "dataType"); number(v) }
        key(&o, "elements"); drainingArray(s.elements, indent: indent + 2) { $0.write($1, indent: $2) }
        key(&o, "flags"); number(s.flags)
        key(&o, "handle"); number(s.handle)
        if let v = s.keyByteOrder { key(&o, "keyByteOrder"); string(v) }
        key(&o, "keyLength"); number(s.keyLength)
        key(&o, "keyType"); number(s.keyType)
        key(&o, "name"); string(s.name)
        if let v = s.objectType { key(&o, "objectType"); number(v) }
        closeObject(o)
    }

    private mutating func write(_ e: SetElement, indent: Int) {
        var o = openObject(indent)
        if let d = e.data { key(&o, "data"); hex(d) }
        key(&o, "flags"); number(e.flags)
        key(&o, "key"); hex(e.key)
        if let k = e.keyEnd { key(&o, "keyEnd"); hex(k) }
        if let r = e.objref { key(&o, "objref"); string(r) }
        if let v = e.verdict { key(&o, "verdict"); write(v, indent: indent + 2) }
        closeObject(o)
    }

    private mutating func write(_ v: Verdict, indent: Int) {
        var o = openObject(indent)
        switch v {
        case .jump(let c), .goto(let c): key(&o, "chain"); string(c)
        case .other(let code): key(&o, "code"); signed(Int64(code))
        default: break
        }
        key(&o, "verdict"); string(v.codingName)
        closeObject(o)
    }

    // MARK: Expressions

    /// An expression is one object: its own members merged with the `type` discriminator, which sorts among them
    /// (last except before bitwise's `xor`, immediate's `verdict` and limit's `unit`).
    private mutating func write(_ e: Expression, indent: Int) {
        var o = openObject(indent)
        switch e {
        case .payload, .meta, .cmp, .bitwise, .byteorder, .range, .lookup, .immediate:
            writeRegisterExpression(&o, e, indent: indent)
        case .ct, .fib, .nat, .redir, .reject, .counter, .notrack, .log, .limit, .quota, .connlimit, .masq:
            writeStatefulExpression(&o, e, indent: indent)
        default:
            writeOtherExpression(&o, e, indent: indent)
        }
        closeObject(o)
    }

    /// Loads, compares and register operations.
    private mutating func writeRegisterExpression(_ o: inout Scope, _ e: Expression, indent: Int) {
        switch e {
        case .payload(let v):
            key(&o, "base"); string(v.base.rawValue)
            if let r = v.dreg { key(&o, "dreg"); number(r) }
            key(&o, "length"); number(v.length)
            key(&o, "offset"); number(v.offset)
            if let r = v.sreg { key(&o, "sreg"); number(r) }
            type(&o, "payload")
        case .meta(let v):
            if let r = v.dreg { key(&o, "dreg"); number(r) }
            key(&o, "key"); number(v.key)
            if let r = v.sreg { key(&o, "sreg"); number(r) }
            type(&o, "meta")
        case .cmp(let v):
            key(&o, "data"); hex(v.data)
            key(&o, "op"); string(v.op.rawValue)
            key(&o, "sreg"); number(v.sreg)
            type(&o, "cmp")
        case .bitwise(let v):
            if let d = v.data { key(&o, "data"); hex(d) }
            key(&o, "dreg"); number(v.dreg)
            key(&o, "length"); number(v.length)
            if let m = v.mask { key(&o, "mask"); hex(m) }
            key(&o, "op"); number(v.op)
            key(&o, "sreg"); number(v.sreg)
            type(&o, "bitwise")
            if let x = v.xor { key(&o, "xor"); hex(x) }
        case .byteorder(let v):
            key(&o, "dreg"); number(v.dreg)
            key(&o, "length"); number(v.length)
            key(&o, "op"); number(v.op)
            key(&o, "size"); number(v.size)
            key(&o, "sreg"); number(v.sreg)
            type(&o, "byteorder")
        case .range(let v):
            key(&o, "from"); hex(v.from)
            key(&o, "inverted"); bool(v.inverted)
            key(&o, "sreg"); number(v.sreg)
            key(&o, "to"); hex(v.to)
            type(&o, "range")
        case .lookup(let v):
            if let r = v.dreg { key(&o, "dreg"); number(r) }
            key(&o, "inverted"); bool(v.inverted)
            key(&o, "set"); string(v.set)
            if let i = v.setId { key(&o, "setId"); number(i) }
            key(&o, "sreg"); number(v.sreg)
            type(&o, "lookup")
        case .immediate(let v):
            if let d = v.data { key(&o, "data"); hex(d) }
            key(&o, "dreg"); number(v.dreg)
            type(&o, "immediate")
            if let verdict = v.verdict { key(&o, "verdict"); write(verdict, indent: indent + 2) }
        default:
            break
        }
    }

    /// Conntrack, fib, NAT, reject, logging and limits.
    private mutating func writeStatefulExpression(_ o: inout Scope, _ e: Expression, indent: Int) {
        switch e {
        case .ct(let v):
            if let d = v.direction { key(&o, "direction"); number(d) }
            if let r = v.dreg { key(&o, "dreg"); number(r) }
            key(&o, "key"); number(v.key)
            if let r = v.sreg { key(&o, "sreg"); number(r) }
            type(&o, "ct")
        case .fib(let v):
            key(&o, "dreg"); number(v.dreg)
            key(&o, "flags"); number(v.flags)
            key(&o, "result"); number(v.result)
            type(&o, "fib")
        case .nat(let v):
            key(&o, "family"); number(v.family)
            if let f = v.flags { key(&o, "flags"); number(f) }
            key(&o, "natType"); number(v.type)
            if let r = v.regAddrMax { key(&o, "regAddrMax"); number(r) }
            if let r = v.regAddrMin { key(&o, "regAddrMin"); number(r) }
            if let r = v.regProtoMax { key(&o, "regProtoMax"); number(r) }
            if let r = v.regProtoMin { key(&o, "regProtoMin"); number(r) }
            type(&o, "nat")
        case .redir(let v), .masq(let v):
            if let f = v.flags { key(&o, "flags"); number(f) }
            if let r = v.regProtoMax { key(&o, "regProtoMax"); number(r) }
            if let r = v.regProtoMin { key(&o, "regProtoMin"); number(r) }
            if case .masq = e { type(&o, "masq") } else { type(&o, "redir") }
        case .reject(let v):
            if let c = v.code { key(&o, "code"); number(c) }
            key(&o, "rejectType"); number(v.type)
            type(&o, "reject")
        case .counter:
            type(&o, "counter")
        case .notrack:
            type(&o, "notrack")
        case .log(let v):
            if let g = v.group { key(&o, "group"); number(g) }
            if let l = v.level { key(&o, "level"); number(l) }
            if let p = v.prefix { key(&o, "prefix"); string(p) }
            type(&o, "log")
        case .limit(let v):
            key(&o, "burst"); number(v.burst)
            key(&o, "inverted"); bool(v.inverted)
            key(&o, "limitType"); number(v.type)
            key(&o, "rate"); number(v.rate)
            type(&o, "limit")
            key(&o, "unit"); number(v.unit)
        case .quota(let v):
            key(&o, "bytes"); number(v.bytes)
            if let c = v.consumed { key(&o, "consumed"); number(c) }
            key(&o, "inverted"); bool(v.inverted)
            type(&o, "quota")
        case .connlimit(let v):
            key(&o, "count"); number(v.count)
            key(&o, "inverted"); bool(v.inverted)
            type(&o, "connlimit")
        default:
            break
        }
    }

    /// Generated values, sets, objects, queues, headers, xt and unknown expressions.
    private mutating func writeOtherExpression(_ o: inout Scope, _ e: Expression, indent: Int) {
        switch e {
        case .numgen(let v):
            key(&o, "dreg"); number(v.dreg)
            key(&o, "modulus"); number(v.modulus)
            key(&o, "numgenType"); number(v.type)
            key(&o, "offset"); number(v.offset)
            type(&o, "numgen")
        case .hash(let v):
            key(&o, "dreg"); number(v.dreg)
            key(&o, "hashType"); number(v.type)
            key(&o, "modulus"); number(v.modulus)
            type(&o, "hash")
        case .socket(let v):
            key(&o, "dreg"); number(v.dreg)
            key(&o, "key"); number(v.key)
            if let l = v.level { key(&o, "level"); number(l) }
            type(&o, "socket")
        case .dynset(let v):
            key(&o, "expressions"); strings(v.expressions, indent: indent + 2)
            key(&o, "op"); number(v.op)
            key(&o, "set"); string(v.set)
            if let r = v.sregData { key(&o, "sregData"); number(r) }
            key(&o, "sregKey"); number(v.sregKey)
            if let t = v.timeout { key(&o, "timeout"); number(t) }
            type(&o, "dynset")
        case .objref(let v):
            if let n = v.name { key(&o, "name"); string(n) }
            if let t = v.objectType { key(&o, "objectType"); number(t) }
            if let s = v.set { key(&o, "set"); string(s) }
            if let r = v.setSreg { key(&o, "setSreg"); number(r) }
            type(&o, "objref")
        case .queue(let v):
            key(&o, "flags"); number(v.flags)
            key(&o, "number"); number(v.number)
            key(&o, "total"); number(v.total)
            type(&o, "queue")
        case .exthdr(let v):
            if let r = v.dreg { key(&o, "dreg"); number(r) }
            key(&o, "exthdrType"); number(v.type)
            key(&o, "flags"); number(v.flags)
            key(&o, "length"); number(v.length)
            key(&o, "offset"); number(v.offset)
            key(&o, "op"); number(v.op)
            type(&o, "exthdr")
        case .match(let v), .target(let v):
            key(&o, "info"); hex(v.info)
            key(&o, "name"); string(v.name)
            key(&o, "revision"); number(v.revision)
            if case .match = e { type(&o, "match") } else { type(&o, "target") }
        case .unknown(let v):
            key(&o, "attributes")
            var a = openArray(indent + 2)
            for attr in v.attributes {
                item(&a)
                var ao = openObject(indent + 4)
                key(&ao, "type"); number(attr.type)
                key(&ao, "value"); hex(attr.value)
                closeObject(ao)
            }
            closeArray(a)
            key(&o, "name"); string(v.name)
            type(&o, "unknown")
        default:
            break
        }
    }

    @inline(__always) private mutating func type(_ o: inout Scope, _ name: StaticString) {
        key(&o, "type"); quoted(name)
    }
}
