import HostModel

/// Where a policy value was written, so every error and every finding can point at the line to change.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column (Unicode scalars, as libyaml counts).
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// How bad a finding is. Ordered, so `--fail-on` is a comparison.
public enum Severity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    var rank: Int {
        switch self {
        case .info: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }

    /// One step down (used for defence-in-depth and conditional findings); `info` stays `info`.
    public var lowered: Severity { Severity.allCases.first { $0.rank == max(0, rank - 1) } ?? .info }
    /// One step up, capped at `critical`.
    public var raised: Severity { Severity.allCases.first { $0.rank == min(4, rank + 1) } ?? .critical }
}

/// Where a declared listener may be bound.
public enum BindRule: Sendable, Hashable {
    /// 127.0.0.0/8 or ::1 only.
    case loopback
    /// Any address, including the wildcard.
    case any
    /// Only these exact addresses (loopback always allowed too).
    case addresses([String])
}

/// Who may reach a declared listener.
public enum AllowedExposure: Sendable, Hashable {
    /// Only the host itself.
    case localOnly
    /// Only from these interfaces and/or source prefixes (an empty list means "no restriction on that axis").
    case restricted(interfaces: [String], sources: [CIDR])
    /// From anywhere.
    case `public`
}

/// The processes a declared listener is expected to belong to; every given field must match.
public struct OwnerRule: Sendable, Hashable {
    public var process: String?
    public var exe: String?
    public var unit: String?
    public var uid: UInt32?

    public init(process: String? = nil, exe: String? = nil, unit: String? = nil, uid: UInt32? = nil) {
        self.process = process
        self.exe = exe
        self.unit = unit
        self.uid = uid
    }
}

/// A listener the policy expects (and so allows) on the host.
public struct ExpectedListener: Sendable, Hashable {
    public var name: String?
    public var proto: L4Proto
    public var ports: PortRange
    public var bind: BindRule
    public var exposure: AllowedExposure
    public var owner: OwnerRule?
    /// The listener must exist: its absence is a finding.
    public var required: Bool
    public var location: SourceLocation
    /// A network namespace of this host (a `/run/netns` name), or the container or pod running in it (`web`,
    /// `shop/api-7f9c`); globs allowed. The entry then describes a port published to it, not a listener of the host.
    public var namespace: String?

    public init(
        name: String? = nil, proto: L4Proto, ports: PortRange, bind: BindRule = .any, exposure: AllowedExposure = .public,
        owner: OwnerRule? = nil, required: Bool = false, location: SourceLocation, namespace: String? = nil
    ) {
        self.name = name
        self.proto = proto
        self.ports = ports
        self.bind = bind
        self.exposure = exposure
        self.owner = owner
        self.required = required
        self.location = location
        self.namespace = namespace
    }

    /// `tcp/22` or `udp/6000-6063` (`tcp/5432 in web` for a namespace entry), for messages.
    public var label: String {
        let p = ports.first == ports.last ? "\(ports.first)" : "\(ports.first)-\(ports.last)"
        return "\(proto.rawValue)/\(p)\(namespace.map { " in \($0)" } ?? "")"
    }

    public func matches(proto: L4Proto, port: UInt16) -> Bool { self.proto == proto && ports.contains(port) }
}

/// Ports that must not be listening at all (beyond loopback).
public struct ForbiddenPorts: Sendable, Hashable {
    /// nil: both protocols.
    public var proto: L4Proto?
    public var ports: PortRange
    public var reason: String?
    public var location: SourceLocation

    public init(proto: L4Proto?, ports: PortRange, reason: String?, location: SourceLocation) {
        self.proto = proto
        self.ports = ports
        self.reason = reason
        self.location = location
    }
}

/// A per-check adjustment: another severity, or off.
public struct CheckOverride: Sendable, Hashable {
    public var severity: Severity?
    public var disabled: Bool
    public var location: SourceLocation
    /// Where the check's id or slug (the key) is written, for "no such check" errors.
    public var nameLocation: SourceLocation

    public init(severity: Severity? = nil, disabled: Bool = false, location: SourceLocation, nameLocation: SourceLocation? = nil) {
        self.severity = severity
        self.disabled = disabled
        self.location = location
        self.nameLocation = nameLocation ?? location
    }
}

