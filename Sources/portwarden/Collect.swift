import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import HostModel
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

    @Option(name: .long, help: "How to dump the rules: per-chain (default; linear in the number of rules) or whole (one dump, as nft does). Both give the same snapshot; for benchmarks.")
    var ruleDump: RuleDumpChoice = .perChain

    /// The command-line spelling of `RuleDumpStrategy`.
    enum RuleDumpChoice: String, ExpressibleByArgument, CaseIterable {
        case perChain = "per-chain", whole
        var strategy: RuleDumpStrategy { self == .whole ? .whole : .perChain }
    }

    func run() throws {
        try exitOnFailure {
            let snapshot = try Collector.collect(CollectOptions(allowPartial: allowPartial, toolVersion: toolVersion,
                                                                ruleDump: ruleDump.strategy))
            try write(snapshot, to: output)
            printWarnings(snapshot.warnings)
        }
    }

    /// Streams the snapshot (and a final newline) to `--output` or stdout in 64 KiB chunks: a large snapshot is never
    /// held in memory as a whole beside the model it is written from. A regular file is written beside its final
    /// name and renamed into place when complete, so a failed run never leaves a previous snapshot truncated.
    private func write(_ snapshot: Snapshot, to path: String?) throws {
        let fd: Int32
        var staging: String?
        if let path {
            var st = stat()
            let special = stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG
            let target = special ? path : path + ".tmp-\(getpid())"
            fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
            guard fd >= 0 else { throw CommandFailure(status: .invalidInput, message: "cannot write \(path): \(String(cString: strerror(errno)))") }
            if !special { staging = target }
        } else {
            fd = STDOUT_FILENO
        }
        var failed: Int32?
        do {
            try SnapshotCodec.write(snapshot, terminator: [0x0a]) { (chunk) throws(WriteFailure) in
                var rest = chunk
                while !rest.isEmpty {
                    let n = writeBytes(fd, rest.baseAddress, rest.count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw WriteFailure(errno: errno)
                    }
                    if n == 0 { throw WriteFailure(errno: EIO) }   // no progress: stop rather than spin
                    rest = UnsafeBufferPointer(rebasing: rest[n...])
                }
            }
        } catch {
            failed = error.errno
        }
        if path != nil, close(fd) != 0, failed == nil { failed = errno }
        if let staging, let path {
            if failed == nil, rename(staging, path) != 0 { failed = errno }
            if failed != nil { unlink(staging) }
        }
        if let failed {
            throw CommandFailure(status: .invalidInput,
                                 message: "cannot write \(path ?? "the snapshot to stdout"): \(String(cString: strerror(failed)))")
        }
    }
}

/// A failed write(2) while streaming the snapshot.
private struct WriteFailure: Error {
    let errno: Int32
}

/// write(2), named apart from the command's own `write`.
private func writeBytes(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Musl.write(fd, bytes, count)
    #endif
}
