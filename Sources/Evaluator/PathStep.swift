import HostModel

/// One step of a rule path: a base chain that ran, or the rule (by handle) that took a decision in it. Checks read
/// the typed fields; JSON and text show the same words as nft (`accept`, `policy drop`, `jump web`).
public struct PathStep: Sendable, Equatable, Hashable {
    public var table: String
    public var family: StepFamily
    public var chain: String
    /// nil when the step's base chain is not known (JSON and text then show an empty hook, as before).
    public var hook: StepHook?
    public var priority: Int32
    /// The rule's handle; nil for chain-level steps (policy, end of chain) and routing steps.
    public var handle: UInt64?
    public var action: StepAction

    public init(table: String, family: StepFamily, chain: String, hook: StepHook?, priority: Int32, handle: UInt64?, action: StepAction) {
        self.table = table
        self.family = family
        self.chain = chain
        self.hook = hook
        self.priority = priority
        self.handle = handle
        self.action = action
    }

    /// A routing step (no table or chain): the packet's family and what routing did with it.
    public static func routing(_ family: IPFamily, _ action: StepAction) -> PathStep {
        PathStep(table: "", family: .packet(family), chain: "", hook: .routing, priority: 0, handle: nil, action: action)
    }

    /// The hook as JSON and text show it: `input`, `routing`, or empty.
    public var hookText: String { hook?.description ?? "" }

    /// `table/chain #handle: action`, for text output.
    public var text: String {
        if table.isEmpty { return action.description }
        let h = handle.map { " #\($0)" } ?? ""
        return "\(family) \(table) \(chain)\(h) [\(hookText) \(priority)]: \(action)"
    }
}

/// The family of a step: its table's, or the packet's for routing steps.
public enum StepFamily: Sendable, Hashable, CustomStringConvertible {
    case table(TableFamily)
    case packet(IPFamily)

    /// `inet`, `ip`, … for a table; `ipv4`/`ipv6` for a packet (the two sets of names do not overlap).
    public init?(_ text: String) {
        if let t = TableFamily(rawValue: text) {
            self = .table(t)
        } else if let f = IPFamily(rawValue: text) {
            self = .packet(f)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .table(let t): t.rawValue
        case .packet(let f): f.rawValue
        }
    }
}

/// Where a step ran: a netfilter hook, or the routing decision between hooks.
public enum StepHook: Sendable, Hashable, CustomStringConvertible {
    case hook(Hook)
    case routing

    public init?(_ text: String) {
        if text == "routing" {
            self = .routing
        } else if let h = Hook(rawValue: text) {
            self = .hook(h)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .hook(let h): h.rawValue
        case .routing: "routing"
        }
    }
}

/// What a step did. The decisions of the chain walk are typed; everything else the walk records (a translation,
/// routing's choice, a notrack, an xt target) is a note in words.
public enum StepAction: Sendable, Hashable, CustomStringConvertible {
    case accept, drop, reject, `return`, queue
    case jump(String)
    case goto(String)
    /// The end of a base chain: its policy decided.
    case policy(ChainPolicy)
    /// `dnat to 192.0.2.1:80`, `forward to 10.1.0.9`, `drop (martian source)`, `notrack`, …
    case note(String)

    /// The action for its words: the typed form wherever one exists, so JSON read back compares equal.
    public init(_ text: String) {
        switch text {
        case "accept": self = .accept
        case "drop": self = .drop
        case "reject": self = .reject
        case "return": self = .return
        case "queue": self = .queue
        case "policy accept": self = .policy(.accept)
        case "policy drop": self = .policy(.drop)
        default:
            if text.hasPrefix("jump ") {
                self = .jump(String(text.dropFirst(5)))
            } else if text.hasPrefix("goto ") {
                self = .goto(String(text.dropFirst(5)))
            } else {
                self = .note(text)
            }
        }
    }

    /// Whether the step hands the packet to another chain (`jump`, `goto`).
    public var entersChain: Bool {
        switch self {
        case .jump, .goto: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .reject: "reject"
        case .return: "return"
        case .queue: "queue"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        case .policy(let p): "policy \(p.rawValue)"
        case .note(let s): s
        }
    }
}

extension PathStep: Codable {
    private enum CodingKeys: String, CodingKey { case table, family, chain, hook, priority, handle, action }

    /// The same object as ever: every field a string (or number), `hook` empty outside a base chain.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        table = try c.decode(String.self, forKey: .table)
        let familyText = try c.decode(String.self, forKey: .family)
        guard let family = StepFamily(familyText) else {
            throw DecodingError.dataCorruptedError(forKey: .family, in: c, debugDescription: "unknown family \(familyText)")
        }
        self.family = family
        chain = try c.decode(String.self, forKey: .chain)
        let hookText = try c.decode(String.self, forKey: .hook)
        if hookText.isEmpty {
            hook = nil
        } else if let h = StepHook(hookText) {
            hook = h
        } else {
            throw DecodingError.dataCorruptedError(forKey: .hook, in: c, debugDescription: "unknown hook \(hookText)")
        }
        priority = try c.decode(Int32.self, forKey: .priority)
        handle = try c.decodeIfPresent(UInt64.self, forKey: .handle)
        action = StepAction(try c.decode(String.self, forKey: .action))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(table, forKey: .table)
        try c.encode(family.description, forKey: .family)
        try c.encode(chain, forKey: .chain)
        try c.encode(hookText, forKey: .hook)
        try c.encode(priority, forKey: .priority)
        try c.encodeIfPresent(handle, forKey: .handle)
        try c.encode(action.description, forKey: .action)
    }
}
