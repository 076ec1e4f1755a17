/// Why a policy cannot be used. Every case carries the place to fix, printed as `file:line:column: …` (exit 2).
public enum PolicyError: Error, Equatable, CustomStringConvertible {
    /// A value is missing, of the wrong type, unknown, out of range or contradicts another entry.
    case invalid(at: SourceLocation, expected: String)
    /// The text is not well-formed YAML.
    case syntax(at: SourceLocation, problem: String)
    /// The file (or an included one) cannot be read at all.
    case unreadable(file: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let at, let expected): "\(at): expected \(expected)"
        case .syntax(let at, let problem): "\(at): invalid YAML: \(problem)"
        case .unreadable(let file, let reason): "\(file):1:1: cannot read the policy: \(reason)"
        }
    }

    /// The location the error points at.
    public var location: SourceLocation {
        switch self {
        case .invalid(let at, _), .syntax(let at, _): at
        case .unreadable(let file, _): SourceLocation(file: file, line: 1, column: 1)
        }
    }
}
