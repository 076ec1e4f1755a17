internal import CNetfilter
import Foundation

/// A netlink socket for read-only requests (GET and dump). One per collection; never used to send a change.
///
/// The receive loop is written here rather than with `mnl_cb_run` so that interrupted dumps (NLM_F_DUMP_INTR)
/// are seen, drained to the end and reported, and so that the same message parser also runs on recorded captures.
public final class NetlinkSocket {
    private let transport: any NetlinkTransport
    private let portID: UInt32
    private var nextSeq: UInt32
    private var buffer: [UInt8]
    /// When set, every received datagram is appended here (see `NetlinkRecorder`), to re-record test captures.
    public var recorder: NetlinkRecorder?

    public static let netfilter = Int32(NETLINK_NETFILTER)
    public static let sockDiag = Int32(NETLINK_SOCK_DIAG)
    public static let route = Int32(NETLINK_ROUTE)

    public convenience init(protocol proto: Int32) throws {
        try self.init(transport: MnlTransport(protocol: proto))
        recorder = NetlinkRecorder.fromEnvironment(protocol: proto)
    }

    /// Over another transport: tests replay recorded datagrams (and inject faults) through the same receive loop.
    public init(transport: any NetlinkTransport) {
        self.transport = transport
        portID = transport.portID
        nextSeq = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        buffer = Array(repeating: 0, count: pw_dump_buffer_size())
    }

    /// A fresh sequence number for the next request.
    public func makeSeq() -> UInt32 {
        nextSeq &+= 1
        return nextSeq
    }

    /// Sends `request` (built with `seq`) and hands every reply message to `body` until NLMSG_DONE or the ACK.
    /// - Returns: whether any reply carried NLM_F_DUMP_INTR; the caller must then discard what it read.
    @discardableResult
    public func exchange(_ request: [UInt8], seq: UInt32, describe: @autoclosure () -> String, _ body: (Message) throws -> Void) throws -> Bool {
        try transport.send(request)
        var interrupted = false
        var finished = false
        var failure: (any Error)?
        while !finished {
            let n = try transport.receive(into: &buffer)
            if let recorder { recorder.record(Array(buffer[0..<n])) }
            // Read in place: the buffer is not touched again until the next receive.
            try buffer.withUnsafeBytes { all in
                try forEachMessage(in: UnsafeRawBufferPointer(rebasing: all[0..<n])) { m in
                    guard m.seq == seq, m.portID == portID || m.portID == 0 else { return }
                    if m.isDumpInterrupted { interrupted = true }
                    switch m.type {
                    case MessageKind.done.rawValue:
                        // A dump that failed part-way reports the error in DONE's payload.
                        if m.payload.count >= 4 {
                            let code = m.payload.loadUnaligned(as: Int32.self)
                            if failure == nil { failure = NetlinkError.reply(code: code, request: describe()) }
                        }
                        finished = true
                    case MessageKind.error.rawValue:
                        let code = m.payload.count >= 4 ? m.payload.loadUnaligned(as: Int32.self) : -Int32(EPROTO)
                        if failure == nil { failure = NetlinkError.reply(code: code, request: describe()) }
                        finished = true
                    case MessageKind.noop.rawValue, MessageKind.overrun.rawValue:
                        break
                    default:
                        if failure == nil, !finished {
                            do { try body(m) } catch { failure = error }
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        return interrupted
    }
}

/// Appends raw received datagrams to a capture file: each as a 4-byte little-endian length and the bytes.
/// Enabled by `PORTWARDEN_RECORD_NETLINK=<dir>`; files are named `<dir>/<protocol>.nlcap`.
public final class NetlinkRecorder {
    private let handle: FileHandle

    init?(path: String) {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { return nil }
        h.seekToEndOfFile()
        handle = h
    }

    static func fromEnvironment(protocol proto: Int32) -> NetlinkRecorder? {
        guard let dir = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_RECORD_NETLINK"], !dir.isEmpty else { return nil }
        let name =
            [Int32(NETLINK_NETFILTER): "nfnetlink", Int32(NETLINK_SOCK_DIAG): "sock_diag", Int32(NETLINK_ROUTE): "rtnetlink"][proto] ?? "\(proto)"
        return NetlinkRecorder(path: "\(dir)/\(name).nlcap")
    }

    func record(_ datagram: [UInt8]) {
        var len = UInt32(datagram.count).littleEndian
        handle.write(Data(bytes: &len, count: 4))
        handle.write(Data(datagram))
    }

    /// Reads a capture file back into its datagrams.
    public static func datagrams(in data: Data) throws -> [[UInt8]] {
        let bytes = [UInt8](data)
        var out: [[UInt8]] = []
        var i = 0
        while i + 4 <= bytes.count {
            let len = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            guard i + 4 + len <= bytes.count else { throw NetlinkError.malformed("capture truncated at byte \(i)") }
            out.append(Array(bytes[(i + 4)..<(i + 4 + len)]))
            i += 4 + len
        }
        return out
    }
}
