import Foundation
import Testing

/// Whether the kernel-facing tests run here.
///
/// They need root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces. As an unprivileged user they are
/// skipped with a message; with `PORTWARDEN_REQUIRE_NETNS=1` (CI) they always run, so a missing privilege fails
/// instead of skipping silently.
enum NetnsGate {
    static let required = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_REQUIRE_NETNS"] == "1"
    static let privileged = geteuid() == 0
    static let enabled = required || privileged
    static let reason: Comment = "needs root to create network namespaces (run as root, or set PORTWARDEN_REQUIRE_NETNS=1 to fail instead of skip)"
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutData: Data
}

enum ShellError: Error, CustomStringConvertible {
    case failed(command: [String], status: Int32, stderr: String)
    case cannotStart(command: [String], reason: String)
    var description: String {
        switch self {
        case .failed(let c, let s, let e): "command \(c.joined(separator: " ")) exited \(s): \(e)"
        case .cannotStart(let c, let r): "cannot start \(c.joined(separator: " ")): \(r)"
        }
    }
}

/// Runs a command to completion, capturing its output. Looks the program up on PATH (plus the sbin dirs).
@discardableResult
func run(_ command: [String], input: Data? = nil, environment: [String: String]? = nil, check: Bool = true) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    var env = environment ?? Foundation.ProcessInfo.processInfo.environment
    env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"
    process.environment = env
    let out = Pipe(), err = Pipe(), inp = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inp
    do { try process.run() } catch { throw ShellError.cannotStart(command: command, reason: "\(error)") }
    if let input { inp.fileHandleForWriting.write(input) }
    try? inp.fileHandleForWriting.close()
    // Read both pipes concurrently so a large stderr cannot block a large stdout.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let result = CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errBox.data, as: UTF8.self), stdoutData: outData)
    if check && result.status != 0 { throw ShellError.failed(command: command, status: result.status, stderr: result.stderr) }
    return result
}

/// A network namespace created for one test, named `pwt-<tag>-<pid>-<n>`, deleted (with every process started in
/// it) when the test ends, whether it passed or not. Nothing outside it is touched.
final class TestNamespace {
    let name: String
    private var background: [Process] = []
    private static let counter = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
    }

    init(_ tag: String) throws {
        name = "pwt-\(tag)-\(getpid())-\(TestNamespace.counter.next())"
        try run(["ip", "netns", "add", name])
        do {
            try exec(["ip", "link", "set", "lo", "up"])
            // Closed UDP ports answer with ICMP; rate limits would make those answers vanish in tests.
            try exec(["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"])
        } catch {
            cleanup()
            throw error
        }
    }

    deinit { cleanup() }

    /// Runs a command inside the namespace.
    @discardableResult
    func exec(_ command: [String], input: Data? = nil, check: Bool = true) throws -> CommandResult {
        try run(["ip", "netns", "exec", name] + command, input: input, check: check)
    }

    /// Loads an nft ruleset into the namespace.
    func nft(_ ruleset: String) throws {
        try exec(["nft", "-f", "-"], input: Data(ruleset.utf8))
    }

    /// Starts a long-running command inside the namespace; it is killed at cleanup.
    @discardableResult
    func spawn(_ command: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", name] + command
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        background.append(process)
        return process
    }

    /// Adds a veth pair with both ends in `self` and `peer` (or both here when `peer` is nil).
    func veth(_ local: String, _ remote: String, peer: TestNamespace?) throws {
        try exec(["ip", "link", "add", local, "type", "veth", "peer", "name", remote])
        if let peer { try exec(["ip", "link", "set", remote, "netns", peer.name]) }
        try exec(["ip", "link", "set", local, "up"])
        if let peer { try peer.exec(["ip", "link", "set", remote, "up"]) } else { try exec(["ip", "link", "set", remote, "up"]) }
    }

    func cleanup() {
        for p in background where p.isRunning { p.terminate() }
        // Kill anything else still running inside (e.g. children of a holder).
        if let pids = try? run(["ip", "netns", "pids", name], check: false).stdout {
            for pid in pids.split(whereSeparator: \.isNewline) { if let p = Int32(pid) { kill(p, SIGKILL) } }
        }
        for p in background { p.waitUntilExit() }
        background.removeAll()
        _ = try? run(["ip", "netns", "del", name], check: false)
    }
}

/// The `portwarden` executable built beside the test bundle (or `PORTWARDEN_BIN`).
var portwardenBinary: String {
    if let explicit = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_BIN"] { return explicit }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // The test runner lives in <build>/debug/portwardenPackageTests.xctest or a bundle inside it.
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("portwarden").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return ".build/debug/portwarden"
}
