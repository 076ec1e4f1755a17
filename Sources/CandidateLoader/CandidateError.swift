/// Why a candidate ruleset could not be evaluated. The two kinds are the two exit codes a user acts on differently:
/// the file is wrong (fix the pull request) or this machine cannot load it (run as root, install nft).
public struct CandidateError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file (or one of its includes) is refused or does not load: exit 2.
        case invalidInput
        /// No private namespace, no nft, or the loader failed: exit 3.
        case hostUnreadable
    }

    public var kind: Kind
    public var message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The loader child's exit status for each kind (the parent reads it back; the same numbers as the CLI's).
    public var childStatus: Int32 { kind == .invalidInput ? Self.invalidInputStatus : Self.hostUnreadableStatus }
    static let invalidInputStatus: Int32 = 2
    static let hostUnreadableStatus: Int32 = 3
}
