import Foundation
import HostModel
import Serialization
import Testing
import TestSupport

/// The snapshot file is a contract: what `collect` writes must read back identically, and a bad file must be
/// refused with the field to fix.
@Suite struct SnapshotCodecTests {
    static func rich() -> Snapshot {
        let nginx = ProcessInfo(
            pid: 100, name: "nginx", exe: "/usr/sbin/nginx", cmdline: ["nginx: master process", "-g", "daemon off;"],
            unit: "nginx.service", container: nil)
        let worker = ProcessInfo(pid: 101, name: "nginx", cmdline: ["nginx: worker process"], unit: "nginx.service", container: "docker:0123456789ab")
        let listeners = [
            Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 80, uid: 0, inode: 1001, cookie: 1, processes: [nginx, worker]),
            Listener(proto: .tcp, family: .ipv6, address: "::", port: 443, v6only: false, uid: 0, inode: 1002, cookie: 2, processes: [nginx]),
            Listener(
                proto: .udp, family: .ipv4, address: "192.0.2.1", port: 53, device: "eth0", deviceIndex: 2, uid: 101, inode: 1003,
                cookie: 3, owner: .kernel),
            Listener(
                proto: .udp, family: .ipv6, address: "fe80::1", port: 546, v6only: true, device: "eth0", deviceIndex: 2, uid: 0,
                inode: 1004, cookie: 4, owner: .unknown)
        ]
        let interfaces = [
            Interface(
                index: 1, name: "lo", flags: ["up", "loopback", "running"],
                addresses: [InterfaceAddress(family: .ipv4, address: "127.0.0.1", prefixLength: 8, scope: "host")]),
            Interface(
                index: 2, name: "eth0", flags: ["up", "broadcast", "running", "multicast"], kind: "veth",
                addresses: [
                    InterfaceAddress(family: .ipv4, address: "192.0.2.1", prefixLength: 24),
                    InterfaceAddress(family: .ipv6, address: "2001:db8::1", prefixLength: 64)
                ])
        ]
        let routing = Routing(
            routes: [
                Route(
                    family: .ipv4, table: 254, type: "unicast", destination: "0.0.0.0", prefixLength: 0, gateway: "192.0.2.254",
                    device: "eth0", deviceIndex: 2, metric: 100),
                Route(
                    family: .ipv4, table: 255, type: "local", destination: "192.0.2.1", prefixLength: 32, device: "eth0",
                    deviceIndex: 2, preferredSource: "192.0.2.1")
            ],
            rules: [
                RoutingRule(
                    family: .ipv4, priority: 100, table: 100, action: "to_tbl", source: "198.51.100.0", sourcePrefixLength: 24,
                    iifname: "eth0", fwmark: 1, fwmask: 0xff, inverted: true)
            ]
        )
        let sysctls = Sysctls(
            ipLocalPortRange: PortRange(first: 32768, last: 60999), ipLocalReservedPorts: [PortRange(first: 40000, last: 40010)],
            ipUnprivilegedPortStart: 1024, bindv6only: false, ipForward: true, ipv6Forwarding: false,
            routeLocalnet: ["all": false, "eth0": true], ipNonlocalBind: false, ipv6NonlocalBind: nil,
            tcpL3mdevAccept: false, udpL3mdevAccept: nil)
        let input = Chain(
            name: "input", handle: 1, flags: 1, base: BaseChain(type: "filter", hook: .input, priority: 0, policy: .drop),
            rules: [
                Rule(
                    handle: 4,
                    expressions: [
                        .meta(Meta(key: 16, dreg: 1)),
                        .cmp(Cmp(sreg: 1, op: .eq, data: Bytes([6]))),
                        .payload(Payload(base: .transport, offset: 2, length: 2, dreg: 1)),
                        .lookup(Lookup(sreg: 1, set: "web", inverted: false)),
                        .counter,
                        .immediate(Immediate(dreg: 0, verdict: .accept))
                    ], comment: "web"),
                Rule(
                    handle: 5,
                    expressions: [
                        .immediate(Immediate(dreg: 0, verdict: .jump("sshd"))),
                        .unknown(Unknown(name: "future", attributes: [RawAttribute(type: 1, value: Bytes([1, 2]))]))
                    ])
            ])
        let table = Table(
            family: .inet, name: "filter", handle: 7, chains: [input, Chain(name: "sshd", handle: 2)],
            sets: [
                NFTSet(
                    name: "web", handle: 3, flags: 0x4, keyType: 13, keyLength: 2,
                    elements: [SetElement(key: Bytes([0, 80])), SetElement(key: Bytes([0, 81]), flags: 1)])
            ])
        let firewall = Firewall(status: .ok, generation: 42, tables: [table], legacyTables: LegacyTables(ipv4: ["filter"]))
        return Snapshot(
            host: HostInfo(hostname: "web1", kernel: "6.18.0", collectedAt: "2026-11-25T15:40:00Z", toolVersion: "0.1.0"),
            listeners: listeners, interfaces: interfaces, routes: routing, sysctls: sysctls, firewall: firewall,
            privileges: Privileges(netAdmin: true, procFds: false), warnings: ["owners unknown: …"])
    }

    @Test func roundTripIsExact() throws {
        let original = Self.rich()
        let data = try SnapshotCodec.encode(original)
        let decoded = try SnapshotCodec.decode(data)
        #expect(decoded == original)
        #expect(try SnapshotCodec.encode(decoded) == data, "encoding is deterministic (sorted keys)")
        #expect(try SnapshotCodec.decode(SnapshotCodec.encode(original, pretty: false)) == original)
    }

    @Test func contractFieldNames() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: SnapshotCodec.encode(Self.rich())) as? [String: Any])
        #expect(json["schema"] as? String == "portwarden-snapshot/2")
        let listener = try #require((json["listeners"] as? [[String: Any]])?.first)
        for key in ["proto", "address", "port", "v6only", "uid", "processes"] { #expect(listener[key] != nil, "listener.\(key)") }
        #expect((listener["processes"] as? [[String: Any]])?.first?["pid"] as? Int == 100)
        let firewall = try #require(json["firewall"] as? [String: Any])
        #expect(firewall["status"] as? String == "ok" && firewall["generation"] as? Int == 42)
    }

    func mutate(_ body: (inout [String: Any]) -> Void) throws -> Data {
        var json = try #require(try JSONSerialization.jsonObject(with: SnapshotCodec.encode(Self.rich())) as? [String: Any])
        body(&json)
        return try JSONSerialization.data(withJSONObject: json)
    }

    @Test func wrongSchema() throws {
        let data = try mutate { $0["schema"] = "something-else/1" }
        #expect(throws: SnapshotError.wrongSchema(found: "something-else/1")) { try SnapshotCodec.decode(data) }
        #expect("\(SnapshotError.wrongSchema(found: "x"))".contains("'schema'"))
    }

    @Test func futureSchemaIsRefusedAsSuch() throws {
        // A future version may change any field; it must be reported as a version mismatch, not a type error.
        let data = try mutate {
            $0["schema"] = "portwarden-snapshot/99"; $0["listeners"] = "changed shape"
        }
        #expect(throws: SnapshotError.wrongSchema(found: "portwarden-snapshot/99")) { try SnapshotCodec.decode(data) }
    }

    @Test func missingSchema() throws {
        let data = try mutate { $0.removeValue(forKey: "schema") }
        #expect(throws: SnapshotError.invalid(field: "schema", reason: "missing")) { try SnapshotCodec.decode(data) }
    }

    @Test func truncatedJSON() throws {
        let data = try SnapshotCodec.encode(Self.rich())
        let truncated = data.prefix(data.count / 2)
        do {
            _ = try SnapshotCodec.decode(Data(truncated))
            Issue.record("a truncated snapshot decoded")
        } catch let e as SnapshotError {
            guard case .invalid(let field, let reason) = e else { Issue.record("wrong case \(e)"); return }
            #expect(field == "(top level)")
            #expect(reason.contains("truncated"))
        }
    }

    @Test func portAsStringNamesTheField() throws {
        let data = try mutate { json in
            var listeners = json["listeners"] as? [[String: Any]] ?? []
            listeners[1]["port"] = "443"
            json["listeners"] = listeners
        }
        do {
            _ = try SnapshotCodec.decode(data)
            Issue.record("a string port decoded")
        } catch let e as SnapshotError {
            guard case .invalid(let field, _) = e else { Issue.record("wrong case \(e)"); return }
            #expect(field == "listeners[1].port")
            #expect("\(e)".contains("listeners[1].port"))
        }
    }

    @Test func missingNestedFieldAndBadEnum() throws {
        let missing = try mutate { json in
            var fw = json["firewall"] as? [String: Any] ?? [:]
            fw.removeValue(forKey: "status")
            json["firewall"] = fw
        }
        #expect(throws: SnapshotError.invalid(field: "firewall.status", reason: "missing")) { try SnapshotCodec.decode(missing) }
        let badProto = try mutate { json in
            var listeners = json["listeners"] as? [[String: Any]] ?? []
            listeners[0]["proto"] = "sctp"
            json["listeners"] = listeners
        }
        do {
            _ = try SnapshotCodec.decode(badProto)
            Issue.record("an unknown proto decoded")
        } catch let e as SnapshotError {
            guard case .invalid(let field, _) = e else { Issue.record("wrong case \(e)"); return }
            #expect(field == "listeners[0].proto")
        }
    }

    /// Found by `make fuzz-snapshot`: two bad entries in `routeLocalnet` were named in hash order, one or the other.
    @Test func theSameBadSnapshotGivesTheSameErrorEveryTime() throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Fuzz/Regressions/snapshot/two-bad-route-localnet-entries"))
        var messages = Set<String>()
        for _ in 0..<20 {
            do {
                _ = try SnapshotCodec.decode(data)
                Issue.record("a snapshot with non-Bool routeLocalnet entries was accepted")
            } catch {
                messages.insert("\(error)")
            }
        }
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.first?.contains("routeLocalnet") == true, "\(messages)")
    }

    @Test func unreadableFile() {
        #expect(throws: SnapshotError.self) { try SnapshotCodec.load(path: "/nonexistent/snapshot.json") }
    }
}

