import HostModel
import Evaluator
import Policy

/// The socket a finding is about, in the form reports print.
public struct FindingListener: Codable, Sendable, Equatable, Hashable {
    public var proto: L4Proto
    public var family: IPFamily
    public var address: String
    public var port: UInt16
    public var endpoint: String
    public var uid: UInt32
    /// `name[pid]` of every holder.
    public var processes: [String]

    public init(_ l: Listener) {
        proto = l.proto
        family = l.family
        address = l.address
        port = l.port
        endpoint = l.endpoint
        uid = l.uid
        processes = l.processes.map { "\($0.name)[\($0.pid)]" }
    }
}

/// The nftables rule a finding is about.
public struct FindingRule: Codable, Sendable, Equatable, Hashable {
    public var family: String
    public var table: String
    public var chain: String
    public var handle: UInt64

    public init(family: String, table: String, chain: String, handle: UInt64) {
        self.family = family
        self.table = table
        self.chain = chain
        self.handle = handle
    }

    /// The command that removes the rule.
    public var deleteCommand: String { "nft delete rule \(family) \(table) \(chain) handle \(handle)" }

    public var chainRef: ChainRef { ChainRef(family: family, table: table, chain: chain) }
}

extension RuleMatch {
    /// The rule as a finding names it.
    public var ref: FindingRule { FindingRule(family: family.rawValue, table: table, chain: chain, handle: handle) }
    /// The fingerprint subject of a finding about this rule: `rule/inet/filter/input/7`.
    public var subject: String { "rule/\(family.rawValue)/\(table)/\(chain)/\(handle)" }
}

/// An nftables chain by name.
public struct ChainRef: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var family: String
    public var table: String
    public var chain: String
    public init(family: String, table: String, chain: String) { self.family = family; self.table = table; self.chain = chain }
    public var description: String { "\(family) \(table) \(chain)" }
}

/// A ruleset change that resolves a finding. On the host it is quoted as nft commands with the snapshot's handles; for a
/// candidate file (`--ruleset`) it becomes an edit of the file (`RulesetSourceMap.locating`).
public enum RulesetEdit: Sendable, Equatable {
    /// Delete the rule (`text`: its nft text in backquotes, or a description).
    case delete(FindingRule, text: String)
    /// Add `rule` (nft) as the first rule of the chain.
    case insertFirst(ChainRef, rule: String)
    /// Add `rule` (nft) right before the given rule.
    case insertBefore(FindingRule, rule: String)
    /// Move the rule above `above`, or delete it.
    case move(FindingRule, above: FindingRule)
    /// Set the policy of these base chains to drop.
    case policyDrop([ChainRef])
    /// No input chain decides the traffic: add one holding `rule` (nft).
    case newInputChain(rule: String)
}

/// A structured fix: the words before the change (`Bind the service to 127.0.0.1 …, or close it:`) and the change.
public struct RulesetFix: Sendable, Equatable {
    public var lead: String
    public var edit: RulesetEdit
    public init(lead: String, edit: RulesetEdit) { self.lead = lead; self.edit = edit }
}

/// A remediation text and the structured change it quotes, if any.
public struct Remedy: Sendable, Equatable {
    public var text: String
    public var fix: RulesetFix?
    public init(_ text: String, _ fix: RulesetFix? = nil) { self.text = text; self.fix = fix }
}

/// `s` as one shell word: single quotes, with embedded single quotes closed, escaped and reopened.
public func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Why the finding says "reachable": the evaluator's answer for the listener.
public struct Evidence: Codable, Sendable, Equatable, Hashable {
    /// `public`, `restricted`, `localOnly`, `blocked` or `conditional`.
    public var exposure: String
    /// Named interfaces it is reached on.
    public var interfaces: [String]
    /// Also reached on every interface the host and its rules do not name (one created later, a tunnel that is down).
    public var otherInterfaces: Bool
    public var sources: [String]
    /// The deciding rule path, one step per line (`inet filter input #12 [input 0]: accept`).
    public var path: [String]
    /// What the snapshot cannot decide (for conditional exposure).
    public var reasons: [String]
    /// Rate limits and quotas in front of the accept (nft syntax); nil when none.
    public var limits: [String]?