/// A calendar date (no time zone games: a suppression expires at the start of `expires` in UTC).
public struct PolicyDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        year = y; month = m; day = d
    }

    public init(year: Int, month: Int, day: Int) {
        self.year = year; self.month = month; self.day = day
    }

    public static func < (a: PolicyDate, b: PolicyDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    public var description: String {
        func pad(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}

/// A waiver: findings it matches stay visible but marked suppressed, until `expires`.
public struct Suppression: Sendable, Hashable {
    /// Check id (`PW1001`) or slug.
    public var rule: String
    /// Only findings for this port (any protocol unless `proto`).
    public var port: UInt16?
    public var proto: L4Proto?
    /// Only the finding with this fingerprint.
    public var fingerprint: String?
    public var reason: String
    public var expires: PolicyDate?
    public var location: SourceLocation
    /// Where `rule:`'s value is written, for "no such check" errors.
    public var ruleLocation: SourceLocation

    public init(
        rule: String, port: UInt16? = nil, proto: L4Proto? = nil, fingerprint: String? = nil, reason: String,
        expires: PolicyDate? = nil, location: SourceLocation, ruleLocation: SourceLocation? = nil
    ) {
        self.rule = rule
        self.ruleLocation = ruleLocation ?? location
        self.port = port
        self.proto = proto
        self.fingerprint = fingerprint
        self.reason = reason
        self.expires = expires
        self.location = location
    }

    public func isExpired(on today: PolicyDate) -> Bool { expires.map { $0 <= today } ?? false }
}

/// A loaded policy with its includes resolved for one host.
public struct Policy: Sendable, Hashable {
    public static let supportedVersion = 1

    /// The file the policy came from (`<built-in default>` for the embedded one).
    public var source: String
    public var listeners: [ExpectedListener]
    public var forbidden: [ForbiddenPorts]
    /// Keyed by check id or slug, as written.
    public var checks: [String: CheckOverride]
    public var suppressions: [Suppression]
    /// Every file that contributed (the main one first), for reports.
    public var files: [String]
    /// Where the main file's top-level keys are (`listeners`, `forbidden`, …): findings about something missing from a
    /// section point there.
    public var sections: [String: SourceLocation]
    /// What the user should know about the policy itself (a `hosts:` selector that does not match this host).
    public var warnings: [String] = []

    public init(
        source: String, listeners: [ExpectedListener] = [], forbidden: [ForbiddenPorts] = [],
        checks: [String: CheckOverride] = [:], suppressions: [Suppression] = [], files: [String] = [],
        sections: [String: SourceLocation] = [:]
    ) {
        self.source = source
        self.listeners = listeners
        self.forbidden = forbidden
        self.checks = checks
        self.suppressions = suppressions
        self.files = files.isEmpty ? [source] : files
        self.sections = sections
    }

    /// The declarations that cover `proto`/`port`.
    /// The host's own listener entries for a port (entries that select a namespace are not among them).
    public func declarations(proto: L4Proto, port: UInt16) -> [ExpectedListener] {
        listeners.filter { $0.namespace == nil && $0.matches(proto: proto, port: port) }
    }

    /// Entries for a port published to a namespace known by any of `names` (its name, container, pod).
    public func declarations(proto: L4Proto, port: UInt16, namespaceNames names: [String]) -> [ExpectedListener] {
        listeners.filter { d in
            guard let sel = d.namespace, d.matches(proto: proto, port: port) else { return false }
            return names.contains { globMatch(sel, $0) }
        }
    }

    /// The override for a check, looked up by id first, then slug.
    public func override(id: String, slug: String) -> CheckOverride? { checks[id] ?? checks[slug] }
}

/// Whether `name` matches a shell-style glob (`*`, `?`), as host selectors use.
public func globMatch(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
    var pi = 0, si = 0, star = -1, mark = 0
    while si < s.count {
        if pi < p.count, p[pi] == "?" || p[pi] == s[si] {
            pi += 1; si += 1
        } else if pi < p.count, p[pi] == "*" {
            star = pi; mark = si; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; si = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}
