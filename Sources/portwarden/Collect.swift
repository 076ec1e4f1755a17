import ArgumentParser
import Foundation
import HostModel
import Serialization
import Collector
import Netlink

/// `portwarden collect`: the live host as a snapshot file, so every other command can run later, elsewhere, without root.
struct Collect: ParsableCommand {
    /// The name is spelled out: ArgumentParser otherwise derives it from the type name at every start (a runtime
    /// type-name lookup that costs a measurable share of a small host's collection).
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Write a snapshot (JSON) of this host: listeners, interfaces, routes, sysctls and the firewall.",
        discussion: """
            Needs CAP_NET_ADMIN to read the nftables ruleset and root with CAP_SYS_PTRACE to name the owners of other \
            users' sockets. Without CAP_NET_ADMIN the command fails (exit 3) unless --allow-partial is given, in which \
            case the firewall is recorded as "unreadable".

            \(ExitStatus.documentation)
            """
    )

    @Option(name: .long, help: ArgumentHelp("Write the snapshot to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(name: .long, help: "Continue with a partial view when the firewall cannot be read (it is reported as unreadable).")
    var allowPartial = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which other network namespaces to read: all (default: every container, pod and named namespace), host (this namespace alone), or names under /run/netns, comma-separated.",
            valueName: "all|host|NAME,…"))
    var netns: NetnsChoice = .init(selection: .all)

    @Option(
        name: .long,
        help:
            "How to dump the rules: per-chain (default; linear in the number of rules) or whole (one dump, as nft does). Both give the same snapshot; for benchmarks."
    )
    var ruleDump: RuleDumpChoice = .perChain

    /// The command-line spelling of `RuleDumpStrategy`.
    enum RuleDumpChoice: String, CaseInsensitiveArgument {
        case perChain = "per-chain", whole
        var strategy: RuleDumpStrategy { self == .whole ? .whole : .perChain }
    }

    func run() throws {
        try exitOnFailure {
            var options = CollectOptions(
                allowPartial: allowPartial, toolVersion: toolVersion, ruleDump: ruleDump.strategy,
                namespaces: netns.selection)
            options.ownerWalkDelayMilliseconds = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_TEST_OWNER_WALK_DELAY_MS"]
                .flatMap { UInt32($0) }
            let snapshot = try Collector.collect(options)
            try write(snapshot, to: output)
            printWarnings(snapshot.warnings)
            keepUntilExit(snapshot)
        }
    }

    /// Streams the snapshot (and a final newline) to `--output` or stdout in 64 KiB chunks: a large snapshot is never
    /// held in memory as a whole beside the model it is written from (see `writeOutput` for how a file is replaced).
    private func write(_ snapshot: Snapshot, to path: String?) throws {
        try writeOutput(to: path, what: "the snapshot") { (sink) throws(WriteFailure) in
            try SnapshotCodec.write(snapshot, terminator: [0x0a], to: sink)
        }
    }
}

/// Leaves `value` to the process's exit, which returns its memory at once: freeing a large model value by value
/// is the last step of a collection otherwise (6% of `collect`'s instructions at the bench's s2 scale).
private func keepUntilExit<T>(_ value: T) {
    _ = Unmanaged.passRetained(KeptUntilExit(value))
}

private final class KeptUntilExit<T> {
    let value: T
    init(_ value: T) { self.value = value }
}
