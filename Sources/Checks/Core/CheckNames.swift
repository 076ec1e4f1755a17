import Policy

/// The names a policy may use for a check (`PW1006` or `sensitive-service-exposed`), and the strict test that every
/// name in a policy's `checks:` and `suppressions:` exists: a misspelt id would otherwise disable or waive nothing,
/// silently.
public enum CheckNames {
    /// Refuses a policy that names a check the catalog does not have, at the name's `file:line:column` (the first one
    /// in file order), suggesting the nearest valid id or slug.
    public static func validate(_ policy: Policy, checks: [any Check.Type] = builtInChecks) throws(PolicyError) {
        var unknown: [(name: String, at: SourceLocation)] = []
        for (name, o) in policy.checks where !exists(name, in: checks) { unknown.append((name, o.nameLocation)) }
        for s in policy.suppressions where !exists(s.rule, in: checks) { unknown.append((s.rule, s.ruleLocation)) }
        guard let first = unknown.min(by: { precedes($0.at, $1.at) }) else { return }
        throw .invalid(
            at: first.at,
            expected: "a check id or slug (see `portwarden rules`), found unknown check '\(first.name)'\(suggestion(first.name, checks: checks))")
    }

    /// `; did you mean 'PW1006'?` for the nearest id or slug, or nothing when the catalog is empty.
    public static func suggestion(_ name: String, checks: [any Check.Type] = builtInChecks) -> String {
        nearest(name, checks: checks).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// The id or slug with the smallest edit distance to `name` (ignoring case); the catalog's order breaks ties.
    public static func nearest(_ name: String, checks: [any Check.Type] = builtInChecks) -> String? {
        let target = Array(name.lowercased().unicodeScalars)
        var best: (name: String, distance: Int)?
        for check in checks {
            let m = check.metadata
            for candidate in [m.id, m.slug] {
                let d = editDistance(target, Array(candidate.lowercased().unicodeScalars))
                if let b = best, b.distance <= d { continue }
                best = (candidate, d)
            }
        }
        return best?.name
    }

    static func exists(_ name: String, in checks: [any Check.Type]) -> Bool {
        checks.contains { $0.metadata.id == name || $0.metadata.slug == name }
    }

    static func precedes(_ a: SourceLocation, _ b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// Levenshtein distance: insertions, deletions and substitutions each cost 1 (two rows, O(|a|·|b|) time).
func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
