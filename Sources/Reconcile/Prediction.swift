import Evaluator
import HostModel

/// What portwarden predicts a scanner observes at one port, or why it cannot say.
public enum Prediction: Sendable, Equatable {
    case observed(Observation)
    /// The outcome depends on state the snapshot cannot decide (or on a path not followed): never a mismatch.
    case either(String)

    /// `open`, `closed`, `filtered` or `either`.
    public var label: String {
        switch self {
        case .observed(let o): o.rawValue
        case .either: "either"
        }
    }
}

/// Maps a trace result to what nmap can see: delivered to a socket is open; accepted without a socket is closed (the
/// kernel answers a TCP RST or an ICMP port unreachable); a drop is filtered; a reject is closed or filtered by its kind.
public enum Predictor {
    /// The observation `r` implies for a scan with `technique`; a reject is looked up in `firewall` for its kind.
    public static func predict(
        _ r: TraceResult, proto: L4Proto, family: IPFamily, technique: ScanTechnique,
        firewall: Firewall
    ) -> Prediction {
        switch r.verdict {
        case .conditional:
            return .either(r.reasons.isEmpty ? "the snapshot cannot decide the verdict" : r.reasons.joined(separator: "; "))
        case .drop:
            return .observed(.filtered)
        case .accept:
            if r.delivered { return .observed(.open) }
            if r.forwarded {
                return .either("forwarded to \(r.translatedTo ?? "another host") and not followed to a socket")
            }
            return .observed(.closed)
        case .reject:
            guard let step = r.path.last(where: { $0.action == .reject }), let kind = rejectKind(step, in: firewall) else {
                return .either("the kind of reject (TCP reset or which ICMP error) is not known")
            }
            return .observed(observe(kind, proto: proto, family: family, technique: technique))
        }
    }

    /// The `reject` expression of the rule a path step names, when the host's ruleset has it.
    static func rejectKind(_ step: PathStep, in firewall: Firewall) -> Reject? {
        guard let handle = step.handle,
            let table = firewall.tables.first(where: { $0.name == step.table && .table($0.family) == step.family }),
            let chain = table.chains.first(where: { $0.name == step.chain }),
            let rule = chain.rules.first(where: { $0.handle == handle })
        else { return nil }
        for case .reject(let r) in rule.expressions
        where r.type == rejectTCPReset || ((r.type == rejectICMP || r.type == rejectICMPX) && r.code != nil) { return r }
        return nil
    }

    /// NFT_REJECT_ICMP_UNREACH (family-specific code), NFT_REJECT_TCP_RST, NFT_REJECT_ICMPX_UNREACH (portable code).
    static let rejectICMP: UInt32 = 0, rejectTCPReset: UInt32 = 1, rejectICMPX: UInt32 = 2

    /// A TCP reset is closed; an ICMP port unreachable is closed for UDP and for a connect scan (connect() fails
    /// with ECONNREFUSED) but filtered for a SYN scan; every other ICMP error, or a TCP reset for UDP (nothing is
    /// sent), is filtered.
    static func observe(_ reject: Reject, proto: L4Proto, family: IPFamily, technique: ScanTechnique) -> Observation {
        if reject.type == rejectTCPReset { return proto == .tcp ? .closed : .filtered }
        let portUnreachable: Bool
        switch reject.type {
        case rejectICMP: portUnreachable = reject.code == (family == .ipv4 ? 3 : 4)
        case rejectICMPX: portUnreachable = reject.code == 1
        default: portUnreachable = false  // not reached: rejectKind passes only the three kinds
        }
        guard portUnreachable else { return .filtered }
        return proto == .udp || technique == .connect ? .closed : .filtered
    }
}
