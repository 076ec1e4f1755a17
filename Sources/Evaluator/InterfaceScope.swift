/// The interfaces new connections are accepted on, as people say them: "every interface", "every interface except
/// eth1", "eth0 and eth1". The evaluator also asks about interfaces the snapshot does not have (one created later, a
/// tunnel that is down): internally that stand-in is named `(any other)`; no report shows that name.
public struct InterfaceScope: Sendable, Equatable, Hashable {
    /// The evaluator's name for every interface the snapshot and the rules do not name.
    package static let standIn = "(any other)"

    /// Named interfaces reached (real ones, and names a rule mentions that do not exist), sorted.
    public var named: [String]
    /// Also reached on every interface not named in the snapshot or the rules.
    public var others: Bool
    /// When `others`: the named interfaces that are not reached.
    public var except: [String]

    /// `reached` may hold the stand-in; `asked` is every interface the question covered (loopback left out).
    public init(reached: [String], asked: [String]) {
        let split = InterfaceScope.split(reached)
        named = split.named.filter { $0 != "lo" }.sorted()
        others = split.others
        except = others ? Array(Set(InterfaceScope.split(asked).named.filter { $0 != "lo" }).subtracting(named)).sorted() : []
    }

    /// `list` without the stand-in (in its order), and whether it held it: how interface lists are written in JSON.
    public static func split(_ list: [String]) -> (named: [String], others: Bool) {
        (list.filter { !isStandIn($0) }, list.contains(where: isStandIn))
    }

    /// "every interface", "every interface except eth1 and wg0", "eth0", "eth0, eth1 and eth2"; "no interface" when empty.
    public var text: String {
        if others { return except.isEmpty ? "every interface" : "every interface except \(InterfaceScope.list(except))" }
        return named.isEmpty ? "no interface" : InterfaceScope.list(named)
    }

    /// Whether `name` is the evaluator's stand-in for every interface the snapshot and the rules do not name.
    public static func isStandIn(_ name: String) -> Bool { name.hasPrefix("(") && name.hasSuffix(")") }

    /// "a", "a and b", "a, b and c".
    public static func list(_ items: [String]) -> String {
        guard let last = items.last else { return "" }
        return items.count == 1 ? last : items.dropLast().joined(separator: ", ") + " and " + last
    }
}

extension ListenerExposure {
    /// Where some remote source is accepted or conditional, in words.
    public var interfaceScope: InterfaceScope {
        InterfaceScope(reached: interfaces, asked: regions.map(\.interface))
    }
}

extension ForwardedPort {
    /// Where the published port is reached, in words.
    public var interfaceScope: InterfaceScope {
        InterfaceScope(reached: interfaces, asked: regions.map(\.interface))
    }
}
