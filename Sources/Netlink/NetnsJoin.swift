internal import CNetfilter

/// Joining another network namespace, so the netlink sockets opened afterwards on this thread read that namespace.
public enum NetnsJoin {
    /// Moves the calling thread (only it) into the network namespace of `fd`. Returns 0, or the errno.
    /// Call it only on a thread that ends after its reads: the thread is not moved back.
    public static func joinOnThisThread(_ fd: Int32) -> Int32 {
        pw_join_netns(fd) == 0 ? 0 : pw_errno()
    }
}