/// The specialised listener writer must be byte-identical to `JSONEncoder` (pretty, sorted keys, slashes unescaped).
@Suite struct ListenerJSONWriterTests {
    static func generic<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static let awkward: [Listener] = {
        let weird = String(decoding: (0..<32).map { UInt8($0) } + Array("\"\\/ é ✓ \u{7f}".utf8), as: UTF8.self)
        let p1 = ProcessInfo(pid: 1, name: "sys\"temd", exe: "/usr/lib/systemd/systemd", cmdline: ["/sbin/init", weird, ""], unit: "init.scope")
        let p2 = ProcessInfo(pid: Int32.max, name: "x", cmdline: [], container: "docker:0123456789ab")
        return [
            Listener(
                proto: .udp, family: .ipv6, address: "fe80::1", port: 65535, v6only: true, device: "eth0\tx", deviceIndex: UInt32.max,
                uid: UInt32.max, inode: UInt64.max, cookie: UInt64.max, processes: [p1, p2, p1], owner: .known),
            Listener(proto: .tcp, family: .ipv4, address: "0.0.0.0", port: 0, owner: .unknown),
            Listener(proto: .tcp, family: .ipv4, address: "127.0.0.1", port: 22, processes: [p2], owner: .kernel)
        ]
    }()

    @Test func listenersArrayIsByteIdentical() throws {
        #expect(SnapshotCodec.encodeListeners(Self.awkward) == (try Self.generic(Self.awkward)))
        #expect(SnapshotCodec.encodeListeners([]) == (try Self.generic([Listener]())))
    }

