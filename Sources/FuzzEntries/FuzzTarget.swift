import Foundation

/// The inputs `make fuzz` throws at portwarden's parsers, one per reader of untrusted bytes. The fuzzer binaries
/// (Fuzz/) and the corpus replay tests (Tests/FuzzTests) both call `run`, so what CI replays is what was fuzzed.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// nf_tables dump datagrams through the `RulesetAssembler` that `collect` uses.
    case nftables
    /// sock_diag dump datagrams through `SockDiag.decode`.
    case sockdiag
    /// rtnetlink dump datagrams (links, addresses, routes, rules) through `RouteNetlink.Decoder`.
    case rtnetlink
    /// Policy YAML through `PolicyLoader.parse` and the check-name validation `audit` applies.
    case policy
    /// Snapshot JSON through the fast reader and the `Codable` path, which must agree.
    case snapshot
    /// `trace --probes` lines through `ProbeLine.parse`.
    case probe
    /// `audit --baseline` reports through `FindingsJSON.findings(fromReport:)`.
    case report

    /// Feeds one input to the parser. Rejecting the input is a normal outcome; a crash is a bug, and so is a
    /// broken contract (two readers disagreeing, a round trip changing the value, an error without a place).
    /// - Throws: `FuzzContractViolation` for a broken contract.
    public func run(_ input: UnsafeRawBufferPointer) throws(FuzzContractViolation) -> FuzzOutcome {
        switch self {
        case .nftables: NetlinkEntries.nftables(input)
        case .sockdiag: NetlinkEntries.sockDiag(input)
        case .rtnetlink: NetlinkEntries.rtnetlink(input)
        case .policy: try TextEntries.policy(input)
        case .snapshot: try SnapshotEntry.run(input)
        case .probe: try TextEntries.probe(input)
        case .report: try TextEntries.report(input)
        }
    }
}

/// Whether the parser accepted the input; the seed corpus holds real examples, which must be accepted.
public enum FuzzOutcome: Sendable, Equatable {
    case accepted
    case rejected
}

/// A contract a parser broke on some input; the fuzzer binary aborts on it so libFuzzer saves the input.
public struct FuzzContractViolation: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
