import ArgumentParser

/// An enum option whose values are accepted in any case (`--format JSON`, `--fail-on High`): shells and CI
/// files are written by people, and the values are never case-significant.
protocol CaseInsensitiveArgument: ExpressibleByArgument, CaseIterable, RawRepresentable where RawValue == String {}

extension CaseInsensitiveArgument {
    init?(argument: String) {
        self.init(anyCase: argument)
    }

    /// Matches the exact spelling first, then any case.
    init?(anyCase argument: String) {
        if let exact = Self(rawValue: argument) {
            self = exact
            return
        }
        let lowered = argument.lowercased()
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else { return nil }
        self = match
    }
}
