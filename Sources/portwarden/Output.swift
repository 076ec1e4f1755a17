#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import ArgumentParser
import Foundation

/// A failed write(2) while streaming output.
struct WriteFailure: Error {
    let errno: Int32

    /// The producer gave up (its input was bad): a file being written is discarded and the earlier one kept; the
    /// producer reports why itself.
    static let abandoned = WriteFailure(errno: 0)
}

/// Streams what `produce` hands over in chunks to `path`, or to stdout without one. A regular file is written beside
/// its final name (`FILE.tmp-<pid>`) and renamed into place when complete, so a failed run never leaves an earlier
/// file truncated; special files (`/dev/stdout`, FIFOs) are written directly. A failure names the system error and
/// exits with `invalidInput`; `what` names the output when there is no path.
func writeOutput(
    to path: String?, what: String,
    _ produce: ((UnsafeBufferPointer<UInt8>) throws(WriteFailure) -> Void) throws(WriteFailure) -> Void
) throws {
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
        try produce { (chunk) throws(WriteFailure) in
            var rest = chunk
            while !rest.isEmpty {
                let n = writeBytes(fd, rest.baseAddress, rest.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WriteFailure(errno: errno)
                }
                if n == 0 { throw WriteFailure(errno: EIO) }  // no progress: stop rather than spin
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
    if let failed, failed != 0 {
        throw CommandFailure(
            status: .invalidInput,
            message: "cannot write \(path ?? "\(what) to stdout"): \(String(cString: strerror(failed)))")
    }
}

/// Writes `text` to `--output` or stdout.
func emit(_ text: String, to path: String?) throws {
    try emit(Data(text.utf8), to: path)
}

/// Writes `data` to `--output` or stdout (large snapshots skip a String round trip).
func emit(_ data: Data, to path: String?) throws {
    try writeOutput(to: path, what: "the output") { (sink) throws(WriteFailure) in
        var failure: WriteFailure?
        data.withUnsafeBytes { raw in
            do throws(WriteFailure) {
                try sink(raw.bindMemory(to: UInt8.self))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }
}

/// write(2), named apart from the commands' own `write` methods.
private func writeBytes(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(fd, bytes, count)
    #else
        Musl.write(fd, bytes, count)
    #endif
}

/// `--output FILE` for the host views (listeners, exposure, trace), spelled and written as audit's is:
/// the file is replaced atomically, never followed through a symlink, and kept as it was when the run fails.
struct OutputFile: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write the output to this file instead of stdout.", valueName: "file"))
    var output: String?
}
