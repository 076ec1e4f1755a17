import Foundation

/// The element and rule dumps of one pass, shared out among several sockets, each served by a thread of its own.
///
/// The dumps after the table, chain and set lists are independent of each other (one per set, one per chain), and
/// decoding them is most of a read's work, so on a machine with more than one core they are answered in parallel:
/// each worker takes the next dump not yet taken, decodes it into its own copy of the pass's assembler, and the
/// copies' elements and rules are moved into the pass's assembler in dump order afterwards. Every reply still carries
/// its generation and the pass's closing GETGEN comes after all of them, so a pass is exactly as consistent as one
/// read on a single socket. The sockets are opened by the calling thread, so they belong to its network namespace
/// whichever thread then uses them.
enum NftablesDumpWorkers {
    /// Sends `requests` on `sockets` (the first is used by the calling thread, each other by a new thread) and files
    /// every reply in `assembler`.
    /// - Returns: whether the kernel flagged any dump as interrupted.
    /// - Throws: the error of the earliest request that failed (the others stop taking new requests).
    static func run(
        _ requests: [NftablesRequest], sockets: [NetlinkSocket], into assembler: inout RulesetAssembler,
        send: @escaping @Sendable (NftablesRequest, NetlinkSocket, inout RulesetAssembler) throws -> Bool
    ) throws -> Bool {
        let queue = DumpQueue(count: requests.count)
        let workers = sockets.map { Worker(socket: $0, assembler: assembler) }
        let helpers = workers.dropFirst().map { worker in
            JoinableThread {
                worker.work(requests, queue, send)
            }
        }
        workers[0].work(requests, queue, send)
        for helper in helpers { _ = helper.join() }
        if let failure = queue.failure { throw failure.error }
        var interrupted = false
        for worker in workers {
            interrupted = interrupted || worker.interrupted
            for index in worker.taken { assembler.adopt(requests[index], from: worker.assembler) }
        }
        return interrupted
    }

    /// One socket's share of the dumps; used by one thread at a time (its own, then the caller's after the join).
    private final class Worker: @unchecked Sendable {
        let socket: NetlinkSocket
        var assembler: RulesetAssembler
        var taken: [Int] = []
        var interrupted = false

        init(socket: NetlinkSocket, assembler: RulesetAssembler) {
            self.socket = socket
            self.assembler = assembler
        }

        func work(
            _ requests: [NftablesRequest], _ queue: DumpQueue,
            _ send: (NftablesRequest, NetlinkSocket, inout RulesetAssembler) throws -> Bool
        ) {
            while let index = queue.take() {
                taken.append(index)
                do {
                    interrupted = try send(requests[index], socket, &assembler) || interrupted
                } catch {
                    queue.fail(index, error)
                }
            }
        }
    }

    /// Which request comes next, and the first failure (by request order).
    private final class DumpQueue: @unchecked Sendable {
        private let lock = NSLock()
        private let count: Int
        private var next = 0
        var failure: (index: Int, error: any Error)? { lock.withLock { stored } }
        private var stored: (index: Int, error: any Error)?

        init(count: Int) { self.count = count }

        /// The next request's index; nil when all are taken or one has failed.
        func take() -> Int? {
            lock.withLock {
                guard stored == nil, next < count else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func fail(_ index: Int, _ error: any Error) {
            lock.withLock {
                if stored.map({ index < $0.index }) ?? true { stored = (index, error) }
            }
        }
    }
}