    /// Snapshots written before the owner state existed (no `owner`), or before `kernel` replaced `none`, still load.
    @Test func olderOwnerStatesLoad() throws {
        let current = try SnapshotCodec.encode(SnapshotCodecTests.rich())
        var doc = try #require(try JSONSerialization.jsonObject(with: current) as? [String: Any])
        var listeners = try #require(doc["listeners"] as? [[String: Any]])
        for i in listeners.indices { listeners[i].removeValue(forKey: "owner") }
        doc["listeners"] = listeners
        let withoutOwner = try SnapshotCodec.decode(try JSONSerialization.data(withJSONObject: doc))
        #expect(withoutOwner.listeners.map(\.owner) == [.known, .known, .unknown, .unknown], "no holder is not proof of a kernel socket")
        listeners[2]["owner"] = "none"
        doc["listeners"] = listeners
        let legacyNone = try SnapshotCodec.decode(try JSONSerialization.data(withJSONObject: doc))
        #expect(legacyNone.listeners[2].owner == .kernel)
        #expect(String(decoding: try SnapshotCodec.encode(legacyNone), as: UTF8.self).contains("\"owner\" : \"kernel\""))
        listeners[2]["owner"] = "nobody"
        doc["listeners"] = listeners
        do {
            _ = try SnapshotCodec.decode(try JSONSerialization.data(withJSONObject: doc))
            Issue.record("an unknown owner state decoded")
        } catch let e as SnapshotError {
            guard case .invalid(let field, _) = e else { Issue.record("wrong case \(e)"); return }
            #expect(field == "listeners[2].owner")
        }
    }

