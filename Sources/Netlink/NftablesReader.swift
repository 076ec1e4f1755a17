import HostModel

/// The ruleset as read in one consistent pass.
public struct RulesetRead: Sendable {
    public var generation: UInt32
    public var tables: [Table]
    /// How many passes it took (1 unless a concurrent change forced a re-read).
    public var attempts: Int
}

/// Reads the whole nftables ruleset over nfnetlink (GET and dump requests only).
public enum NftablesReader {
    /// - Throws: `NetlinkError.kernel(_, EPERM)` without CAP_NET_ADMIN; `NetlinkError.inconsistent` when the
    ///   ruleset kept changing for `maxAttempts` passes.
    public static func read(maxAttempts: Int = 5) throws -> RulesetRead {
        // TODO(H1): replaced by the real reader.
        throw NetlinkError.malformed("nftables reader not implemented yet")
    }
}
