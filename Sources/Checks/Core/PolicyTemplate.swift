import HostModel
import Evaluator
import Policy

/// `portwarden policy init`: a commented policy that describes the host as it is, for a person to review and commit.
/// Auditing the same host against it reports nothing unsuppressed: every listener is declared with its current bind,
/// exposure and owner, and host facts that would still be reported become suppressions that ask for review.
public enum PolicyTemplate {
    public static func describe(snapshot: Snapshot, reaches: [ListenerReach], today: PolicyDate) -> String {
        var groups: [String: [ListenerReach]] = [:]
        var order: [String] = []
        for r in reaches.sorted(by: { ($0.listener.proto, $0.listener.port) < ($1.listener.proto, $1.listener.port) }) {
            let k = "\(r.listener.proto.rawValue)/\(r.listener.port)"
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        var y = """
            # portwarden policy for \(snapshot.host.hostname), written by `portwarden policy init` on \(today) from what the
            # host showed then (collected \(snapshot.host.collectedAt)). Review every entry before committing it:
            # narrow `exposure` and `bind` to what each service needs, mark services that must run with `required: true`,
            # and fix what the suppressions at the end waive instead of keeping them.
            version: 1

            """
        let publishedEntries = published(PathFacts.of(snapshot).published.map(\.port))
        y += order.isEmpty && publishedEntries.isEmpty ? "listeners: []\n" : "listeners:\n"
        for k in order {
            guard let g = groups[k], let first = g.first else { continue }
            let l = first.listener
            for r in g {
                // Escaped: a process renamed to contain a newline must not add lines to the policy.
                y += "  # seen: \(TerminalText.escape(Checks.describe(r.listener))), \(PolicyTemplate.reachText(r))\n"
            }
            let names = unique(g.flatMap { $0.listener.processes.map(\.name) })
            if !names.isEmpty { y += "  - name: \(quote(names.joined(separator: ", ")))\n" } else { y += "  - name: \(quote(k))\n" }
            y += "    proto: \(l.proto.rawValue)\n    port: \(l.port)\n"
            let scopes = Set(g.map { $0.listener.bindScope })
            if scopes == [.loopback] {
                y += "    bind: loopback\n"
            } else if !scopes.contains(.wildcard) {
                y +=
                    "    bind: [\(unique(g.map { IPAddress($0.listener.address)?.description ?? $0.listener.address }).map(quote).joined(separator: ", "))]\n"
            } else {
                y += "    bind: any\n"
            }
            if scopes != [.loopback] { y += "    exposure: \(exposure(g))\n" }
            if let owner = owner(g) { y += "    owner: \(owner)\n" }
            y += "    # required: true\n"
        }
        y += publishedEntries
        return y
    }

    /// Entries for the ports published to containers and pods of this host (`namespace:` selects the receiver by
    /// its container, pod or netns name), with the exposure they have now.
    static func published(_ ports: [ForwardedPort]) -> String {
        var y = ""
        for f in ports where f.listener != nil {
            guard let selector = f.namespaceNames.first else { continue }
            if y.isEmpty && !ports.isEmpty {
                y += "  # Published through DNAT to containers and pods: reached through the forward hook, not input.\n"
            }
            y +=
                "  # seen: \(f.text), \(f.summary.rawValue) on \(f.interfaceScope.text) from \(f.sources.prefix(6).joined(separator: ", "))\(f.sources.count > 6 ? ", …" : "")\n"
            y += "  - name: \(quote(selector))\n    proto: \(f.proto.rawValue)\n    port: \(f.port)\n    namespace: \(quote(selector))\n"
            let cidrs = f.summary == .restricted ? prefixes(IPFamily.allCases.map { f.remoteSources($0) }) : nil
            y += "    exposure: \(cidrs.map { $0.isEmpty ? "public" : "{sources: [\($0.map(quote).joined(separator: ", "))]}" } ?? "public")\n"
        }
        return y
    }

    /// Appends suppressions for findings that remain when auditing with `policyText` (all of them host facts or rules).
    public static func withSuppressions(_ policyText: String, findings: [Finding], today: PolicyDate) -> String {
        let open = findings.filter { !$0.isSuppressed }
        guard !open.isEmpty else { return policyText }
        var y =
            policyText
            + "\n# Reported when this policy was written. Fix them and delete the entries, or keep them with a real reason.\nsuppressions:\n"
        for f in open {
            y += "  # \(f.message.replacingOccurrences(of: "\n", with: " "))\n"
            y += "  - rule: \(f.ruleId)\n    fingerprint: \(quote(f.fingerprint))\n"
            y += "    reason: \(quote("present when `portwarden policy init` ran on \(today); review"))\n"
        }
        return y
    }

    /// The sets as CIDR prefixes, each once; nil beyond `maxPrefixes` (a deny list's complement), where a policy
    /// line listing them would be neither readable nor under the policy size limit: the entry says `public` then.
    static func prefixes(_ sets: [AddressSet]) -> [String]? {
        var out: [String] = []
        for set in sets {
            for r in set.ranges {
                out += AddressRange(family: set.family, low: r.lowerBound, high: r.upperBound).cidrs
                if out.count > maxPrefixes { return nil }
            }
        }
        return unique(out)
    }

    static let maxPrefixes = 256

    static func reachText(_ r: ListenerReach) -> String {
        switch r.summary {
        case .public, .restricted, .conditional:
            let ifs = r.interfaces.isEmpty ? "" : " on \(r.interfaceScope.text)"
            let src = r.sources.isEmpty ? "" : " from \(r.sources.prefix(6).joined(separator: ", "))\(r.sources.count > 6 ? ", …" : "")"
            return "\(r.summary.rawValue)\(ifs)\(src)"
        case .localOnly: return "local only"
        case .blocked: return "blocked"
        }
    }

    static func exposure(_ g: [ListenerReach]) -> String {
        if g.contains(where: { $0.summary == .public || $0.summary == .conditional }) { return "public" }
        let remote = g.filter { $0.summary == .restricted }
        if remote.isEmpty { return "local-only" }
        guard let cidrs = prefixes(remote.flatMap(\.sourceSets)) else { return "public" }
        // The stand-in for interfaces that do not exist yet means the firewall does not restrict by interface.
        let all = unique(remote.flatMap(\.interfaces))
        let ifaces = all.contains(where: isPlaceholderInterface) ? [] : all
        var parts: [String] = []
        if !ifaces.isEmpty { parts.append("interfaces: [\(ifaces.map(quote).joined(separator: ", "))]") }
        if !cidrs.isEmpty { parts.append("sources: [\(cidrs.map(quote).joined(separator: ", "))]") }
        return parts.isEmpty ? "local-only" : "{\(parts.joined(separator: ", "))}"
    }

    static func owner(_ g: [ListenerReach]) -> String? {
        let ls = g.map(\.listener)
        guard ls.allSatisfy({ $0.owner == .known && !$0.processes.isEmpty }) else { return nil }
        var parts: [String] = []
        let names = ls.map { Set($0.processes.map(\.name)) }
        if let common = names.dropFirst().reduce(names.first ?? [], { $0.intersection($1) }).sorted().first {
            parts.append("process: \(quote(common))")
        }
        let uids = Set(ls.map(\.uid))
        if uids.count == 1, let u = uids.first { parts.append("user: \(u == 0 ? "root" : String(u))") }
        return parts.isEmpty ? nil : "{\(parts.joined(separator: ", "))}"
    }

    static func unique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }

    /// A double-quoted YAML scalar.
    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                // YAML's `\x` takes exactly two hex digits; C1 controls are not printable YAML either.
                if ch.value < 0x20 || (0x7F...0x9F).contains(ch.value) {
                    let hex = String(ch.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" : "") + hex
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }
}

extension PolicyTemplate {
    /// The complete `policy init` text: listeners, then suppressions for what an audit with them would still report.
    /// Throws only if the generated text does not load (a bug, reported rather than written out).
    public static func policy(
        snapshot: Snapshot, reaches: [ListenerReach], today: PolicyDate,
        file: String = "portwarden-policy.yaml"
    ) throws(PolicyError) -> String {
        let base = describe(snapshot: snapshot, reaches: reaches, today: today)
        let policy = try PolicyLoader.parse(base, file: file)
        let result = Auditor.run(AuditContext(snapshot: snapshot, reaches: reaches, policy: policy, today: today))
        let full = withSuppressions(base, findings: result.findings, today: today)
        _ = try PolicyLoader.parse(full, file: file)
        return full
    }
}