    @Test func snapshotIsByteIdentical() throws {
        var snapshot = SnapshotCodecTests.rich()
        #expect(try SnapshotCodec.encode(snapshot) == (try Self.generic(snapshot)))
        snapshot.listeners = Self.awkward
        #expect(try SnapshotCodec.encode(snapshot) == (try Self.generic(snapshot)))
        snapshot.listeners = []
        #expect(try SnapshotCodec.encode(snapshot) == (try Self.generic(snapshot)))
        #expect(try SnapshotCodec.decode(SnapshotCodec.encode(SnapshotCodecTests.rich())) == SnapshotCodecTests.rich())
    }

    @Test func setElementsAreByteIdentical() throws {
        var snapshot = SnapshotCodecTests.rich()
        let elements = [
            SetElement(key: Bytes([0, 0, 0, 0]), flags: 1),
            SetElement(key: Bytes([10, 0, 0, 0]), keyEnd: Bytes([10, 255, 255, 255])),
            SetElement(key: Bytes([0, 22]), verdict: .jump("sub \"x\"\\/é")),
            SetElement(key: Bytes([0, 23]), verdict: .goto("g")),
            SetElement(key: Bytes([0, 24]), verdict: .accept),
            SetElement(key: Bytes([0, 25]), verdict: .other(-7)),
            SetElement(key: Bytes([0, 26]), data: Bytes([192, 0, 2, 1]), objref: "q\t1"),
            SetElement(key: Bytes([]), flags: 2)
        ]
        snapshot.firewall.tables = [
            Table(
                family: .inet, name: "a", chains: [Chain(name: "c")],
                sets: [
                    NFTSet(name: "empty"), NFTSet(name: "all", flags: 0xc, elements: elements)
                ]),
            Table(family: .ip, name: "b"),
            Table(family: .ip6, name: "c", sets: [NFTSet(name: "one", elements: [elements[1]])])
        ]
        #expect(try SnapshotCodec.encode(snapshot) == (try Self.generic(snapshot)))
        snapshot.listeners = Self.awkward
        #expect(try SnapshotCodec.encode(snapshot) == (try Self.generic(snapshot)))
        #expect(try SnapshotCodec.decode(SnapshotCodec.encode(snapshot)) == snapshot)
    }
}

/// The whole-snapshot writer (`SnapshotJSONWriter`) must be byte-identical to `JSONEncoder` (pretty, sorted keys,
/// slashes unescaped) on any snapshot, and its streamed form must be the same bytes in any chunking.
@Suite struct SnapshotJSONWriterTests {
    static func generic(_ s: Snapshot) throws -> Data { try ListenerJSONWriterTests.generic(s) }

