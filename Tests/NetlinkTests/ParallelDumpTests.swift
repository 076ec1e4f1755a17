import Foundation
import HostModel
@testable import Netlink
import Testing

/// A real kernel's recorded answers, looked up by request: each socket of a parallel read gets the datagrams the
/// kernel sent for the request it sent, whichever socket asked first.
final class AnsweringTransport: NetlinkTransport, @unchecked Sendable {
    /// The recorded datagrams for each request (its bytes with the sequence number zeroed), in order.
    final class Answers: @unchecked Sendable {
        let byRequest: [[UInt8]: [[UInt8]]]
        /// One request whose answer has NLM_F_DUMP_INTR set the first time it is asked, on any socket.
        let interruptOnce: [UInt8]?
        private let lock = NSLock()
        private var interrupted = false

        /// Learns the answers by reading the capture once, in order, on one socket. `interruptLast`: the last
        /// request of that nf_tables message type gets NLM_F_DUMP_INTR the first time it is answered.
        init(capture datagrams: [[UInt8]], interruptLast type: UInt16? = nil) throws {
            let learner = Learner(ReplayTransport(datagrams))
            _ = try NftablesReader.read(connect: { NetlinkSocket(transport: learner) })
            byRequest = learner.answers
            interruptOnce = type.flatMap { t in learner.order.last { UInt16($0[4]) | UInt16($0[5]) << 8 == NFT.messageType(t) } }
        }

        func shouldInterrupt(_ key: [UInt8]) -> Bool {
            lock.withLock {
                guard key == interruptOnce, !interrupted else { return false }
                interrupted = true
                return true
            }
        }
    }

    /// Wraps a replay and notes which datagrams answered which request.
    private final class Learner: NetlinkTransport {
        let inner: ReplayTransport
        var portID: UInt32 { inner.portID }
        var answers: [[UInt8]: [[UInt8]]] = [:]
        var order: [[UInt8]] = []
        private var current: [UInt8] = []

        init(_ inner: ReplayTransport) { self.inner = inner }

        func send(_ request: [UInt8]) throws {
            current = AnsweringTransport.key(request)
            answers[current] = []
            order.append(current)
            try inner.send(request)
        }

        func receive(into buffer: inout [UInt8]) throws -> Int {
            let n = try inner.receive(into: &buffer)
            answers[current, default: []].append(Array(buffer[0..<n]))
            return n
        }
    }

    let portID: UInt32 = 4343
    private let answers: Answers
    private var pending: [[UInt8]] = []
    private var seq: UInt32 = 0
    private var interrupt = false
    private(set) var sent: [[UInt8]] = []

    init(_ answers: Answers) { self.answers = answers }

    /// A request's bytes without its sequence number.
    static func key(_ request: [UInt8]) -> [UInt8] {
        var k = request
        for i in 8..<12 { k[i] = 0 }
        return k
    }

    func send(_ request: [UInt8]) throws {
        sent.append(request)
        let k = Self.key(request)
        pending = answers.byRequest[k] ?? []
        interrupt = answers.shouldInterrupt(k)
        seq = ReplayTransport.seq(of: request)
    }

    func receive(into buffer: inout [UInt8]) throws -> Int {
        guard !pending.isEmpty else { throw NetlinkError.receive(errno: 11) }
        return ReplayTransport.deliver(pending.removeFirst(), seq: seq, interrupted: interrupt, into: &buffer)
    }
}

/// The element and rule dumps shared out among several sockets (as `collect` reads), on a real kernel's recorded
/// answers, without root: the same ruleset in the same order as one socket reads, every socket sends only GETs, and
/// a dump interrupted on any socket redoes the whole pass.
@Suite struct ParallelDumpTests {
    static let capture = "varied-perChain.nlcap"

    @Test(arguments: [2, 3, 8])
    func severalSocketsReadTheRulesetOneSocketReads(workers: Int) throws {
        let answers = try AnsweringTransport.Answers(capture: Capture.datagrams(Self.capture))
        var transports: [AnsweringTransport] = []
        let read = try NftablesReader.read(
            workers: workers,
            connect: {
                let t = AnsweringTransport(answers)
                transports.append(t)
                return NetlinkSocket(transport: t)
            })
        #expect(read.attempts == 1)
        #expect(read.tables == (try Capture.tables(Self.capture)))
        // One socket per worker (the calling thread's first), and none sent anything but a GET.
        #expect(transports.count == workers)
        #expect(transports.allSatisfy { $0.sent.allSatisfy(NftablesRequest.isReadOnly) })
        // Every dump was asked exactly once, on one socket or another.
        let dumps = transports.flatMap(\.sent).map(AnsweringTransport.key)
        #expect(dumps.count == Set(dumps).count + 1, "only GETGEN is asked twice")
    }

    @Test func aSocketThatCannotBeOpenedLeavesTheDumpsToTheOthers() throws {
        let answers = try AnsweringTransport.Answers(capture: Capture.datagrams(Self.capture))
        var opened = 0
        let read = try NftablesReader.read(
            workers: 3,
            connect: {
                opened += 1
                guard opened != 2 else { throw NetlinkError.open(protocolName: "nfnetlink", errno: 24) }  // EMFILE
                return NetlinkSocket(transport: AnsweringTransport(answers))
            })
        #expect(opened == 3)
        #expect(read.attempts == 1)
        #expect(read.tables == (try Capture.tables(Self.capture)))
    }

    @Test func aDumpInterruptedOnAnySocketRedoesThePass() throws {
        // The last set's element dump, answered by whichever socket takes it.
        let answers = try AnsweringTransport.Answers(capture: Capture.datagrams(Self.capture), interruptLast: NFT.getSetElem)
        #expect(answers.interruptOnce != nil)
        let read = try NftablesReader.read(workers: 2, connect: { NetlinkSocket(transport: AnsweringTransport(answers)) })
        #expect(read.attempts == 2)
        #expect(read.tables == (try Capture.tables(Self.capture)))
    }
}
