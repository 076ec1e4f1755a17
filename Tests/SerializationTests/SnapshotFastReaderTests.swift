import Foundation
import HostModel
@testable import Serialization
import Testing
import TestSupport

/// `SnapshotFastReader` must decode exactly what `JSONDecoder` decodes, and decline (so that `JSONDecoder` reports
/// the error) everything else: whenever it accepts an input, the plain path must accept it too, with an equal value.
@Suite struct SnapshotFastReaderTests {
    /// Asserts the contract on `data` and returns the fast result.
    @discardableResult
    static func check(_ data: Data, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Snapshot? {
        let fast = SnapshotFastReader.decode(data)
        let plain = Result { try SnapshotCodec.decodeWithJSONDecoder(data) }
        if let fast {
            switch plain {
            case .success(let value): #expect(value == fast, comment, sourceLocation: sourceLocation)
            case .failure(let error): Issue.record("fast path accepted what JSONDecoder refuses (\(error))", sourceLocation: sourceLocation)
            }
        }
        // Through the public entry point: the same value, or the same error as before.
        switch (Result { try SnapshotCodec.decode(data) }, plain) {
        case (.success(let a), .success(let b)): #expect(a == b, comment, sourceLocation: sourceLocation)
        case (.failure(let a), .failure(let b)):
            #expect(a as? SnapshotError == b as? SnapshotError, comment, sourceLocation: sourceLocation)
        default: Issue.record("decode and the plain path disagree", sourceLocation: sourceLocation)
        }
        return fast
    }

    static func fixture(_ relative: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(relative)
    }

    @Test(arguments: [
        "DiffingTests/Fixtures/old.json", "DiffingTests/Fixtures/new.json",
        "IntegrationTests/Fixtures/trace-exposure-snapshot.json"
    ])
    func recordedFixtures(_ path: String) throws {
        let data = try Data(contentsOf: Self.fixture(path))
        #expect(Self.check(data, "\(path)") != nil, "the fast path declined a recorded snapshot")
    }

    /// The benchmark snapshots, when `scripts/bench` has generated them (not in git).
    @Test func benchmarkSnapshotsWhenPresent() throws {
        for name in ["s1", "s2", "s3"] {
            let url = Self.fixture("../bench-out/work/\(name)/snapshot.json")
            guard let data = try? Data(contentsOf: url) else { continue }
            #expect(Self.check(data, "\(name)") != nil, "the fast path declined \(name)")
        }
    }

    @Test func richSnapshotInEveryLayout() throws {
        let rich = SnapshotCodecTests.rich()
        for data in [try SnapshotCodec.encode(rich), try SnapshotCodec.encode(rich, pretty: false)] {
            #expect(Self.check(data) == rich)
        }
        // Unsorted keys and other whitespace, as another tool may write them.
        let object = try JSONSerialization.jsonObject(with: SnapshotCodec.encode(rich))
        #expect(Self.check(try JSONSerialization.data(withJSONObject: object)) == rich)
        #expect(Self.check(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted])) == rich)
    }

    @Test func generatedSnapshotsRoundTrip() throws {
        var rng = SplitMix64(seed: 0x5eed)
        for n in 0..<300 {
            let snapshot = SnapshotGenerator.snapshot(&rng, size: n % 7)
            for pretty in [true, false] {
                let data = try SnapshotCodec.encode(snapshot, pretty: pretty)
                let fast = Self.check(data, "snapshot \(n) pretty \(pretty)")
                #expect(fast == snapshot, "snapshot \(n) pretty \(pretty)")
                if fast != snapshot { return }
            }
        }
    }

    /// Valid JSON the encoder never writes but `JSONDecoder` reads the same way: the fast path reads it too.
    @Test func acceptedVariants() throws {
        let compact = String(decoding: try SnapshotCodec.encode(SnapshotCodecTests.rich(), pretty: false), as: UTF8.self)
        let variants: [(String, String)] = [
            (#""address":"0.0.0.0","cookie":1,"#, #""address":"0.0.0.0","cookie":1,"device":null,"#),
            (#""name":"nginx""#, #""name":"ngin\u0078""#),
            (#""exe":"/usr/sbin/nginx""#, #""exe":"\/usr\/sbin\/ngi\u006Ex""#),
            (#""hostname":"web1""#, #""hostname":"w\u00e9b\ud83d\ude42\t\"\\\b\f\n\r\u0000""#),
            (#""hostname":"web1""#, "\"hostname\":\"w\u{e9}b\u{1F642}e\u{301}\""),
            (#""key":"0050""#, #""key":"0A5f""#),
            (#""kind":"veth""#, #""kind":null"#),
            (#""generation":42"#, #""generation":null"#),
            (#""comment":"web""#, #""comment":null"#),
            (#""port":80,"#, " \"port\" :\t80 \r\n, "),
            (#""routeLocalnet":{"#, #""routeLocalnet":{"\u00e9":true,"#)
        ]
        for (index, (from, to)) in variants.enumerated() {
            #expect(compact.contains(from), "fixture text \(from)")
            let data = Data(compact.replacingOccurrences(of: from, with: to).utf8)
            let fast = Self.check(data, "variant \(index)")
            #expect(fast != nil, "variant \(index): \(to)")
        }
        let spaced = Data(("\n\t " + compact.replacingOccurrences(of: ",", with: " ,\n") + " \r\n").utf8)
        #expect(Self.check(spaced) == SnapshotCodecTests.rich())
    }

    /// Inputs the fast path must leave to `JSONDecoder` (which may accept them, or name the problem).
    @Test func declinedInputs() throws {
        let compact = String(decoding: try SnapshotCodec.encode(SnapshotCodecTests.rich(), pretty: false), as: UTF8.self)
        let edits: [(String, String)] = [
            (#""port":80,"#, #""port":80,"extra":1,"#),  // unknown key (JSONDecoder ignores it)
            (#""port":80,"#, #""port":80,"port":81,"#),  // duplicate key
            (#""port":80,"#, #""port":80.0,"#),
            (#""port":80,"#, #""port":8e1,"#),
            (#""port":80,"#, #""port":080,"#),
            (#""port":80,"#, #""port":-80,"#),
            (#""port":80,"#, #""port":65536,"#),
            (#""port":80,"#, #""port":"80","#),
            (#""port":80,"#, #""port":null,"#),
            (#""port":80,"#, #""port":true,"#),
            (#""port":80,"#, #""port":80x,"#),
            (#""pid":100"#, #""pid":-0"#),
            (#""pid":100"#, #""pid":2147483648"#),
            (#""address":"0.0.0.0""#, #""addr\u0065ss":"0.0.0.0""#),
            (#""name":"nginx""#, #""name":"\ud800""#),
            (#""name":"nginx""#, #""name":"\udc00x""#),
            (#""name":"nginx""#, #""name":"\ud800\u0041""#),
            (#""name":"nginx""#, #""name":"a\qb""#),
            (#""name":"nginx""#, "\"name\":\"a\tb\""),
            (#""key":"0050""#, #""key":"005""#),
            (#""key":"0050""#, #""key":"00\u00350""#),
            (#""proto":"tcp""#, #""proto":"sctp""#),
            (#""status":"ok""#, #""status":"OK""#),
            (#""verdict":"accept""#, #""verdict":"accept","chain":"x""#),
            (#""schema":"portwarden-snapshot/2""#, #""schema":"portwarden-snapshot/99""#),
            (#""schema":"portwarden-snapshot/2","#, ""),
            (#""type":"counter""#, #""type":"counter","extra":null"#),
            (#""type":"counter""#, #""type":"countr""#),
            (#""processes":["#, #""processes":[,"#),
            (#""warnings":["owners unknown: …"]"#, #""warnings":["owners unknown: …",]"#)
        ]
        for (index, (from, to)) in edits.enumerated() {
            #expect(compact.contains(from), "fixture text \(from)")
            let data = Data(compact.replacingOccurrences(of: from, with: to).utf8)
            #expect(Self.check(data, "edit \(index)") == nil, "edit \(index): \(to)")
        }
        var invalidUTF8 = Data(compact.replacingOccurrences(of: #""name":"nginx""#, with: #""name":"ngin#""#).utf8)
        if let hash = invalidUTF8.firstIndex(of: UInt8(ascii: "#")) { invalidUTF8[hash] = 0xff }
        let whole = Data(compact.utf8)
        for data in [
            invalidUTF8, Data(), whole + Data("x".utf8), whole + Data("{}".utf8), Data([0xef, 0xbb, 0xbf]) + whole,
            whole.prefix(whole.count / 2), Data("[]".utf8), Data("null".utf8)
        ] {
            #expect(Self.check(data) == nil)
        }
    }

    /// Random damage to a valid snapshot: whatever the fast path still accepts, `JSONDecoder` reads identically.
    @Test func damagedInputs() throws {
        var rng = SplitMix64(seed: 42)
        let bases = [
            try SnapshotCodec.encode(SnapshotCodecTests.rich(), pretty: false),
            try SnapshotCodec.encode(SnapshotGenerator.snapshot(&rng, size: 3), pretty: false)
        ]
        let alphabet = Array(#"{}[],:"\/-+.0123456789eEnultrfabx uU "#.utf8) + [0, 9, 10, 0x80, 0xc3, 0xff]
        var accepted = 0
        for n in 0..<4000 {
            var bytes = [UInt8](bases[n % 2])
            for _ in 0...(rng.next() % 2) {
                let at = Int(rng.next() % UInt64(bytes.count))
                let c = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                switch rng.next() % 3 {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(c, at: at)
                default: bytes[at] = c
                }
            }
            if Self.check(Data(bytes), "damage \(n)") != nil { accepted += 1 }
        }
        #expect(accepted > 0, "some damage (in string contents) leaves a valid snapshot")
    }
}

/// Varied snapshots: every optional field both absent and present, empty and full arrays, every expression and
/// verdict, extreme integers, and strings with escapes, control characters and non-ASCII text.
enum SnapshotGenerator {
    static let texts = [
        "", "a", "nginx", "/usr/sbin/nginx", "-g", "daemon off;", "sp ace", "quo\"te", "back\\slash", "sl/ash",
        "tab\tnew\nline\r", "\u{0}\u{1}\u{1f}\u{7f}", "é", "e\u{301}", "✓ 日本語", "🙂 emoji", "\u{FEFF}bom",
        "long-" + String(repeating: "x", count: 40), "--flag=\"x y\""
    ]

    static func text(_ r: inout SplitMix64) -> String { texts[Int(r.next() % UInt64(texts.count))] }
    static func maybe<T>(_ r: inout SplitMix64, _ make: (inout SplitMix64) -> T) -> T? { r.next() % 2 == 0 ? make(&r) : nil }
    static func int<T: FixedWidthInteger>(_ r: inout SplitMix64, _: T.Type = T.self) -> T {
        switch r.next() % 4 {
        case 0: return T.min
        case 1: return T.max
        case 2: return T(truncatingIfNeeded: r.next() % 300)
        default: return T(truncatingIfNeeded: r.next())
        }
    }
    static func bytes(_ r: inout SplitMix64) -> Bytes { Bytes((0..<Int(r.next() % 18)).map { _ in UInt8(truncatingIfNeeded: r.next()) }) }
    static func list<T>(_ r: inout SplitMix64, _ max: Int, _ make: (inout SplitMix64) -> T) -> [T] {
        (0..<Int(r.next() % UInt64(max + 1))).map { _ in make(&r) }
    }
    static func pick<T: CaseIterable>(_ r: inout SplitMix64, _: T.Type = T.self) -> T {
        let all = Array(T.allCases)
        return all[Int(r.next() % UInt64(all.count))]
    }

    static func snapshot(_ r: inout SplitMix64, size: Int) -> Snapshot {
        let processes = (0..<4).map { _ in
            HostModel.ProcessInfo(
                pid: int(&r), name: text(&r), exe: maybe(&r, text), cmdline: list(&r, 4, text), unit: maybe(&r, text),
                container: maybe(&r, text))
        }
        let owners: [OwnerStatus] = [.known, .kernel, .unknown]
        let listeners = list(&r, size * 3) { r in
            Listener(
                proto: pick(&r), family: pick(&r), address: text(&r), port: int(&r), v6only: r.next() % 2 == 0,
                device: maybe(&r, text), deviceIndex: int(&r), uid: int(&r), inode: int(&r), cookie: int(&r),
                processes: list(&r, 3) { r in processes[Int(r.next() % 4)] }, owner: owners[Int(r.next() % 3)])
        }
        let interfaces = list(&r, size) { r in
            Interface(
                index: int(&r), name: text(&r), flags: list(&r, 3, text), kind: maybe(&r, text),
                addresses: list(&r, 2) { r in
                    InterfaceAddress(family: pick(&r), address: text(&r), prefixLength: int(&r), scope: text(&r))
                })
        }
        let routes = Routing(
            routes: list(&r, size) { r in
                Route(
                    family: pick(&r), table: int(&r), type: text(&r), destination: text(&r), prefixLength: int(&r),
                    gateway: maybe(&r, text), device: maybe(&r, text), deviceIndex: int(&r), preferredSource: maybe(&r, text),
                    metric: int(&r))
            },
            rules: list(&r, size) { r in
                RoutingRule(
                    family: pick(&r), priority: int(&r), table: int(&r), action: text(&r), source: maybe(&r, text),
                    sourcePrefixLength: int(&r), destination: maybe(&r, text), destinationPrefixLength: int(&r),
                    iifname: maybe(&r, text), oifname: maybe(&r, text), fwmark: maybe(&r) { int(&$0) },
                    fwmask: maybe(&r) { int(&$0) }, inverted: r.next() % 2 == 0)
            })
        let sysctls = Sysctls(
            ipLocalPortRange: maybe(&r) { PortRange(first: int(&$0), last: int(&$0)) },
            ipLocalReservedPorts: list(&r, 2) { PortRange(first: int(&$0), last: int(&$0)) },
            ipUnprivilegedPortStart: maybe(&r) { int(&$0) }, bindv6only: maybe(&r) { $0.next() % 2 == 0 },
            ipForward: maybe(&r) { $0.next() % 2 == 0 }, ipv6Forwarding: maybe(&r) { $0.next() % 2 == 0 },
            routeLocalnet: Dictionary(list(&r, 3) { (text(&$0), $0.next() % 2 == 0) }, uniquingKeysWith: { a, _ in a }),
            ipNonlocalBind: maybe(&r) { $0.next() % 2 == 0 }, ipv6NonlocalBind: maybe(&r) { $0.next() % 2 == 0 },
            tcpL3mdevAccept: maybe(&r) { $0.next() % 2 == 0 }, udpL3mdevAccept: maybe(&r) { $0.next() % 2 == 0 })
        let tables = list(&r, min(size, 3)) { r in
            Table(
                family: pick(&r), name: text(&r), handle: int(&r), flags: int(&r),
                chains: list(&r, 3) { r in
                    Chain(
                        name: text(&r), handle: int(&r), flags: int(&r),
                        base: maybe(&r) { r in
                            BaseChain(
                                type: text(&r),
                                hook: [Hook.prerouting, .input, .forward, .output, .postrouting, .ingress, .egress][Int(r.next() % 7)],
                                priority: int(&r), policy: r.next() % 2 == 0 ? .accept : .drop, devices: list(&r, 2, text))
                        },
                        rules: list(&r, 4) { r in
                            Rule(handle: int(&r), expressions: list(&r, 6, expression), comment: maybe(&r, text))
                        })
                },
                sets: list(&r, 3) { r in
                    NFTSet(
                        name: text(&r), handle: int(&r), flags: int(&r), keyType: int(&r), keyLength: int(&r),
                        dataType: maybe(&r) { int(&$0) }, dataLength: maybe(&r) { int(&$0) }, objectType: maybe(&r) { int(&$0) },
                        concatLengths: list(&r, 3) { int(&$0) }, keyByteOrder: maybe(&r, text),
                        elements: list(&r, 8) { r in
                            SetElement(
                                key: bytes(&r), keyEnd: maybe(&r, bytes), flags: int(&r), verdict: maybe(&r, verdict),
                                data: maybe(&r, bytes), objref: maybe(&r, text))
                        })
                })
        }
        let statuses: [Firewall.Status] = [.ok, .unreadable, .absent]
        let firewall = Firewall(
            status: statuses[Int(r.next() % 3)], generation: maybe(&r) { int(&$0) }, tables: tables,
            error: maybe(&r, text),
            legacyTables: LegacyTables(ipv4: list(&r, 2, text), ipv6: list(&r, 2, text), arp: list(&r, 1, text)),
            recentLists: maybe(&r) { r in list(&r, 2) { r in RecentList(name: text(&r), addresses: list(&r, 3, text)) } })
        // Other namespaces (containers): owners with and without each field, and the host's own parts reused.
        let namespaces = list(&r, 2) { r in
            NetworkNamespace(
                id: NamespaceID(inode: int(&r), name: maybe(&r, text)),
                owner: maybe(&r) { r in
                    NamespaceOwner(
                        runtime: text(&r), id: maybe(&r, text), name: maybe(&r, text),
                        pod: maybe(&r, text), podNamespace: maybe(&r, text))
                },
                entered: r.next() % 2 == 0, pids: list(&r, 3) { Int32(truncatingIfNeeded: $0.next()) },
                listeners: Array(listeners.prefix(2)), interfaces: Array(interfaces.prefix(2)), routes: routes, sysctls: sysctls,
                firewall: firewall, warnings: list(&r, 2, text))
        }
        return Snapshot(
            host: HostInfo(hostname: text(&r), kernel: text(&r), collectedAt: text(&r), toolVersion: text(&r)),
            listeners: listeners, interfaces: interfaces, routes: routes, sysctls: sysctls, firewall: firewall,
            privileges: Privileges(netAdmin: r.next() % 2 == 0, procFds: r.next() % 2 == 0), warnings: list(&r, 3, text),
            netns: maybe(&r) { r in NamespaceID(inode: int(&r), name: maybe(&r, text)) }, namespaces: namespaces)
    }

    static func verdict(_ r: inout SplitMix64) -> Verdict {
        switch r.next() % 11 {
        case 0: .accept
        case 1: .drop
        case 2: .queue
        case 3: .stolen
        case 4: .repeatVerdict
        case 5: .continue
        case 6: .break
        case 7: .return
        case 8: .jump(text(&r))
        case 9: .goto(text(&r))
        default: .other(int(&r))
        }
    }

    static func expression(_ r: inout SplitMix64) -> HostModel.Expression {
        func u32(_ r: inout SplitMix64) -> UInt32 { int(&r) }
        func ou32(_ r: inout SplitMix64) -> UInt32? { maybe(&r) { int(&$0) } }
        func bool(_ r: inout SplitMix64) -> Bool { r.next() % 2 == 0 }
        switch r.next() % 30 {
        case 0:
            return .payload(
                Payload(
                    base: [PayloadBase.link, .network, .transport, .inner][Int(r.next() % 4)], offset: u32(&r), length: u32(&r),
                    dreg: ou32(&r), sreg: ou32(&r)))
        case 1: return .meta(Meta(key: u32(&r), dreg: ou32(&r), sreg: ou32(&r)))
        case 2: return .cmp(Cmp(sreg: u32(&r), op: [CmpOp.eq, .neq, .lt, .lte, .gt, .gte][Int(r.next() % 6)], data: bytes(&r)))
        case 3:
            return .bitwise(
                Bitwise(
                    sreg: u32(&r), dreg: u32(&r), length: u32(&r), op: u32(&r), mask: maybe(&r, bytes),
                    xor: maybe(&r, bytes), data: maybe(&r, bytes)))
        case 4: return .byteorder(Byteorder(sreg: u32(&r), dreg: u32(&r), op: u32(&r), length: u32(&r), size: u32(&r)))
        case 5: return .range(RangeExpr(sreg: u32(&r), inverted: bool(&r), from: bytes(&r), to: bytes(&r)))
        case 6: return .lookup(Lookup(sreg: u32(&r), dreg: ou32(&r), set: text(&r), setId: ou32(&r), inverted: bool(&r)))
        case 7: return .immediate(Immediate(dreg: u32(&r), data: maybe(&r, bytes), verdict: maybe(&r, verdict)))
        case 8: return .ct(Ct(key: u32(&r), dreg: ou32(&r), sreg: ou32(&r), direction: maybe(&r) { int(&$0) }))
        case 9: return .fib(Fib(dreg: u32(&r), result: u32(&r), flags: u32(&r)))
        case 10:
            return .nat(
                Nat(
                    type: u32(&r), family: u32(&r), regAddrMin: ou32(&r), regAddrMax: ou32(&r), regProtoMin: ou32(&r),
                    regProtoMax: ou32(&r), flags: ou32(&r)))
        case 11: return .redir(Redir(regProtoMin: ou32(&r), regProtoMax: ou32(&r), flags: ou32(&r)))
        case 12: return .masq(Redir(regProtoMin: ou32(&r), regProtoMax: ou32(&r), flags: ou32(&r)))
        case 13: return .reject(Reject(type: u32(&r), code: maybe(&r) { int(&$0) }))
        case 14: return .counter
        case 15: return .log(Log(prefix: maybe(&r, text), group: maybe(&r) { int(&$0) }, level: ou32(&r)))
        case 16: return .limit(Limit(rate: int(&r), unit: int(&r), burst: u32(&r), type: u32(&r), inverted: bool(&r)))
        case 17: return .quota(Quota(bytes: int(&r), inverted: bool(&r), consumed: maybe(&r) { int(&$0) }))
        case 18: return .connlimit(Connlimit(count: u32(&r), inverted: bool(&r)))
        case 19: return .numgen(Numgen(dreg: u32(&r), modulus: u32(&r), type: u32(&r), offset: u32(&r)))
        case 20: return .hash(HashExpr(dreg: u32(&r), modulus: u32(&r), type: u32(&r)))
        case 21: return .socket(SocketExpr(key: u32(&r), dreg: u32(&r), level: ou32(&r)))
        case 22:
            return .dynset(
                Dynset(
                    op: u32(&r), set: text(&r), sregKey: u32(&r), sregData: ou32(&r), timeout: maybe(&r) { int(&$0) },
                    expressions: list(&r, 2, text)))
        case 23: return .objref(Objref(objectType: ou32(&r), name: maybe(&r, text), setSreg: ou32(&r), set: maybe(&r, text)))
        case 24: return .notrack
        case 25: return .queue(Queue(number: int(&r), total: int(&r), flags: int(&r)))
        case 26: return .exthdr(Exthdr(dreg: ou32(&r), type: int(&r), offset: u32(&r), length: u32(&r), op: u32(&r), flags: u32(&r)))
        case 27: return .match(Xt(name: text(&r), revision: u32(&r), info: bytes(&r)))
        case 28: return .target(Xt(name: text(&r), revision: u32(&r), info: bytes(&r)))
        default: return .unknown(Unknown(name: text(&r), attributes: list(&r, 3) { RawAttribute(type: int(&$0), value: bytes(&$0)) }))
        }
    }
}