    /// Every expression kind, once with every optional present and once with none.
    static let everyExpression: [HostModel.Expression] = {
        let b = Bytes([0xde, 0xad, 0x00, 0xff])
        return [
            .payload(Payload(base: .link, offset: 0, length: 6, dreg: 1, sreg: 2)), .payload(Payload(base: .inner, offset: 9, length: 1)),
            .meta(Meta(key: 16, dreg: 1, sreg: 3)), .meta(Meta(key: 4)),
            .cmp(Cmp(sreg: 1, op: .gte, data: b)), .cmp(Cmp(sreg: 1, op: .neq, data: Bytes([]))),
            .bitwise(Bitwise(sreg: 1, dreg: 2, length: 4, op: 1, mask: b, xor: Bytes([1]), data: Bytes([2]))),
            .bitwise(Bitwise(sreg: 1, dreg: 1, length: 4)),
            .byteorder(Byteorder(sreg: 1, dreg: 1, op: 1, length: 2, size: 2)),
            .range(RangeExpr(sreg: 1, inverted: true, from: Bytes([0, 1]), to: Bytes([0, 9]))),
            .lookup(Lookup(sreg: 1, dreg: 0, set: "__map%d \"x\"", setId: 7, inverted: true)), .lookup(Lookup(sreg: 9, set: "")),
            .immediate(Immediate(dreg: 1, data: b, verdict: .goto("g/é"))), .immediate(Immediate(dreg: 0)),
            .immediate(Immediate(dreg: 0, verdict: .other(Int32.min))), .immediate(Immediate(dreg: 0, verdict: .repeatVerdict)),
            .ct(Ct(key: 0, dreg: 1, sreg: 2, direction: 1)), .ct(Ct(key: 3)),
            .fib(Fib(dreg: 1, result: 3, flags: 0x2a)),
            .nat(Nat(type: 1, family: 2, regAddrMin: 1, regAddrMax: 2, regProtoMin: 3, regProtoMax: 4, flags: 0x10)), .nat(Nat(type: 0, family: 10)),
            .redir(Redir(regProtoMin: 1, regProtoMax: 2, flags: 4)), .redir(Redir()),
            .masq(Redir(regProtoMin: 1, regProtoMax: 2, flags: 4)), .masq(Redir()),
            .reject(Reject(type: 2, code: UInt8.max)), .reject(Reject(type: 1)),
            .counter, .notrack,
            .log(Log(prefix: "DROP: \"in\"\n", group: UInt16.max, level: 4)), .log(Log()),
            .limit(Limit(rate: UInt64.max, unit: 60, burst: 5, type: 1, inverted: true)), .limit(Limit(rate: 0, unit: 1)),
            .quota(Quota(bytes: 1 << 40, inverted: false)), .quota(Quota(bytes: 100, inverted: true, consumed: UInt64.max)),
            .connlimit(Connlimit(count: 3, inverted: true)),
            .numgen(Numgen(dreg: 1, modulus: 2, type: 1, offset: 100)), .hash(HashExpr(dreg: 1, modulus: 8, type: 0)),
            .socket(SocketExpr(key: 0, dreg: 1, level: 2)), .socket(SocketExpr(key: 3, dreg: 1)),
            .dynset(Dynset(op: 1, set: "meter", sregKey: 1, sregData: 2, timeout: 60_000, expressions: ["limit", "counter"])),
            .dynset(Dynset(op: 0, set: "s", sregKey: 1)),
            .objref(Objref(objectType: 1, name: "c", setSreg: 1, set: "m")), .objref(Objref()),
            .queue(Queue(number: 1, total: UInt16.max, flags: 3)),
            .exthdr(Exthdr(dreg: 1, type: 2, offset: 3, length: 4, op: 1, flags: 1)),
            .exthdr(Exthdr(dreg: nil, type: 0, offset: 0, length: 0, op: 0, flags: 0)),
            .match(Xt(name: "conntrack", revision: 3, info: b)), .target(Xt(name: "LOG", revision: 0, info: Bytes([]))),
            .unknown(Unknown(name: "future\t", attributes: [RawAttribute(type: 1, value: b), RawAttribute(type: UInt16.max, value: Bytes([]))])),
            .unknown(Unknown(name: "", attributes: []))
        ]
    }()

    static func everything() -> Snapshot {
        var s = SnapshotCodecTests.rich()
        s.listeners = ListenerJSONWriterTests.awkward
        s.firewall.error = "partly \"read\""
        s.warnings = ["line\u{2028}separator\u{2029}", "\u{7f}\u{80}\u{FFFF}", "/a/b/", "\\u0041", "\u{10FFFF}"]
        s.firewall.tables[0].chains.append(
            Chain(
                name: "all", handle: UInt64.max, flags: UInt32.max,
                base: BaseChain(
                    type: "nat", hook: .ingress, priority: Int32.min, policy: .accept, devices: ["eth0", "ü/0"]),
                rules: [
                    Rule(handle: 1, expressions: everyExpression, comment: "every \\ kind ✓"), Rule(handle: 2, expressions: [])
                ]))
        s.firewall.tables[0].sets.append(
            NFTSet(
                name: "map", handle: 1, flags: 0x8, keyType: 13 << 6 | 7, keyLength: 8, dataType: 0xffff_ff00,
                dataLength: 16, objectType: 1, concatLengths: [4, 4], keyByteOrder: "big",
                elements: [
                    SetElement(key: Bytes([1, 2]), keyEnd: Bytes([3, 4]), flags: 3, verdict: .jump("x"), data: Bytes([5]), objref: "o")
                ]))
        s.sysctls.routeLocalnet = [
            "eth10": true, "eth9": false, "B": true, "a": false, "Ab": true, "é": true, "e\u{301}x": false,
            "ä": true, "🙂": false, "": true, "all": false, "default": true
        ]
        s.routes.rules.append(
            RoutingRule(
                family: .ipv6, priority: 0, table: 255, action: "goto", destination: "2001:db8::", destinationPrefixLength: 32,
                oifname: "lo"))
        return s
    }

