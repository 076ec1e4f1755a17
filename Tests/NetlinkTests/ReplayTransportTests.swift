import Foundation
import HostModel
@testable import Netlink
import Testing

/// A transport that answers every request with the next recorded datagrams (their sequence numbers rewritten to the
/// request's), and can inject the faults a live read meets: an interrupted dump, a receive buffer overrun.
final class ReplayTransport: NetlinkTransport {
    enum Fault { case interrupted, overrun }
    let portID: UInt32 = 4242
    private let datagrams: [[UInt8]]
    private var position = 0
    private var received = 0
    private var seq: UInt32 = 0
    private let faults: [Int: Fault]
    private(set) var sent: [[UInt8]] = []

    /// `faults`: by the index of the receive call (0-based, over the transport's life).
    init(_ datagrams: [[UInt8]], faults: [Int: Fault] = [:]) {
        self.datagrams = datagrams
        self.faults = faults
    }

    func send(_ request: [UInt8]) throws {
        sent.append(request)
        seq = Self.seq(of: request)
    }

    /// A request's sequence number (nlmsghdr bytes 8-11, little-endian).
    static func seq(of request: [UInt8]) -> UInt32 {
        UInt32(request[8]) | UInt32(request[9]) << 8 | UInt32(request[10]) << 16 | UInt32(request[11]) << 24
    }

    func receive(into buffer: inout [UInt8]) throws -> Int {
        defer { received += 1 }
        let fault = faults[received]
        if fault == .overrun { throw NetlinkError.receive(errno: 105) }
        if position == datagrams.count { position = 0 }  // the next pass asks the same questions again
        position += 1
        return Self.deliver(datagrams[position - 1], seq: seq, interrupted: fault == .interrupted, into: &buffer)
    }

    /// Copies a recorded datagram into `buffer` as the answer to request `seq`: every message's sequence number
    /// rewritten to it and its port id to 0, NLM_F_DUMP_INTR set when `interrupted`. Returns its length.
    static func deliver(_ datagram: [UInt8], seq: UInt32, interrupted: Bool, into buffer: inout [UInt8]) -> Int {
        var d = datagram
        var i = 0
        while i + 16 <= d.count {
            let len = Int(d[i]) | Int(d[i + 1]) << 8 | Int(d[i + 2]) << 16 | Int(d[i + 3]) << 24
            guard len >= 16 else { break }
            for k in 0..<4 { d[i + 8 + k] = UInt8(truncatingIfNeeded: seq >> (8 * k)); d[i + 12 + k] = 0 }
            if interrupted { d[i + 6] |= 0x10 }  // NLM_F_DUMP_INTR
            i += (len + 3) & ~3
        }
        buffer.replaceSubrange(0..<d.count, with: d)
        return d.count
    }
}

/// The reader's retry logic on a real kernel's recorded dump, without root: every request is a GET, an interrupted
/// dump and a receive buffer overrun are each read again, and an overrun that never stops is a clear error.
@Suite struct ReplayTransportTests {
    static let capture = "varied-perChain.nlcap"

    @Test func aRecordedPassReadsAsTheCapture() throws {
        let datagrams = try Capture.datagrams(Self.capture)
        let transport = ReplayTransport(datagrams)
        let read = try NftablesReader.read(connect: { NetlinkSocket(transport: transport) })
        #expect(read.attempts == 1)
        #expect(read.tables == (try Capture.tables(Self.capture)))
        #expect(!transport.sent.isEmpty && transport.sent.allSatisfy(NftablesRequest.isReadOnly))
    }

    @Test func anInterruptedDumpIsReadAgain() throws {
        let datagrams = try Capture.datagrams(Self.capture)
        let transport = ReplayTransport(datagrams, faults: [3: .interrupted])
        let read = try NftablesReader.read(connect: { NetlinkSocket(transport: transport) })
        #expect(read.attempts == 2)
        #expect(read.tables == (try Capture.tables(Self.capture)))
    }

    @Test func anOverrunIsReadAgainOnANewSocket() throws {
        let datagrams = try Capture.datagrams(Self.capture)
        var connections = 0
        let read = try NftablesReader.read(connect: {
            connections += 1
            return NetlinkSocket(transport: ReplayTransport(datagrams, faults: connections == 1 ? [4: .overrun] : [:]))
        })
        #expect(connections == 2)
        #expect(read.attempts == 2)
        #expect(read.tables == (try Capture.tables(Self.capture)))
    }

    @Test func anOverrunThatNeverStopsIsTheKernelsError() throws {
        let datagrams = try Capture.datagrams(Self.capture)
        #expect(throws: NetlinkError.receive(errno: 105)) {
            _ = try NftablesReader.read(maxAttempts: 3, connect: { NetlinkSocket(transport: ReplayTransport(datagrams, faults: [1: .overrun])) })
        }
        #expect("\(NetlinkError.receive(errno: 105))".contains("ENOBUFS"))
    }
}

/// The socket dump on a recorded real sock_diag capture: an overrun is asked again on a new socket.
@Suite struct SockDiagReplayTests {
    @Test func anOverrunIsAskedAgainOnANewSocket() throws {
        let datagrams = try RecordedDatagrams.load("sockdiag-listeners.nlcap")
        var unavailable: [String] = []
        let clean = try SockDiag.listeners(unavailable: &unavailable, connect: { NetlinkSocket(transport: ReplayTransport(datagrams)) })
        #expect(!clean.isEmpty)
        var connections = 0
        let retried = try SockDiag.listeners(
            unavailable: &unavailable,
            connect: {
                connections += 1
                return NetlinkSocket(transport: ReplayTransport(datagrams, faults: connections == 1 ? [0: .overrun] : [:]))
            })
        #expect(connections == 2)
        #expect(retried.map(\.cookie) == clean.map(\.cookie))
        #expect(throws: NetlinkError.receive(errno: 105)) {
            _ = try SockDiag.listeners(
                unavailable: &unavailable, connect: { NetlinkSocket(transport: ReplayTransport(datagrams, faults: [0: .overrun])) })
        }
    }
}

/// Links, addresses and routes on a recorded real rtnetlink capture: an overrun redoes the pass on a new socket.
@Suite struct RouteNetlinkReplayTests {
    @Test func anOverrunRedoesThePassOnANewSocket() throws {
        let datagrams = try RecordedDatagrams.load("rtnetlink-host.nlcap")
        let clean = try RouteNetlink.read(connect: { NetlinkSocket(transport: ReplayTransport(datagrams)) })
        #expect(!clean.interfaces.isEmpty)
        var connections = 0
        let retried = try RouteNetlink.read(connect: {
            connections += 1
            return NetlinkSocket(transport: ReplayTransport(datagrams, faults: connections == 1 ? [1: .overrun] : [:]))
        })
        #expect(connections == 2)
        #expect(retried.interfaces == clean.interfaces && retried.routing == clean.routing)
    }
}
