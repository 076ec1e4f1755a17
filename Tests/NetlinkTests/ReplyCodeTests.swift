@testable import Netlink
import Testing

/// The code of an error or done reply: an errno, success, or (for -2^31, which has no positive errno) a malformed
/// reply instead of an arithmetic-overflow trap (found by `make fuzz-nftables`; Fuzz/Regressions/nftables).
@Suite struct ReplyCodeTests {
    @Test func codesMapToErrnoSuccessOrMalformed() {
        #expect(NetlinkError.reply(code: 0, request: "r") == nil)
        #expect(NetlinkError.reply(code: 5, request: "r") == nil)
        #expect(NetlinkError.reply(code: -1, request: "r") == .kernel(request: "r", errno: 1))
        #expect(NetlinkError.reply(code: -Int32.max, request: "r") == .kernel(request: "r", errno: Int32.max))
        #expect(NetlinkError.reply(code: .min, request: "r") == .malformed("error code -2147483648 in the reply to r"))
    }

    @Test func replayedErrorWithTheSmallestCodeIsMalformed() throws {
        // nlmsghdr (len 20, NLMSG_ERROR, no flags, seq 0, pid 0) + a code of -2^31.
        var datagram: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        datagram += withUnsafeBytes(of: Int32.min.littleEndian) { Array($0) }
        #expect(throws: NetlinkError.malformed("error code -2147483648 in the reply to a recorded request")) {
            _ = try RulesetAssembler.replay([datagram])
        }
    }
}
