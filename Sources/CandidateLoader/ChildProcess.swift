import Foundation
import Glibc

/// A program run to completion with its output captured: posix_spawn + poll + waitpid rather than Foundation's
/// `Process`, whose child reaping did not survive `unshare` in the loader.
public enum ChildProcess {
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that ended the child.
        public var status: Int32
        public var out: Data
        public var err: String
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// Runs `exe` with `args` (in `cwd` when given, through `env -C`), feeding it `input`. `PATH` gains the sbin
    /// directories, where `ip` and `nft` live.
    public static func run(_ exe: String, _ args: [String], cwd: String? = nil, input: Data? = nil) throws(SpawnError) -> Result {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, pipe(&inPipe) == 0 else { throw SpawnError(reason: String(cString: strerror(errno))) }
        var argv = [exe] + args
        if let cwd { argv = ["/usr/bin/env", "-C", cwd] + (exe == "/usr/bin/env" ? args : [exe] + args) }
        let spawned = spawn(argv, stdin: inPipe, stdout: outPipe, stderr: errPipe)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard case .success(let pid) = spawned else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            if case .failure(let e) = spawned { throw e }
            throw SpawnError(reason: argv[0])
        }
        if let input { writeAll(input, to: inPipe[1]) }
        close(inPipe[1])
        let (out, err) = drain(outPipe[0], errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, spelled out (function-like macros do not import).
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, out: Data(out), err: String(decoding: err, as: UTF8.self))
    }

    static func spawn(_ argv: [String], stdin: [Int32], stdout: [Int32], stderr: [Int32]) -> Swift.Result<pid_t, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdout[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderr[1], 2)
        for fd in stdin + stdout + stderr { posix_spawn_file_actions_addclose(&actions, fd) }
        var env = Foundation.ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin"
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgs + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { return .failure(SpawnError(reason: "\(argv[0]): \(String(cString: strerror(rc)))")) }
        return .success(pid)
    }

    static func writeAll(_ data: Data, to fd: Int32) {
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var off = 0
            while off < raw.count {
                let n = write(fd, base + off, raw.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }

    /// Reads both pipes to their end (polling, so a child filling one pipe never blocks on the other) and closes them.
    static func drain(_ outFD: Int32, _ errFD: Int32) -> (out: [UInt8], err: [UInt8]) {
        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0), pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 65536)
        var open = 2
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buf, buf.count)
                if n > 0 {
                    if i == 0 { out += buf[0..<n] } else { err += buf[0..<n] }
                } else if n == 0 || errno != EINTR {
                    close(fds[i].fd); fds[i].fd = -1; open -= 1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        return (out, err)
    }
}