    public init(
        exposure: String, interfaces: [String] = [], otherInterfaces: Bool = false, sources: [String] = [], path: [String] = [],
        reasons: [String] = [], limits: [String] = []
    ) {
        self.exposure = exposure
        let split = InterfaceScope.split(interfaces)
        self.interfaces = split.named
        self.otherInterfaces = otherInterfaces || split.others
        self.sources = sources
        self.path = path
        self.reasons = reasons
        self.limits = limits.isEmpty ? nil : limits
    }

    enum CodingKeys: String, CodingKey { case exposure, interfaces, otherInterfaces, sources, path, reasons, limits }

    /// Reads reports from before `otherInterfaces`, whose `interfaces` held the stand-in `(any other)`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let listed = try c.decode([String].self, forKey: .interfaces)
        self.init(
            exposure: try c.decode(String.self, forKey: .exposure), interfaces: listed,
            otherInterfaces: try c.decodeIfPresent(Bool.self, forKey: .otherInterfaces) ?? false,
            sources: try c.decode([String].self, forKey: .sources), path: try c.decode([String].self, forKey: .path),
            reasons: try c.decode([String].self, forKey: .reasons), limits: try c.decodeIfPresent([String].self, forKey: .limits) ?? [])
    }
}

/// A waiver that matched a finding.
public struct AppliedSuppression: Codable, Sendable, Equatable, Hashable {
    public var reason: String
    public var expires: String?
    public var location: SourceLocation

    public init(reason: String, expires: String?, location: SourceLocation) {
        self.reason = reason
        self.expires = expires
        self.location = location
    }
}

/// One problem found on the host. Everything a report prints comes from here, so all formats agree.
public struct Finding: Codable, Sendable, Equatable {
    public var ruleId: String
    public var slug: String
    public var severity: Severity
    /// What, where and why, in one or two sentences.
    public var message: String
    /// Stable key of what the finding is about (`listener/tcp/0.0.0.0:6379`, `rule/inet/filter/input/12`, `host/sysctl/…`).
    public var subject: String
    public var listener: FindingListener?
    public var rule: FindingRule?
    public var evidence: Evidence?
    /// The concrete change that resolves it (a bind change or an exact nft command).
    public var remediation: String
    /// The policy entry the finding violates, when there is one.
    public var policyLocation: SourceLocation?
    /// The verdict depends on state the snapshot cannot decide; reported at a lower level unless asked otherwise.
    public var conditional: Bool
    public var suppression: AppliedSuppression?
    /// Hash of ruleId and subject: survives reordering, new pids and message rewording.
    public var fingerprint: String
    /// With `--ruleset FILE`: the line of FILE holding the rule the finding is about or that decides it.
    public var rulesetLocation: SourceLocation?
    /// The ruleset change `remediation` quotes as nft commands, kept structured so that a candidate file gets an edit
    /// of the file instead (its handles exist only in a throwaway namespace). Not part of the JSON contract.
    public var fix: RulesetFix? = nil

    private enum CodingKeys: String, CodingKey {
        case ruleId, slug, severity, message, subject, listener, rule, evidence, remediation, policyLocation, conditional,
            suppression, fingerprint, rulesetLocation
    }

    public init(
        ruleId: String, slug: String, severity: Severity, message: String, subject: String, listener: FindingListener? = nil,
        rule: FindingRule? = nil, evidence: Evidence? = nil, remediation: String, policyLocation: SourceLocation? = nil,
        conditional: Bool = false, fix: RulesetFix? = nil
    ) {
        self.ruleId = ruleId
        self.slug = slug
        self.severity = severity
        self.message = message
        self.subject = subject
        self.listener = listener
        self.rule = rule
        self.evidence = evidence
        self.remediation = remediation
        self.policyLocation = policyLocation
        self.conditional = conditional
        self.suppression = nil
        self.fingerprint = Fingerprint.of(ruleId: ruleId, subject: subject)
        self.rulesetLocation = nil
        self.fix = fix
    }

    public var isSuppressed: Bool { suppression != nil }
}

/// A stable, platform-independent hash (two FNV-1a 64 lanes → 32 hex digits). Not `Hasher`: that is seeded per process.
public enum Fingerprint {
    public static func of(ruleId: String, subject: String) -> String {
        let text = Array("\(ruleId)\u{0}\(subject)".utf8)
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in text { h ^= UInt64(b); h = h &* 0x0000_0100_0000_01b3 }
            return h
        }
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(fnv(0xcbf2_9ce4_8422_2325)) + hex(fnv(0x8422_2325_cbf2_9ce4))
    }
}
