/// A netlink failure, with the errno the kernel answered where there is one.
public enum NetlinkError: Error, CustomStringConvertible, Equatable {
    /// socket/bind failed.
    case open(protocolName: String, errno: Int32)
    case send(errno: Int32)
    case receive(errno: Int32)
    /// The kernel answered a request with an error (`NLMSG_ERROR` with a negative code).
    case kernel(request: String, errno: Int32)
    /// A reply that does not parse: truncated header or attribute.
    case malformed(String)
    /// The dump kept being interrupted by concurrent changes.
    case inconsistent(attempts: Int)

    /// What the code of an NLMSG_ERROR or NLMSG_DONE reply means: nil for success (zero or positive), `.kernel` with
    /// the errno for a negative code, `.malformed` for -2^31, which no errno negates to (found by `make fuzz`).
    public static func reply(code: Int32, request: @autoclosure () -> String) -> NetlinkError? {
        guard code < 0 else { return nil }
        guard code != .min else { return .malformed("error code \(code) in the reply to \(request())") }
        return .kernel(request: request(), errno: -code)
    }

    public var description: String {
        switch self {
        case .open(let p, let e): "cannot open a \(p) netlink socket: \(errnoName(e))"
        case .send(let e): "netlink send failed: \(errnoName(e))"
        case .receive(let e): "netlink receive failed: \(errnoName(e))"
        case .kernel(let r, let e): "the kernel refused \(r): \(errnoName(e))"
        case .malformed(let what): "malformed netlink reply: \(what)"
        case .inconsistent(let n): "the ruleset kept changing while it was read (\(n) attempts); try again when it is stable"
        }
    }

    /// The errno of a kernel refusal, if this is one.
    public var kernelErrno: Int32? {
        if case .kernel(_, let e) = self { return e }
        return nil
    }
}

func errnoName(_ e: Int32) -> String {
    let names: [Int32: String] = [
        1: "EPERM (operation not permitted)", 2: "ENOENT (no such object)", 4: "EINTR (interrupted)",
        13: "EACCES (permission denied)", 16: "EBUSY", 22: "EINVAL (invalid argument)",
        28: "ENOSPC (buffer too small)", 71: "EPROTO", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP",
        105: "ENOBUFS (receive buffer overrun)"
    ]
    return names[e] ?? "errno \(e)"
}
