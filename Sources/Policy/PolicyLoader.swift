import Foundation
import HostModel
import Yams

/// Reads policy files: YAML (via Yams) → `Policy`, with every error pointing at `file:line:column`.
///
/// The loader is strict on purpose: an unknown key or a wrong type is an error (exit 2), never a silent default, because a
/// typo in an audit policy would otherwise widen what the audit lets through.
public enum PolicyLoader {
    /// Larger files are refused before parsing (a policy is a few kilobytes).
    public static let maxFileBytes = 1 << 20
    /// Deeper nesting is refused before parsing (the YAML composer recurses).
    public static let maxNesting = 64
    /// Include chains longer than this are refused (and cycles are caught earlier).
    public static let maxIncludeDepth = 16

    /// Loads `path` and its includes for the host named `hostname` (include selectors are matched against it).
    /// Includes must stay inside `path`'s directory tree or one of `allowInclude` (symlinks resolved): a policy from a
    /// pull request must not read, and echo in an error, other files of the host.
    public static func load(path: String, hostname: String?, allowInclude: [String] = []) throws(PolicyError) -> Policy {
        let text = try readText(path)
        var state = LoadState(hostname: hostname, scope: IncludeScope(mainFile: path, allowed: allowInclude))
        let part = try parseFile(text, file: path, state: &state, depth: 0, isMain: true)
        var policy = Policy(
            source: path, listeners: part.listeners, forbidden: part.forbidden, checks: part.checks,
            suppressions: part.suppressions, files: state.files, sections: state.sections)
        policy.warnings = state.warnings
        try validate(policy)
        return policy
    }

    /// Parses policy text that has no includes to resolve relative to a directory (tests, the built-in default).
    /// Includes in `text` are resolved relative to the current directory.
    public static func parse(_ text: String, file: String, hostname: String? = nil) throws(PolicyError) -> Policy {
        var state = LoadState(hostname: hostname, scope: IncludeScope(mainFile: file))
        state.files = []
        let part = try parseFile(text, file: file, state: &state, depth: 0, isMain: true)
        var policy = Policy(
            source: file, listeners: part.listeners, forbidden: part.forbidden, checks: part.checks,
            suppressions: part.suppressions, files: state.files, sections: state.sections)
        policy.warnings = state.warnings
        try validate(policy)
        return policy
    }

    /// The embedded default policy (`policies/default.yaml`).
    public static func builtInDefault() throws(PolicyError) -> Policy {
        try parse(DefaultPolicy.text, file: DefaultPolicy.name)
    }

    // MARK: - Files

    struct LoadState {
        var hostname: String?
        var scope: IncludeScope
        var files: [String] = []
        var stack: [String] = []
        var sections: [String: SourceLocation] = [:]
        var warnings: [String] = []
    }

    struct Part {
        var listeners: [ExpectedListener] = []
        var forbidden: [ForbiddenPorts] = []
        var checks: [String: CheckOverride] = [:]
        var suppressions: [Suppression] = []

        mutating func merge(_ other: Part) {
            listeners += other.listeners
            forbidden += other.forbidden
            for (k, v) in other.checks where checks[k] == nil { checks[k] = v }
            suppressions += other.suppressions
        }
    }

    static func readText(_ path: String) throws(PolicyError) -> String {
        let data: Data
        do {
            data = try BoundedFile.read(path, limit: maxFileBytes)
        } catch {
            if case .tooLarge(let bytes, _) = error {
                throw .unreadable(file: path, reason: "the file is \(bytes) bytes; a policy may have at most \(maxFileBytes)")
            }
            throw .unreadable(file: path, reason: error.description)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .invalid(at: SourceLocation(file: path, line: 1, column: 1), expected: "UTF-8 text (the file is not valid UTF-8)")
        }
        return text
    }

