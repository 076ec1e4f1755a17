import Netlink

/// Netlink decoders on one datagram as the kernel would send it (the seeds are datagrams cut from the recorded
/// captures in Tests/NetlinkTests/Captures). Decoders must reject bad bytes with `NetlinkError`, never trap.
enum NetlinkEntries {
    static func nftables(_ input: UnsafeRawBufferPointer) -> FuzzOutcome {
        do {
            let assembler = try RulesetAssembler.replay([Array(input)])
            _ = assembler.result
            return .accepted
        } catch {
            return .rejected
        }
    }

    static func sockDiag(_ input: UnsafeRawBufferPointer) -> FuzzOutcome {
        var sockets: [RawSocket] = []
        do {
            // Both protocols the collector asks for: UDP sockets skip the TCP-only state checks.
            try SockDiag.decode(datagram: input, proto: 6, into: &sockets)
            try SockDiag.decode(datagram: input, proto: 17, into: &sockets)
            return .accepted
        } catch {
            return .rejected
        }
    }

    static func rtnetlink(_ input: UnsafeRawBufferPointer) -> FuzzOutcome {
        var decoder = RouteNetlink.Decoder()
        do {
            try decoder.add(datagram: input)
            _ = decoder.result
            return .accepted
        } catch {
            return .rejected
        }
    }
}