    @Test func everyKindAndOptionalIsByteIdentical() throws {
        let s = Self.everything()
        #expect(try SnapshotCodec.encode(s) == (try Self.generic(s)))
        #expect(try SnapshotCodec.decode(SnapshotCodec.encode(s)) == s)
        var empty = Snapshot(host: HostInfo(hostname: "", kernel: "", collectedAt: "", toolVersion: ""))
        #expect(try SnapshotCodec.encode(empty) == (try Self.generic(empty)))
        empty.firewall = Firewall(
            status: .ok, generation: 0,
            tables: [
                Table(
                    family: .netdev, name: "t",
                    chains: [
                        Chain(
                            name: "c",
                            rules: [
                                Rule(handle: 0, expressions: [])
                            ])
                    ], sets: [NFTSet(name: "s")])
            ])
        #expect(try SnapshotCodec.encode(empty) == (try Self.generic(empty)))
    }

    @Test func generatedSnapshotsAreByteIdentical() throws {
        var rng = SplitMix64(seed: 0x5eed_1234)
        for size in [0, 1, 2, 3, 5, 8] {
            for _ in 0..<25 {
                let s = SnapshotGenerator.snapshot(&rng, size: size)
                #expect(try SnapshotCodec.encode(s) == (try Self.generic(s)), "size \(size)")
            }
        }
    }

    /// Far more bytes than the writer's size estimate (long command lines): its buffer grows without losing bytes.
    @Test func outputBeyondTheEstimateIsByteIdentical() throws {
        var s = SnapshotCodecTests.rich()
        s.listeners = (0..<300).map { i in
            Listener(
                proto: .tcp, family: .ipv4, address: "10.0.\(i / 256).\(i % 256)", port: UInt16(i), cookie: UInt64(i),
                processes: [
                    ProcessInfo(pid: Int32(i), name: "p\(i)", cmdline: [String(repeating: "x\"é\u{1}", count: 200 + i)])
                ])
        }
        let encoded = try SnapshotCodec.encode(s)
        #expect(encoded.count > 300 * 1_000)
        #expect(encoded == (try Self.generic(s)))
        #expect(SnapshotCodec.encodeListeners(s.listeners) == (try ListenerJSONWriterTests.generic(s.listeners)))
    }

    /// Chunked output is the same bytes as the whole encoding plus the terminator, in any chunk size.
    @Test func streamedWriteIsTheSameBytes() throws {
        var rng = SplitMix64(seed: 77)
        let snapshots = [Self.everything(), SnapshotGenerator.snapshot(&rng, size: 8)]
        for s in snapshots {
            let whole = try SnapshotCodec.encode(s) + [0x0a]
            for chunk in [1, 7, 256, 1 << 20] {
                var streamed: [UInt8] = []
                var calls = 0
                SnapshotCodec.write(s, terminator: [0x0a], chunkSize: chunk) { (b) throws(Never) in
                    streamed.append(contentsOf: b)
                    calls += 1
                }
                #expect(Data(streamed) == whole, "chunk size \(chunk)")
                if chunk == 1 { #expect(calls > 10, "small chunks are handed over as they fill") }
            }
        }
    }

    /// A failing sink is not called again and its error is the writer's error.
    @Test func sinkErrorStopsTheWrite() {
        struct Full: Error, Equatable {}
        var calls = 0
        #expect(throws: Full()) {
            try SnapshotCodec.write(Self.everything(), chunkSize: 16) { (_) throws(Full) in
                calls += 1
                throw Full()
            }
        }
        #expect(calls == 1)
    }

    /// Snapshots written by an earlier `collect` (e.g. the benchmark's, which used `JSONEncoder` for most of the
    /// file) must come out byte for byte the same after a read: `PORTWARDEN_SNAPSHOT_DIR` names a directory of them.
    @Test func recordedSnapshotsAreReproduced() throws {
        guard let dir = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_SNAPSHOT_DIR"] else { return }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(!names.isEmpty)
        for name in names {
            let file = try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent(name))
            let snapshot = try SnapshotCodec.decode(file)
            var streamed: [UInt8] = []
            streamed.reserveCapacity(file.count)
            SnapshotCodec.write(snapshot, terminator: [0x0a]) { (b) throws(Never) in streamed.append(contentsOf: b) }
            #expect(Data(streamed) == file, "\(name)")
        }
    }
}