    static func parseFile(_ text: String, file: String, state: inout LoadState, depth: Int, isMain: Bool) throws(PolicyError) -> Part {
        state.files.append(file)
        // Windows editors start UTF-8 files with a byte-order mark; YAML allows it, the composer does not.
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text = String(text.unicodeScalars.dropFirst()) }
        guard text.utf8.count <= maxFileBytes else {
            throw .unreadable(file: file, reason: "a policy may have at most \(maxFileBytes) bytes")
        }
        let root = try composeRoot(text, file: file)
        let r = NodeReader(file: file)
        let top = try r.mapping(
            root, allowed: ["version", "hosts", "include", "listeners", "forbidden", "checks", "suppressions"],
            what: "the policy")
        if isMain { for (k, e) in top { state.sections[k] = e.keyLocation } }
        guard let v = top["version"] else {
            throw .invalid(at: r.loc(root), expected: "a `version: 1` key")
        }
        let version = try r.int(v.value, what: "version")
        guard version == Policy.supportedVersion else {
            throw .invalid(
                at: r.loc(v.value),
                expected: "version \(Policy.supportedVersion) (this portwarden reads policy version \(Policy.supportedVersion) only)")
        }
        if let hosts = top["hosts"] {
            let globs = try r.stringList(hosts.value, what: "hosts (hostname globs)")
            if let name = state.hostname, !globs.contains(where: { globMatch($0, name) }) {
                if isMain {
                    // Named on the command line, so applied; the mismatch is said, not an error (a valid file).
                    state.warnings.append(
                        "\(r.loc(hosts.value)): the policy's hosts: (\(globs.joined(separator: ", "))) does not match this host '\(name)'; applied anyway because it was named with --policy"
                    )
                } else {
                    return Part()
                }
            }
        }
        let part = try includes(top["include"], r, file: file, state: &state, depth: depth)
        var own = try ownEntries(top, r)
        // The including file's own entries win over included ones for check settings.
        own.merge(part)
        return own
    }

    /// The YAML document of one policy file (nesting checked first: a deeply nested file must not reach the parser).
    static func composeRoot(_ text: String, file: String) throws(PolicyError) -> Node {
        try checkNesting(text, file: file)
        do {
            guard let r = try Yams.compose(yaml: text) else {
                throw PolicyError.invalid(at: SourceLocation(file: file, line: 1, column: 1), expected: "a policy document (found an empty file)")
            }
            return r
        } catch let e as PolicyError {
            throw e
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        } catch {
            throw .syntax(at: SourceLocation(file: file, line: 1, column: 1), problem: "\(error)")
        }
    }

    /// The parts of the files an `include:` list names (for this host), each confined to the policy's tree.
    static func includes(
        _ inc: NodeReader.Entry?, _ r: NodeReader, file: String, state: inout LoadState, depth: Int
    ) throws(PolicyError) -> Part {
        var part = Part()
        if let inc {
            for item in try r.sequence(inc.value, what: "include (a list of files)") {
                let (rel, hosts) = try includeEntry(item, r)
                if let hosts, let name = state.hostname, !hosts.contains(where: { globMatch($0, name) }) { continue }
                let path = resolve(rel, from: file)
                guard state.scope.contains(path) else {
                    throw .invalid(
                        at: r.loc(item),
                        expected: "an include inside the policy's directory tree (\(rel) is outside it; \(IncludeScope.widening) widens it)")
                }
                guard depth + 1 <= maxIncludeDepth else {
                    throw .invalid(at: r.loc(item), expected: "at most \(maxIncludeDepth) levels of include")
                }
                guard !state.stack.contains(path), path != file else {
                    throw .invalid(at: r.loc(item), expected: "no include cycle (\(rel) includes this file again)")
                }
                let sub: String
                do {
                    sub = try readText(path)
                } catch {
                    if case .unreadable(_, let reason) = error {
                        throw .invalid(at: r.loc(item), expected: "an includable policy file: \(path): \(reason)")
                    }
                    throw error
                }
                state.stack.append(file)
                let included = try parseFile(sub, file: path, state: &state, depth: depth + 1, isMain: false)
                state.stack.removeLast()
                part.merge(included)
            }
        }
        return part
    }

    /// The file's own listeners, forbidden ports, check settings and suppressions.
    static func ownEntries(_ top: [String: NodeReader.Entry], _ r: NodeReader) throws(PolicyError) -> Part {
        var own = Part()
        if let l = top["listeners"] {
            for item in try r.sequence(l.value, what: "listeners (a list)") { own.listeners.append(try listener(item, r)) }
        }
        if let f = top["forbidden"] {
            for item in try r.sequence(f.value, what: "forbidden (a list)") { own.forbidden.append(try forbidden(item, r)) }
        }
        if let c = top["checks"] {
            let m = try r.mapping(c.value, allowed: nil, what: "checks (a map from check id or slug to settings)")
            for (key, entry) in m.sorted(by: { $0.value.keyLine < $1.value.keyLine }) {
                guard isCheckKey(key) else {
                    throw .invalid(at: entry.keyLocation, expected: "a check id such as PW1001 or a slug such as undeclared-listener, found '\(key)'")
                }
                var o = try checkOverride(entry.value, r)
                o.nameLocation = entry.keyLocation
                own.checks[key] = o
            }
        }
        if let s = top["suppressions"] {
            for item in try r.sequence(s.value, what: "suppressions (a list)") { own.suppressions.append(try suppression(item, r)) }
        }
        return own
    }

    static func isCheckKey(_ key: String) -> Bool {
        !key.isEmpty
            && key.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func resolve(_ rel: String, from file: String) -> String {
        if rel.hasPrefix("/") { return rel }
        let dir = (file as NSString).deletingLastPathComponent
        return dir.isEmpty ? rel : (dir as NSString).appendingPathComponent(rel)
    }

    /// Refuses input whose nesting would make the recursive composer dive too deep (flow brackets or block indentation).
    static func checkNesting(_ text: String, file: String) throws(PolicyError) {
        var depth = 0
        var line = 1, col = 0
        var quote: UInt8? = nil
        var atLineStart = true
        var blockDepth = 0
        var comment = false
        for c in text.utf8 {
            col += 1
            if c == 10 { line += 1; col = 0; atLineStart = true; blockDepth = 0; comment = false; continue }
            if comment { continue }
            if let q = quote { if c == q { quote = nil }; continue }
            if atLineStart {
                if c == 32 || c == 45 || c == 9 { blockDepth += 1 } else { atLineStart = false }
                if blockDepth > maxNesting * 4 {
                    throw .invalid(at: SourceLocation(file: file, line: line, column: col), expected: "at most \(maxNesting) levels of nesting")
                }
            }
            switch c {
            case UInt8(ascii: "#"): comment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = c
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxNesting {
                    throw .invalid(at: SourceLocation(file: file, line: line, column: col), expected: "at most \(maxNesting) levels of nesting")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
    }

    static func yamlError(_ e: YamlError, file: String) -> PolicyError {
        switch e {
        case .scanner(let ctx, let problem, let mark, _), .parser(let ctx, let problem, let mark, _), .composer(let ctx, let problem, let mark, _):
            let c = ctx.map { " (\($0.text))" } ?? ""
            return .syntax(at: SourceLocation(file: file, line: mark.line, column: mark.column), problem: problem + c)
        case .reader(let problem, _, _, _):
            return .syntax(at: SourceLocation(file: file, line: 1, column: 1), problem: problem)
        default:
            return .syntax(at: SourceLocation(file: file, line: 1, column: 1), problem: "\(e)")
        }
    }

    // MARK: - Entries

    static func includeEntry(_ n: Node, _ r: NodeReader) throws(PolicyError) -> (String, [String]?) {
        if n.scalar != nil { return (try r.string(n, what: "an included file path"), nil) }
        let m = try r.mapping(n, allowed: ["file", "hosts"], what: "an include entry (a path, or {file, hosts})")
        guard let f = m["file"] else { throw .invalid(at: r.loc(n), expected: "a `file` key in the include entry") }
        let hosts = try m["hosts"].map { (e) throws(PolicyError) in try r.stringList(e.value, what: "hosts (hostname globs)") }
        return (try r.string(f.value, what: "an included file path"), hosts)
    }

    static func proto(_ n: Node, _ r: NodeReader) throws(PolicyError) -> L4Proto {
        let s = try r.string(n, what: "proto (tcp or udp)")
        guard let p = L4Proto(rawValue: s) else { throw .invalid(at: r.loc(n), expected: "proto: tcp or udp, found '\(s)'") }
        return p
    }

    static func ports(_ n: Node, _ r: NodeReader) throws(PolicyError) -> PortRange {
        let text = try r.string(n, what: "a port (1-65535) or a range such as 6000-6063")
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let nums = parts.compactMap { UInt16($0) }
        guard nums.count == parts.count, (1...2).contains(nums.count), let first = nums.first, let last = nums.last,
            first >= 1, first <= last
        else {
            throw .invalid(at: r.loc(n), expected: "a port (1-65535) or a range such as 6000-6063, found '\(text)'")
        }
        return PortRange(first: first, last: last)
    }

    static func listener(_ n: Node, _ r: NodeReader) throws(PolicyError) -> ExpectedListener {
        let m = try r.mapping(n, allowed: ["name", "proto", "port", "bind", "exposure", "owner", "required", "namespace"], what: "a listener entry")
        guard let p = m["proto"] else { throw .invalid(at: r.loc(n), expected: "a `proto` key (tcp or udp) in the listener entry") }
        guard let port = m["port"] else { throw .invalid(at: r.loc(n), expected: "a `port` key (a port or a range) in the listener entry") }
        var l = ExpectedListener(proto: try proto(p.value, r), ports: try ports(port.value, r), location: r.loc(n))
        if let name = m["name"] { l.name = try r.string(name.value, what: "name") }
        if let b = m["bind"] { l.bind = try bind(b.value, r) }
        if let e = m["exposure"] { l.exposure = try exposure(e.value, r) }
        if let o = m["owner"] { l.owner = try owner(o.value, r) }
        if let q = m["required"] { l.required = try r.bool(q.value, what: "required (true or false)") }
        if let ns = m["namespace"] { l.namespace = try r.string(ns.value, what: "namespace (a netns, container or pod name)") }
        if l.bind == .loopback, l.exposure != .localOnly, m["exposure"] != nil {
            throw .invalid(
                at: r.loc(m["exposure"]?.value ?? n),
                expected: "exposure: local-only for a listener bound to loopback (a loopback bind cannot be reached from elsewhere)")
        }
        if l.bind == .loopback, m["exposure"] == nil { l.exposure = .localOnly }
        return l
    }

    static func bind(_ n: Node, _ r: NodeReader) throws(PolicyError) -> BindRule {
        if n.scalar != nil {
            let s = try r.string(n, what: "bind")
            switch s {
            case "loopback": return .loopback
            case "any": return .any
            default:
                guard IPAddress(s) != nil else {
                    throw .invalid(at: r.loc(n), expected: "bind: loopback, any, or a list of IP addresses, found '\(s)'")
                }
                return .addresses([s])
            }
        }
        let list = try r.stringList(n, what: "bind: loopback, any, or a list of IP addresses")
        for (i, a) in list.enumerated() where IPAddress(a) == nil {
            throw .invalid(at: r.loc(n.sequence.map { Array($0)[i] } ?? n), expected: "an IP address in bind, found '\(a)'")
        }
        guard !list.isEmpty else { throw .invalid(at: r.loc(n), expected: "at least one address in bind") }
        return .addresses(list.map { IPAddress($0)?.description ?? $0 })
    }

    static func exposure(_ n: Node, _ r: NodeReader) throws(PolicyError) -> AllowedExposure {
        if n.scalar != nil {
            let s = try r.string(n, what: "exposure")
            switch s {
            case "local-only": return .localOnly
            case "public": return .public
            default: throw .invalid(at: r.loc(n), expected: "exposure: local-only, public, or {interfaces: [...], sources: [...]}, found '\(s)'")
            }
        }
        let m = try r.mapping(n, allowed: ["interfaces", "sources"], what: "exposure: local-only, public, or {interfaces, sources}")
        var ifaces: [String] = [], sources: [CIDR] = []
        if let i = m["interfaces"] { ifaces = try r.stringList(i.value, what: "interfaces (a list of interface names)") }
        if let s = m["sources"] {
            guard let seq = s.value.sequence else { throw .invalid(at: r.loc(s.value), expected: "sources: a list of CIDR prefixes") }
            for item in seq {
                let text = try r.string(item, what: "a CIDR prefix such as 10.0.0.0/8")
                guard let c = CIDR(text) else {
                    throw .invalid(at: r.loc(item), expected: "a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32, found '\(text)'")
                }
                sources.append(c)
            }
        }
        guard !ifaces.isEmpty || !sources.isEmpty else {
            throw .invalid(at: r.loc(n), expected: "at least one of interfaces or sources (or use local-only / public)")
        }
        return .restricted(interfaces: ifaces, sources: sources)
    }

    static func owner(_ n: Node, _ r: NodeReader) throws(PolicyError) -> OwnerRule {
        let m = try r.mapping(n, allowed: ["process", "exe", "unit", "user"], what: "an owner (process, exe, unit, user)")
        var o = OwnerRule()
        if let v = m["process"] { o.process = try r.string(v.value, what: "process (a process name)") }
        if let v = m["exe"] { o.exe = try r.string(v.value, what: "exe (an executable path)") }
        if let v = m["unit"] { o.unit = try r.string(v.value, what: "unit (a systemd unit)") }
        if let v = m["user"] {
            let s = try r.string(v.value, what: "user (a numeric uid or root)")
            if s == "root" {
                o.uid = 0
            } else if let u = UInt32(s) {
                o.uid = u
            } else {
                throw .invalid(at: r.loc(v.value), expected: "user: a numeric uid or root (snapshots record uids, not names), found '\(s)'")
            }
        }
        guard o.process != nil || o.exe != nil || o.unit != nil || o.uid != nil else {
            throw .invalid(at: r.loc(n), expected: "at least one of process, exe, unit, user")
        }
        return o
    }

    static func forbidden(_ n: Node, _ r: NodeReader) throws(PolicyError) -> ForbiddenPorts {
        let m = try r.mapping(n, allowed: ["proto", "port", "reason"], what: "a forbidden entry (proto, port, reason)")
        guard let port = m["port"] else { throw .invalid(at: r.loc(n), expected: "a `port` key in the forbidden entry") }
        let p = try m["proto"].map { (e) throws(PolicyError) in try proto(e.value, r) }
        let reason = try m["reason"].map { (e) throws(PolicyError) in try r.string(e.value, what: "reason") }
        return ForbiddenPorts(proto: p, ports: try ports(port.value, r), reason: reason, location: r.loc(n))
    }

    static func checkOverride(_ n: Node, _ r: NodeReader) throws(PolicyError) -> CheckOverride {
        let m = try r.mapping(n, allowed: ["severity", "disabled"], what: "check settings (severity, disabled)")
        var o = CheckOverride(location: r.loc(n))
        if let s = m["severity"] {
            let text = try r.string(s.value, what: "severity")
            guard let sev = Severity(rawValue: text) else {
                throw .invalid(
                    at: r.loc(s.value), expected: "severity: one of \(Severity.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'")
            }
            o.severity = sev
        }
        if let d = m["disabled"] { o.disabled = try r.bool(d.value, what: "disabled (true or false)") }
        return o
    }

    static func suppression(_ n: Node, _ r: NodeReader) throws(PolicyError) -> Suppression {
        let m = try r.mapping(n, allowed: ["rule", "port", "proto", "fingerprint", "reason", "expires"], what: "a suppression (rule, reason, …)")
        guard let rule = m["rule"] else { throw .invalid(at: r.loc(n), expected: "a `rule` key (check id or slug) in the suppression") }
        guard let reason = m["reason"] else { throw .invalid(at: r.loc(n), expected: "a `reason` key: every suppression must say why") }
        let reasonText = try r.string(reason.value, what: "reason")
        guard !reasonText.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalid(at: r.loc(reason.value), expected: "a non-empty reason")
        }
        let ruleText = try r.string(rule.value, what: "rule (a check id or slug)")
        guard isCheckKey(ruleText) else { throw .invalid(at: r.loc(rule.value), expected: "a check id or slug, found '\(ruleText)'") }
        var s = Suppression(rule: ruleText, reason: reasonText, location: r.loc(n), ruleLocation: r.loc(rule.value))
        if let p = m["port"] {
            let pr = try ports(p.value, r)
            guard pr.first == pr.last else { throw .invalid(at: r.loc(p.value), expected: "a single port in a suppression") }
            s.port = pr.first
        }
        if let p = m["proto"] { s.proto = try proto(p.value, r) }
        if let f = m["fingerprint"] { s.fingerprint = try r.string(f.value, what: "fingerprint") }
        if let e = m["expires"] {
            let text = try r.string(e.value, what: "expires (a date YYYY-MM-DD)")
            guard let d = PolicyDate(text) else { throw .invalid(at: r.loc(e.value), expected: "expires: a date YYYY-MM-DD, found '\(text)'") }
            s.expires = d
        }
        return s
    }

    // MARK: - Whole-policy validation

    static func validate(_ p: Policy) throws(PolicyError) {
        for (i, a) in p.listeners.enumerated() {
            for b in p.listeners[(i + 1)...] where a.proto == b.proto && overlaps(a.ports, b.ports) {
                throw .invalid(at: b.location, expected: "one declaration per port: \(b.label) overlaps \(a.label) declared at \(a.location)")
            }
            for f in p.forbidden where (f.proto == nil || f.proto == a.proto) && overlaps(f.ports, a.ports) {
                throw .invalid(at: f.location, expected: "no contradiction: this forbids \(a.label), which is declared as expected at \(a.location)")
            }
        }
    }

    static func overlaps(_ a: PortRange, _ b: PortRange) -> Bool { a.first <= b.last && b.first <= a.last }
}

/// Typed access to a composed YAML tree, turning every mismatch into a located `PolicyError`.
struct NodeReader {
    let file: String

    struct Entry {
        var value: Node
        var keyLocation: SourceLocation
        var keyLine: Int { keyLocation.line }
    }

    func loc(_ n: Node) -> SourceLocation {
        let m = n.mark
        return SourceLocation(file: file, line: m?.line ?? 1, column: m?.column ?? 1)
    }

    func kind(_ n: Node) -> String {
        switch n {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    /// A mapping with string keys; unknown keys (when `allowed` is given) and duplicate keys are errors.
    func mapping(_ n: Node, allowed: Set<String>?, what: String) throws(PolicyError) -> [String: Entry] {
        guard let m = n.mapping else { throw .invalid(at: loc(n), expected: "\(what): a mapping, found \(kind(n))") }
        var out: [String: Entry] = [:]
        for (k, v) in m {
            guard let key = k.scalar?.string else { throw .invalid(at: loc(k), expected: "a plain key in \(what)") }
            if let allowed, !allowed.contains(key) {
                throw .invalid(
                    at: loc(k), expected: "one of the keys \(allowed.sorted().joined(separator: ", ")) in \(what), found unknown key '\(key)'")
            }
            if let prior = out[key] {
                throw .invalid(at: loc(k), expected: "each key once in \(what): '\(key)' is already set at line \(prior.keyLine)")
            }
            out[key] = Entry(value: v, keyLocation: loc(k))
        }
        return out
    }

    func sequence(_ n: Node, what: String) throws(PolicyError) -> [Node] {
        guard let s = n.sequence else { throw .invalid(at: loc(n), expected: "\(what): a list, found \(kind(n))") }
        return Array(s)
    }

    func string(_ n: Node, what: String) throws(PolicyError) -> String {
        guard let s = n.scalar else { throw .invalid(at: loc(n), expected: "\(what): a scalar, found \(kind(n))") }
        if s.tag.description == "tag:yaml.org,2002:null" || (s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)) {
            throw .invalid(at: loc(n), expected: "\(what): a value, found null")
        }
        return s.string
    }

    func int(_ n: Node, what: String) throws(PolicyError) -> Int {
        let s = try string(n, what: what)
        guard let v = Int(s) else { throw .invalid(at: loc(n), expected: "\(what): an integer, found '\(s)'") }
        return v
    }

    func bool(_ n: Node, what: String) throws(PolicyError) -> Bool {
        let s = try string(n, what: what)
        switch s {
        case "true", "True", "TRUE", "yes": return true
        case "false", "False", "FALSE", "no": return false
        default: throw .invalid(at: loc(n), expected: "\(what), found '\(s)'")
        }
    }

    func stringList(_ n: Node, what: String) throws(PolicyError) -> [String] {
        var out: [String] = []
        for item in try sequence(n, what: what) { out.append(try string(item, what: what)) }
        return out
    }
}
