import Foundation
import Glibc

/// Why a file named on the command line (or included by one) was not read.
public enum BoundedFileError: Error, Equatable, CustomStringConvertible {
    /// open/fstat/read failed; `reason` is strerror's text.
    case system(reason: String)
    /// A FIFO, device, socket or directory: reading it could block forever or never end.
    case notRegular(kind: String)
    /// Larger than the limit for this kind of file.
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .system(let reason): reason
        case .notRegular(let kind): "not a regular file (it is \(kind))"
        case .tooLarge(let bytes, let limit): "the file is \(bytes) bytes, more than the limit of \(limit) bytes"
        }
    }
}

/// Reads whole files that users point portwarden at, without blocking on a FIFO and without reading a device like
/// `/dev/zero` forever: opened non-blocking, checked to be a regular file, and read up to a limit only.
public enum BoundedFile {
    /// The contents of the regular file at `path` (symlinks followed), at most `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(BoundedFileError) -> Data {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .system(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(reason: String(cString: strerror(errno))) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else { throw .notRegular(kind: kind(type)) }
        guard Int(st.st_size) <= limit else { throw .tooLarge(bytes: Int(st.st_size), limit: limit) }
        // The size may change while reading (a file being written): read to EOF, but never past the limit.
        var data = Data(count: Int(st.st_size) + 1)
        var total = 0
        while true {
            if total == data.count {
                guard total <= limit else { throw .tooLarge(bytes: total, limit: limit) }
                data.count = min(max(data.count * 2, 65536), limit + 1)
            }
            let want = data.count - total
            let n = data.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress.map { $0 + total }, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            total += n
        }
        guard total <= limit else { throw .tooLarge(bytes: total, limit: limit) }
        data.count = total
        return data
    }

    /// Standard input up to its end (a pipe or a redirected file), at most `limit` bytes: `--snapshot -`.
    public static func readStandardInput(limit: Int) throws(BoundedFileError) -> Data {
        try readStream(fd: 0, limit: limit)
    }

    /// A file that may be a stream (a FIFO, `<(command)`): read to its end like standard input, at most `limit`
    /// bytes, so a device such as `/dev/zero` ends with "too large" instead of filling memory. Directories and
    /// sockets are refused.
    public static func readStreamOrFile(_ path: String, limit: Int) throws(BoundedFileError) -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(reason: String(cString: strerror(errno))) }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFIFO || type == S_IFCHR else { throw .notRegular(kind: kind(type)) }
        if type == S_IFREG, Int(st.st_size) > limit { throw .tooLarge(bytes: Int(st.st_size), limit: limit) }
        return try readStream(fd: fd, limit: limit)
    }

    private static func readStream(fd: Int32, limit: Int) throws(BoundedFileError) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(reason: String(cString: strerror(errno)))
            }
            if n == 0 { return data }
            data.append(contentsOf: buffer[0..<n])
            guard data.count <= limit else { throw .tooLarge(bytes: data.count, limit: limit) }
        }
    }

    static func kind(_ type: mode_t) -> String {
        switch type {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }
}
