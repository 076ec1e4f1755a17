import HostModel

/// The ruleset as read in one consistent pass.
public struct RulesetRead: Sendable {
    public var generation: UInt32
    public var tables: [Table]
    /// How many passes it took (1 unless a concurrent change forced a re-read).
    public var attempts: Int

    public init(generation: UInt32, tables: [Table], attempts: Int) {
        self.generation = generation
        self.tables = tables
        self.attempts = attempts
    }
}

/// How rules are requested from the kernel. Both return the same rules in the same order.
public enum RuleDumpStrategy: Sendable, CaseIterable {
    /// One GETRULE dump per chain (table + chain in the request). The kernel resumes a dump by skipping what it
    /// already sent, so per-chain dumps keep the total cost linear in the number of rules.
    case perChain
    /// One GETRULE dump of the whole ruleset, as `nft` does: fewer requests, but quadratic for big rulesets.
    case whole
}

/// Reads the whole nftables ruleset over nfnetlink (GET and dump requests only).
public enum NftablesReader {
    /// Reads every table, chain, set (with elements) and rule in one generation.
    ///
    /// Order: GETGEN, tables, chains, sets, each set's elements, rules, GETGEN. A pass is thrown away and redone
    /// when any reply carries another generation in `res_id`, the two GETGENs differ, a dump was interrupted
    /// (NLM_F_DUMP_INTR), or an object named in one dump is gone in the next (ENOENT).
    /// - Throws: `NetlinkError.kernel(_, EPERM)` without CAP_NET_ADMIN; `NetlinkError.inconsistent` when the
    ///   ruleset kept changing for `maxAttempts` passes.
    ///   A receive buffer overrun (ENOBUFS: the kernel dropped replies) also redoes the pass, on a new socket.
    /// - Parameters:
    ///   - workers: how many sockets answer the element and rule dumps at once, each on a thread of its own (see
    ///     `NftablesDumpWorkers`); 1 reads everything on the calling thread. Recording (`PORTWARDEN_RECORD_NETLINK`)
    ///     always reads on one socket, so a capture replays in order.
    ///   - connect: the socket for a pass (tests replay recorded datagrams through it); called on the calling thread.
    public static func read(
        maxAttempts: Int = 5, rules strategy: RuleDumpStrategy = .perChain, workers: Int = 1,
        connect: () throws -> NetlinkSocket = { try NetlinkSocket(protocol: NetlinkSocket.netfilter) }
    ) throws -> RulesetRead {
        var socket = try connect()
        let attempts = max(1, maxAttempts)
        let workers = socket.recorder == nil ? max(1, workers) : 1
        var overrun: NetlinkError?
        for attempt in 1...attempts {
            do {
                if let (generation, tables) = try pass(socket, strategy: strategy, workers: workers, connect: connect) {
                    return RulesetRead(generation: generation, tables: tables, attempts: attempt)
                }
                overrun = nil
            } catch NetlinkError.receive(let errno) where errno == 105 /* ENOBUFS */ {
                // Replies were dropped: the socket's stream is no longer whole, so start again on a new one.
                overrun = .receive(errno: errno)
                socket = try connect()
            }
        }
        // Overrun every time is its own error (the kernel's words), not "the ruleset kept changing".
        throw overrun ?? NetlinkError.inconsistent(attempts: attempts)
    }

    /// Reads only the current generation id (one GETGEN): cheap, for callers that want to detect a change.
    public static func generation() throws -> UInt32 {
        let socket = try NetlinkSocket(protocol: NetlinkSocket.netfilter)
        var assembler = RulesetAssembler()
        _ = try send(.generation, on: socket, into: &assembler)
        guard let g = assembler.generation else { throw NetlinkError.malformed("GETGEN answered without NEWGEN") }
        return g
    }

    /// One pass; nil when it was not consistent and must be redone.
    private static func pass(
        _ socket: NetlinkSocket, strategy: RuleDumpStrategy, workers: Int, connect: () throws -> NetlinkSocket
    ) throws -> (UInt32, [Table])? {
        var assembler = RulesetAssembler()
        var interrupted = false
        do {
            interrupted = try send(.generation, on: socket, into: &assembler) || interrupted
            guard let first = assembler.generation else { throw NetlinkError.malformed("GETGEN answered without NEWGEN") }
            for request in [NftablesRequest.tables, .chains, .sets] {
                interrupted = try send(request, on: socket, into: &assembler) || interrupted
            }
            var dumps = assembler.setRefs.map { NftablesRequest.setElements(family: $0.family, table: $0.table, set: $0.name) }
            switch strategy {
            case .whole: dumps.append(.allRules)
            case .perChain: dumps += assembler.chainRefs.map { .chainRules(family: $0.family, table: $0.table, chain: $0.name) }
            }
            if workers > 1, dumps.count > 1 {
                // A socket that cannot be opened (a descriptor limit) only means fewer workers; the first one is enough.
                let sockets = [socket] + (1..<min(workers, dumps.count)).compactMap { _ in try? connect() }
                interrupted =
                    try NftablesDumpWorkers.run(dumps, sockets: sockets, into: &assembler) { request, socket, assembler in
                        try send(request, on: socket, into: &assembler)
                    } || interrupted
            } else {
                for request in dumps { interrupted = try send(request, on: socket, into: &assembler) || interrupted }
            }
            interrupted = try send(.generation, on: socket, into: &assembler) || interrupted
            guard !interrupted, assembler.isConsistent else { return nil }
            return (first, assembler.result)
        } catch NetlinkError.kernel(_, let errno) where errno == 2 /* ENOENT */ || errno == 4 /* EINTR */ || errno == 16 /* EBUSY */ {
            // A set or chain listed by an earlier dump vanished before its own dump: a concurrent change.
            return nil
        }
    }

    /// Sends one GET request on a fresh sequence number and feeds every reply to `assembler`.
    /// - Returns: whether the kernel flagged the dump as interrupted.
    private static func send(_ request: NftablesRequest, on socket: NetlinkSocket, into assembler: inout RulesetAssembler) throws -> Bool {
        let seq = socket.makeSeq()
        let bytes = request.bytes(seq: seq)
        // The read-only guarantee: nothing but an nf_tables GET ever reaches the socket from here.
        guard NftablesRequest.isReadOnly(bytes) else { throw NetlinkError.malformed("refusing to send a non-GET nf_tables message") }
        return try socket.exchange(bytes, seq: seq, describe: request.label) { message in
            try assembler.consume(message)
        }
    }
}
